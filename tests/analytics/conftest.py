"""Analytics fixtures: the session's simulated operator and its labelled window, read once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnguard.analytics import Window, data_window, labelled_frame
from churnguard.config import Settings, load_settings
from tests.support.operator import AS_OF


@pytest.fixture(scope="session")
def warned_settings(warned_ws: Path) -> Settings:
    """Settings of the shared warned workspace (read only: copy it before writing)."""
    return load_settings(warned_ws)


@pytest.fixture(scope="session")
def window(warned_settings: Settings) -> Window:
    return data_window(warned_settings, as_of=AS_OF)


@pytest.fixture(scope="session")
def labelled(warned_settings: Settings, window: Window) -> pd.DataFrame:
    """The labelled snapshot rows of the window (6 months up to AS_OF)."""
    return labelled_frame(warned_settings, window)
