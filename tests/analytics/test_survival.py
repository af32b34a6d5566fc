"""Survival: Kaplan–Meier curves and log-rank tests, checked against lifelines called directly."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from churnguard.analytics.population import duck
from churnguard.analytics.survival import survival_analysis, survival_from
from churnguard.config import Settings
from churnguard.errors import StateError


def test_survival_from_a_tiny_frame() -> None:
    frame = pd.DataFrame(
        {
            "duration": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "event": [True, True, True, False, True, False],
            "customer_type": ["group"] * 3 + ["individual"] * 3,
        }
    )
    result = survival_from(frame, dimensions=("customer_type",), points=7)
    dim = result.dimensions[0]
    group = next(c for c in dim.curves if c.group == "group")
    assert group.label_zh == "集团客户" and group.events == 3 and group.survival_at_end == 0.0
    ind = next(c for c in dim.curves if c.group == "individual")
    direct = KaplanMeierFitter().fit([4.0, 5.0, 6.0], [False, True, False])
    assert ind.survival_at_end == pytest.approx(
        float(direct.survival_function_at_times(6.0).iloc[0])
    )
    test = multivariate_logrank_test(frame["duration"], frame["customer_type"], frame["event"])
    assert dim.logrank_p == pytest.approx(test.p_value)
    assert dim.degrees_of_freedom == 1
    with pytest.raises(StateError, match="no customers"):
        survival_from(frame.iloc[:0])


def test_log_rank_on_the_simulated_operator_matches_lifelines(warned_settings: Settings) -> None:
    result = survival_analysis(warned_settings, as_of="2024-09")
    assert (result.start, result.end) == ("2024-01", "2024-09")
    # the same follow-up built independently from the subscribers table with pandas
    with duck(warned_settings) as con:
        subs = con.execute(
            "SELECT customer_type, activation_date, churn_date, churn_reason FROM subscribers"
        ).df()
    start, end = pd.Timestamp(date(2024, 1, 1)), pd.Timestamp(date(2024, 10, 1))
    subs = subs[(subs["activation_date"] < end) & ~(subs["churn_date"] < start)]
    entry = subs["activation_date"].where(subs["activation_date"] > start, start)
    churned = subs["churn_date"] < end
    stop = subs["churn_date"].where(churned, end)
    voluntary = subs["churn_reason"].isin(warned_settings.labels.voluntary_reasons)
    keep = stop > entry
    duration = ((stop - entry).dt.days / 30.4375)[keep].to_numpy()
    event = (churned & voluntary)[keep].to_numpy()
    groups = subs.loc[keep, "customer_type"].to_numpy()
    assert result.customers == len(duration) and result.events == int(event.sum())
    direct = multivariate_logrank_test(duration, groups, event)
    seg = next(d for d in result.dimensions if d.dimension == "customer_type")
    assert seg.logrank_p == pytest.approx(direct.p_value, rel=1e-9)
    assert seg.logrank_statistic == pytest.approx(direct.test_statistic, rel=1e-9)
    # every dimension has curves that start at 1 and never rise
    for dim in result.dimensions:
        assert dim.curves and dim.title_zh and dim.title_en
        for c in dim.curves:
            assert c.survival[0] == 1.0 and np.all(np.diff(c.survival) <= 1e-12)
    plans = next(d for d in result.dimensions if d.dimension == "plan_id")
    assert len(plans.curves) <= 6 and any(c.group == "other" for c in plans.curves)
    tenure = next(d for d in result.dimensions if d.dimension == "tenure_band")
    assert [c.group for c in tenure.curves] == ["0-6", "7-12", "13-24", "25-48", "49+"]
