"""Churn timing: peaks, seasonality, tenure and contract bands."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from churnguard.analytics.population import Window
from churnguard.analytics.timing import (
    contract_band,
    flag_peaks,
    monthly_rates,
    seasonal_months,
    tenure_band,
    timing_from,
)
from churnguard.months import add_months


def test_a_spike_is_a_peak_and_a_flat_series_has_none() -> None:
    assert flag_peaks([0.02, 0.021, 0.05, 0.02, 0.019]) == [False, False, True, False, False]
    assert flag_peaks([0.02] * 6) == [False] * 6
    # not a peak when a neighbour is higher (the top of a plateau is the local maximum)
    assert flag_peaks([0.01, 0.01, 0.04, 0.05, 0.01, 0.01]) == [
        False, False, False, True, False, False,
    ]  # fmt: skip
    assert flag_peaks([None, 0.01, 0.09, 0.01]) == [False, False, True, False]
    assert flag_peaks([0.1, 0.2]) == [False, False]  # too short to tell


def test_seasonality_needs_two_years_and_a_repeated_peak() -> None:
    months = [add_months(date(2022, 1, 1), i) for i in range(24)]
    rates = [0.02] * 24
    rates[6] = rates[18] = 0.06  # July in both years
    rates[2] = 0.06  # March once
    peaks = flag_peaks(rates)
    assert seasonal_months(months, peaks) == [7]
    assert seasonal_months(months[:12], peaks[:12]) is None


def test_bands() -> None:
    assert tenure_band(pd.Series([0, 6, 7, 24, 25, 100, None])).tolist() == [
        "0-6", "0-6", "7-12", "13-24", "25-48", "49+", pd.NA,
    ]  # fmt: skip
    bands = contract_band(
        pd.Series([None, -2.0, 0.0, 1.0, 3.0, 12.0, 30.0, None]),
        pd.Series([None, 2.0, 0, 0, 0, 0, 0, 5.0]),
    )
    assert bands.tolist() == ["none", "expired", "0-1", "0-1", "2-3", "4-12", "13+", "expired"]


def test_timing_from_rates_and_frame() -> None:
    rows = [
        {"as_of": f"2024-0{m}", "by": "all", "segment": "all", "base": 100, "churn_rate": r}
        for m, r in zip(range(1, 7), [0.02, 0.02, 0.08, 0.02, 0.02, 0.02], strict=True)
    ]
    window = Window(as_of=date(2024, 7, 1), months=(date(2024, 4, 1), date(2024, 5, 1)), data=())
    frame = pd.DataFrame(
        {
            "label": [1, 0, 0, 1, 0],
            "tenure_months": [2, 3, 30, 30, 60],
            "months_to_contract_end": [0, None, 5, 5, 20],
            "months_out_of_contract": [0, 0, 0, 0, 0],
        }
    )
    result = timing_from(frame, rows, window=window)
    # rows after the newest labelled month of the window are left out
    assert [r.as_of for r in result.by_month] == [
        "2024-01",
        "2024-02",
        "2024-03",
        "2024-04",
        "2024-05",
    ]
    assert result.peaks == ["2024-03"] and result.seasonal is None
    assert result.notes and "2" in result.notes[0].zh and "years" in result.notes[0].en
    tenure = {r.band: r for r in result.by_tenure}
    assert (tenure["0-6"].customers, tenure["0-6"].churners) == (2, 1)
    assert tenure["0-6"].churn_rate == pytest.approx(0.5)
    assert tenure["7-12"].churn_rate is None
    contract = {r.band: r for r in result.by_contract}
    assert contract["4-12"].churners == 1 and contract["0-1"].churn_rate == 1.0


def test_monthly_rates_flag_peaks_per_segment() -> None:
    rows = [
        {"as_of": f"2024-0{m}", "by": "service_type", "segment": seg, "base": 10, "churn_rate": r}
        for seg, rs in (("tv", [0.1, 0.1, 0.5, 0.1]), ("mobile", [0.1, 0.1, 0.1, 0.1]))
        for m, r in zip(range(1, 5), rs, strict=True)
    ]
    out = monthly_rates(rows, up_to=date(2024, 4, 1))
    assert [(r.segment, r.as_of) for r in out if r.peak] == [("tv", "2024-03")]
