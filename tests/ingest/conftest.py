"""Fixtures of the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .batches import SUBSCRIBERS, USAGE, batch


@pytest.fixture
def clean_batch(tmp_path: Path) -> Path:
    """A clean two-table batch."""
    return batch(tmp_path / "clean", subscribers=SUBSCRIBERS, usage=USAGE)
