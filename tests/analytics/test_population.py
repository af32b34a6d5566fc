"""The analysis window: labelled months up to the as-of month, errors for bad months."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from churnguard.analytics import Window, data_window
from churnguard.config import Settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.features.labels import label_lag_months


def test_window_holds_only_months_whose_labels_are_known_at_the_as_of_month(
    warned_settings: Settings, window: Window
) -> None:
    lag = label_lag_months(warned_settings.labels)
    assert window.as_of == date(2024, 9, 1)
    # labels of M need `lag` months after it: at 2024-09 the newest known month is 2024-07
    assert lag == 2 and window.months[-1] == date(2024, 7, 1)
    assert len(window.months) == 6 and window.months[0] == date(2024, 2, 1)
    assert window.data[0] == date(2024, 1, 1) and window.data[-1] == date(2024, 11, 1)
    assert window.label == "2024-02..2024-07"


def test_labelled_frame_has_labels_and_profile(labelled: pd.DataFrame, window: Window) -> None:
    assert set(labelled["as_of"]) == set(window.months)
    assert {"label", "plan_id", "group_id", "churn_reason"} <= set(labelled.columns)
    assert set(labelled["label"].unique()) == {0, 1}
    # one row per subscriber and month
    assert not labelled.duplicated(["subscriber_id", "as_of"]).any()


def test_bad_months_say_what_to_do(warned_settings: Settings, tmp_path: object) -> None:
    with pytest.raises(InputError, match=r"no data for 2030-01.*2024-01\.\.2024-11"):
        data_window(warned_settings, as_of="2030-01")
    with pytest.raises(InputError, match=r"not a month|YYYY-MM"):
        data_window(warned_settings, as_of="September")
    with pytest.raises(InputError, match="at least 1"):
        data_window(warned_settings, as_of="2024-09", months=0)
    # the first month has no labels yet: analyses that need them say so
    from churnguard.analytics.population import require_labels

    first = data_window(warned_settings, as_of="2024-01")
    assert first.months == ()
    with pytest.raises(StateError, match="known churn labels"):
        require_labels(first)


def test_an_empty_workspace_is_not_found(workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match="ingest"):
        data_window(workspace, as_of="2024-09")
