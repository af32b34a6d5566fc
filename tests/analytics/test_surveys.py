"""Surveys: NPS arithmetic, CSAT by segment, churn by NPS group."""

from __future__ import annotations

import pandas as pd
import pytest

from churnguard.analytics.population import Window
from churnguard.analytics.surveys import nps, nps_group, survey_answers, surveys_from
from churnguard.config import Settings


def test_nps_by_hand() -> None:
    scores = pd.Series([10, 9, 8, 7, 6, 0, None])
    # 2 promoters, 2 detractors of 6 answers
    assert nps(scores) == pytest.approx(0.0)
    assert nps(pd.Series([10, 10, 3])) == pytest.approx(100 * (2 / 3 - 1 / 3))
    assert nps(pd.Series([], dtype=float)) is None
    assert nps_group(scores).tolist() == [
        "promoter", "promoter", "passive", "passive", "detractor", "detractor", pd.NA,
    ]  # fmt: skip


def test_surveys_from_a_tiny_frame() -> None:
    answers = pd.DataFrame(
        {
            "csat": [5, 4, 1, 2],
            "nps": [10, 9, 2, 5],
            "label": [0, 0, 1, None],
            "service_type": ["mobile", "mobile", "tv", "tv"],
        }
    )
    result = surveys_from(answers)
    assert result.responses == 4 and result.matched == 3
    assert result.nps == pytest.approx(0.0) and result.csat_mean == pytest.approx(3.0)
    seg = {r["segment"]: r for r in result.by_segment}
    assert seg["tv"]["zh"] == "有线电视" and seg["tv"]["churn_rate"] == 1.0
    assert seg["mobile"]["nps"] == pytest.approx(100.0)
    nps_rates = {r["group"]: r for r in result.churn_by_nps}
    assert (
        nps_rates["detractor"]["churn_rate"] == 1.0 and nps_rates["promoter"]["churn_rate"] == 0.0
    )
    assert result.detractor_vs_promoter is None  # promoters never churned: no ratio
    assert [r["csat"] for r in result.churn_by_csat] == [1, 4, 5]


def test_unhappy_customers_churn_more_on_the_simulated_operator(
    warned_settings: Settings, window: Window, labelled: pd.DataFrame
) -> None:
    answers = survey_answers(warned_settings, window, labelled)
    # every answer lies in the window's months
    assert set(answers["as_of"]) <= set(window.months)
    result = surveys_from(answers)
    assert result.responses > 500 and result.matched <= result.responses
    rates = {r["group"]: r["churn_rate"] for r in result.churn_by_nps}
    assert rates["detractor"] > rates["promoter"]
    assert result.detractor_vs_promoter is not None and result.detractor_vs_promoter > 1
