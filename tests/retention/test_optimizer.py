from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from churnguard.errors import InputError
from churnguard.retention.optimizer import solve_plan


def _actions(n_cust: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_cust):
        for offer, channel in [("discount", "sms"), ("gift", "sms"), ("call", "phone")]:
            rows.append(
                (f"c{i}", offer, channel, float(rng.normal(10, 8)), float(rng.uniform(1, 10)))
            )
    return pd.DataFrame(rows, columns=["subscriber_id", "offer", "channel", "value", "cost"])


def _brute_force(actions: pd.DataFrame, budget: float, caps: dict[str, int]) -> float:
    """Best value over every way to give each customer one action or none."""
    value = actions["value"].to_numpy()
    cost = actions["cost"].to_numpy()
    channel = actions["channel"].to_numpy()
    per_cust = [[*g.index, -1] for _, g in actions.groupby("subscriber_id")]
    best = 0.0
    for combo in itertools.product(*per_cust):
        idx = np.array([c for c in combo if c >= 0], dtype=int)
        if cost[idx].sum() > budget + 1e-9:
            continue
        if any((channel[idx] == ch).sum() > cap for ch, cap in caps.items()):
            continue
        best = max(best, float(value[idx].sum()))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_matches_brute_force_on_small_instances(seed: int) -> None:
    actions = _actions(6, seed)
    caps = {"phone": 2}
    plan = solve_plan(actions, budget=20.0, channel_capacity=caps)
    assert plan.objective == pytest.approx(_brute_force(actions, 20.0, caps), abs=1e-6)
    assert plan.budget_used <= 20.0 + 1e-9
    assert plan.chosen["subscriber_id"].is_unique
    assert (plan.chosen["channel"] == "phone").sum() <= 2
    assert plan.gap == pytest.approx(0.0, abs=1e-6)


def test_large_instance_respects_all_constraints() -> None:
    actions = _actions(2000, 9)
    plan = solve_plan(actions, budget=2000.0, channel_capacity={"phone": 120, "sms": 800})
    c = plan.chosen
    assert c["subscriber_id"].is_unique
    assert plan.budget_used <= 2000.0 + 1e-6
    assert (c["channel"] == "phone").sum() <= 120
    assert (c["channel"] == "sms").sum() <= 800
    assert plan.gap < 1e-4
    # never a loss-making action
    assert (c["value"] > 0).all()


def test_no_positive_action_gives_an_empty_plan() -> None:
    actions = pd.DataFrame(
        {"subscriber_id": ["a"], "channel": ["sms"], "value": [-1.0], "cost": [1.0]}
    )
    plan = solve_plan(actions, budget=10)
    assert plan.chosen.empty and plan.objective == 0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(InputError, match="lacks columns"):
        solve_plan(pd.DataFrame({"subscriber_id": ["a"]}), budget=1)
    with pytest.raises(InputError, match="budget"):
        solve_plan(_actions(1, 0), budget=-1)
