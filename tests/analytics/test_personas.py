"""Churner personas: clusters with readable bilingual profiles."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from churnguard.analytics.personas import people_of, personas_from
from churnguard.analytics.population import high_risk_frame
from churnguard.config import Settings
from churnguard.errors import StateError


def two_kinds(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    half = n // 2
    return pd.DataFrame(
        {
            "subscriber_id": [f"S{i}" for i in range(n)],
            "service_type": ["mobile"] * half + ["broadband"] * half,
            "kind": ["churner"] * n,
            # first half: many network complaints; second half: arrears
            "complaints_network_6m": np.r_[rng.integers(3, 6, half), np.zeros(half)],
            "arrears_months_6m": np.r_[np.zeros(half), rng.integers(3, 6, half)],
            "tenure_months": rng.integers(10, 40, n).astype(float),
            "arpu_3m": rng.normal(80, 5, n),
        }
    )


def test_two_obvious_groups_are_found_and_described() -> None:
    people = two_kinds()
    base = people.assign(complaints_network_6m=0.5, arrears_months_6m=0.5)
    base = pd.concat([base, people], ignore_index=True)
    result = personas_from(people, base, ks=(2, 3))
    assert result.k == 2 and result.customers == 60
    assert sorted(p.customers for p in result.personas) == [30, 30]
    by_service = {p.main_service: p for p in result.personas}
    net = by_service["mobile"]
    assert net.traits[0].feature in ("complaints_network_6m", "arrears_months_6m")
    assert {t.feature for t in net.traits[:2]} == {"complaints_network_6m", "arrears_months_6m"}
    assert net.name_zh.startswith("移动") and net.name_en.startswith("mobile")
    assert "30 名客户" in net.profile_zh and "30 customers" in net.profile_en
    assert "偏高" in net.profile_zh and "high" in net.profile_en


def test_too_few_customers_is_a_state_error() -> None:
    people = two_kinds(10)
    with pytest.raises(StateError, match="too few"):
        personas_from(people, people)


def test_people_are_churners_first_then_high_risk_once() -> None:
    labelled = pd.DataFrame({"subscriber_id": ["a", "a", "b", "c"], "label": [1, 1, 0, 1]})
    risky = pd.DataFrame({"subscriber_id": ["a", "d"]})
    people = people_of(labelled, risky)
    assert people[["subscriber_id", "kind"]].values.tolist() == [
        ["a", "churner"], ["c", "churner"], ["d", "high_risk"],
    ]  # fmt: skip


def test_personas_of_the_simulated_operator(
    warned_settings: Settings, labelled: pd.DataFrame
) -> None:
    risky = high_risk_frame(warned_settings, as_of=date(2024, 9, 1), min_probability=0.15)
    assert len(risky) and (risky["churn_probability"] >= 0.15).all()
    people = people_of(labelled, risky)
    assert people["subscriber_id"].is_unique
    result = personas_from(people, labelled)
    assert 3 <= result.k <= 6 and sum(p.customers for p in result.personas) == result.customers
    assert sum(p.churners for p in result.personas) > 0
    for p in result.personas:
        assert p.profile_zh and p.profile_en and len(p.traits) == 3
        assert any("\u4e00" <= ch <= "\u9fff" for ch in p.profile_zh)
