from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from churnguard.config.warnings import LevelSettings, QueueRoute
from churnguard.warnings.deadlines import deadlines
from churnguard.warnings.levels import assign_levels, thresholds_for
from churnguard.warnings.triage import churn_type, next_step, route

DAYS = {"red": 1, "orange": 3, "yellow": 5}


def test_precision_mode_reaches_each_target() -> None:
    rng = np.random.default_rng(0)
    p = pd.Series(rng.beta(0.6, 6, size=20000))
    s = LevelSettings(precision_red=0.5, precision_orange=0.3, precision_yellow=0.15)
    th = thresholds_for(p, settings=s, deadline_days=DAYS)
    assert th.red >= th.orange >= th.yellow
    for cut, target in ((th.red, 0.5), (th.orange, 0.3), (th.yellow, 0.15)):
        chosen = p[p >= cut]
        assert len(chosen) > 0
        assert chosen.mean() >= target
        # the level is as large as it can be: one more customer would break the target
        nxt = p[p < cut].max()
        assert (chosen.sum() + nxt) / (len(chosen) + 1) < target + 1e-9


def test_precision_mode_with_unreachable_target_leaves_level_empty() -> None:
    p = pd.Series([0.1, 0.05, 0.2])
    th = thresholds_for(p, settings=LevelSettings(), deadline_days=DAYS)
    assert th.red == float("inf")
    # yellow (0.15): {0.2, 0.1} has mean 0.15 exactly; adding 0.05 would fall short
    assert assign_levels(p, th).tolist() == ["yellow", None, "yellow"]


def test_capacity_mode_fills_levels_in_order() -> None:
    p = pd.Series(np.linspace(0.99, 0.01, 100))
    s = LevelSettings(mode="capacity", capacity_red=5, capacity_orange=5, capacity_yellow=2)
    th = thresholds_for(p, settings=s, deadline_days={"red": 1, "orange": 2, "yellow": 5})
    levels = assign_levels(p, th)
    assert (levels == "red").sum() == 5
    assert (levels == "orange").sum() == 10
    assert (levels == "yellow").sum() == 10
    assert levels.iloc[-1] is None


def test_deadlines_skip_weekends_and_holidays() -> None:
    levels = pd.Series(["red", "orange", "yellow"])
    # Friday 2025-05-30; Monday 2 June is declared a holiday
    due = deadlines(levels, start=date(2025, 5, 30), working_days=DAYS, holidays=[date(2025, 6, 2)])
    assert due.tolist() == [date(2025, 6, 3), date(2025, 6, 5), date(2025, 6, 9)]


def test_churn_type_next_step_and_routing() -> None:
    frame = pd.DataFrame(
        {
            "top_category": [
                "price_competitor",
                "network_quality",
                "usage_decline",
                "payment_difficulty",
            ],
            "passive": [False, False, False, True],
            "value_tier": ["high", "low", "low", "high"],
            "customer_type": ["individual", "group", "individual", "individual"],
            "level": ["orange", "red", "yellow", "red"],
        }
    )
    frame["churn_type"] = churn_type(frame["top_category"], passive=frame["passive"])
    assert frame["churn_type"].tolist() == ["competitor", "service", "natural", "passive"]
    assert next_step(frame["churn_type"], lang="zh").iloc[3].startswith("欠费提醒")
    routes = (
        QueueRoute(queue="collections", churn_type=("passive",)),
        QueueRoute(queue="key_accounts", value_tier=("high",)),
        QueueRoute(queue="group_accounts", customer_type=("group",)),
        QueueRoute(queue="outbound_red", level=("red",)),
    )
    q = route(frame, routes=routes, default="care_team")
    assert q.tolist() == ["key_accounts", "group_accounts", "care_team", "collections"]


@pytest.mark.parametrize("bad", [{"precision_red": 0.2, "precision_orange": 0.3}])
def test_level_settings_must_be_ordered(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="precision targets"):
        LevelSettings(**bad)
