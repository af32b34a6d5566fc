"""Churn timing: churn rate by month, by tenure and around contract end, with peaks flagged.

A month is a *peak* when its rate is a local maximum and stands clearly above
the series' median: above ``median + max(2 × 1.4826 × MAD, 25 % of the median)``.
*Seasonality* needs two years: a calendar month that peaks in two different
years is seasonal; with less history the result says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .population import DEFAULT_MONTHS, Window, data_window, labelled_frame
from .texts import Bi

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "CONTRACT_BANDS",
    "TENURE_BANDS",
    "MonthRate",
    "RateRow",
    "TimingResult",
    "churn_timing",
    "contract_band",
    "flag_peaks",
    "seasonal_months",
    "tenure_band",
    "timing_from",
]

# (upper bound inclusive, code, zh, en)
TENURE_BANDS: tuple[tuple[float, str, Bi], ...] = (
    (6, "0-6", Bi("在网 0–6 个月", "tenure 0–6 months")),
    (12, "7-12", Bi("在网 7–12 个月", "tenure 7–12 months")),
    (24, "13-24", Bi("在网 13–24 个月", "tenure 13–24 months")),
    (48, "25-48", Bi("在网 25–48 个月", "tenure 25–48 months")),
    (np.inf, "49+", Bi("在网 49 个月以上", "tenure 49+ months")),
)
CONTRACT_BANDS: tuple[tuple[str, Bi], ...] = (
    ("none", Bi("无合约", "no contract")),
    ("expired", Bi("合约已到期", "contract expired")),
    ("0-1", Bi("合约 0–1 个月内到期", "contract ends within 0–1 month")),
    ("2-3", Bi("合约 2–3 个月内到期", "contract ends in 2–3 months")),
    ("4-12", Bi("合约 4–12 个月内到期", "contract ends in 4–12 months")),
    ("13+", Bi("合约 12 个月以上到期", "contract ends in 13+ months")),
)
SEASONAL_YEARS = 2


def tenure_band(tenure: pd.Series) -> pd.Series:
    """The tenure band code of each value (``"0-6"``, ``"7-12"`` ...; NA stays NA)."""
    edges = [-np.inf, *[b[0] for b in TENURE_BANDS]]
    codes = [b[1] for b in TENURE_BANDS]
    out = pd.cut(pd.to_numeric(tenure, errors="coerce"), bins=edges, labels=codes, right=True)
    return out.astype("string")


def contract_band(months_to_end: pd.Series, months_out: pd.Series | None = None) -> pd.Series:
    """Contract band of each subscriber from ``months_to_contract_end`` (and months out of it)."""
    m = pd.to_numeric(months_to_end, errors="coerce")
    out_of = (
        pd.to_numeric(months_out, errors="coerce")
        if months_out is not None
        else pd.Series(np.nan, index=m.index)
    )
    band = pd.Series("none", index=m.index, dtype="string")
    band = band.mask(m.notna() & (m > 12), "13+")
    band = band.mask(m.notna() & (m <= 12), "4-12")
    band = band.mask(m.notna() & (m <= 3), "2-3")
    band = band.mask(m.notna() & (m <= 1), "0-1")
    band = band.mask((m.notna() & (m < 0)) | (m.isna() & (out_of > 0)), "expired")
    return band


def flag_peaks(values: list[float | None]) -> list[bool]:
    """Whether each value is a peak (see the module docstring); ``None`` is never one."""
    v = np.array([np.nan if x is None else float(x) for x in values], dtype=np.float64)
    present = v[~np.isnan(v)]
    if present.size < 3:
        return [False] * len(values)
    median = float(np.median(present))
    mad = float(np.median(np.abs(present - median)))
    limit = median + max(2 * 1.4826 * mad, 0.25 * abs(median))
    out = []
    for i, x in enumerate(v):
        if np.isnan(x) or x <= limit:
            out.append(False)
            continue
        left = v[i - 1] if i > 0 else -np.inf
        right = v[i + 1] if i + 1 < len(v) else -np.inf
        out.append(
            bool(x >= np.nan_to_num(left, nan=-np.inf) and x >= np.nan_to_num(right, nan=-np.inf))
        )
    return out


def seasonal_months(months: list[date], peaks: list[bool]) -> list[int] | None:
    """Calendar months (1–12) that peak in two different years; ``None`` with < 2 years."""
    if len({(m.year, m.month) for m in months}) < 12 * SEASONAL_YEARS:
        return None
    years: dict[int, set[int]] = {}
    for m, p in zip(months, peaks, strict=True):
        if p:
            years.setdefault(m.month, set()).add(m.year)
    return sorted(k for k, ys in years.items() if len(ys) >= SEASONAL_YEARS)


@dataclass(frozen=True)
class MonthRate:
    """The voluntary churn rate of one snapshot month for one slice."""

    as_of: str
    by: str  # all | service_type | customer_type
    segment: str
    base: int
    churn_rate: float | None
    peak: bool


@dataclass(frozen=True)
class RateRow:
    """Churn rate of one band (tenure or contract) over the window's snapshot rows."""

    band: str
    label_zh: str
    label_en: str
    customers: int
    churners: int
    churn_rate: float | None


@dataclass(frozen=True)
class TimingResult:
    """Churn by month, tenure band and contract band; peaks and seasonality."""

    window: str
    by_month: list[MonthRate]
    by_tenure: list[RateRow]
    by_contract: list[RateRow]
    peaks: list[str]  # months flagged as peaks of the overall rate
    seasonal: list[int] | None  # calendar months; None when the history is too short
    notes: list[Bi] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["notes"] = [n.to_dict() for n in self.notes]
        return d


def monthly_rates(rows: list[dict[str, Any]], *, up_to: date) -> list[MonthRate]:
    """``churn_rates`` rows (:mod:`churnguard.retention.kpi`) up to a month, peaks flagged."""
    df = pd.DataFrame(rows)
    if df.empty:
        return []
    df = df[df["as_of"] <= f"{up_to:%Y-%m}"]
    out: list[MonthRate] = []
    for (by, segment), part in df.groupby(["by", "segment"], sort=True):
        part = part.sort_values("as_of")
        rates = [None if pd.isna(r) else float(r) for r in part["churn_rate"]]
        for rec, peak in zip(part.to_dict("records"), flag_peaks(rates), strict=True):
            rate = rec["churn_rate"]
            out.append(
                MonthRate(
                    as_of=str(rec["as_of"]),
                    by=str(by),
                    segment=str(segment),
                    base=int(rec["base"]),
                    churn_rate=None if rate is None or pd.isna(rate) else float(rate),
                    peak=peak,
                )
            )
    return out


def _band_rates(labels: pd.Series, bands: pd.Series, names: dict[str, Bi]) -> list[RateRow]:
    g = pd.DataFrame({"band": bands, "label": labels}).groupby("band", observed=True)["label"]
    agg = g.agg(["count", "sum"])
    out = []
    for code, text in names.items():
        n = int(agg["count"].get(code, 0))
        k = int(agg["sum"].get(code, 0))
        out.append(RateRow(code, text.zh, text.en, n, k, k / n if n else None))
    return out


def timing_from(
    frame: pd.DataFrame, rates: list[dict[str, Any]], *, window: Window
) -> TimingResult:
    """Timing from the window's labelled frame and the monthly ``churn_rates`` rows.

    Months after the window's newest labelled month are left out: their labels
    are not known at the as-of month.
    """
    # point in time: only months whose labels are known at the as-of month
    by_month = monthly_rates(rates, up_to=window.months[-1] if window.months else window.as_of)
    overall = [r for r in by_month if r.by == "all"]
    peaks = [r.as_of for r in overall if r.peak]
    seasonal = seasonal_months(
        [date.fromisoformat(r.as_of + "-01") for r in overall], [r.peak for r in overall]
    )
    notes = []
    if seasonal is None:
        notes.append(
            Bi(
                f"季节性需要至少 {SEASONAL_YEARS} 年的数据（现有 {len(overall)} 个月）",
                f"seasonality needs at least {SEASONAL_YEARS} years of data "
                f"({len(overall)} months so far)",
            )
        )
    tenure = _band_rates(
        frame["label"], tenure_band(frame["tenure_months"]), {b[1]: b[2] for b in TENURE_BANDS}
    )
    contract = _band_rates(
        frame["label"],
        contract_band(frame["months_to_contract_end"], frame.get("months_out_of_contract")),
        dict(CONTRACT_BANDS),
    )
    return TimingResult(
        window=window.label,
        by_month=by_month,
        by_tenure=tenure,
        by_contract=contract,
        peaks=peaks,
        seasonal=seasonal,
        notes=notes,
    )


def churn_timing(
    settings: Settings, *, as_of: date | str, months: int = DEFAULT_MONTHS
) -> TimingResult:
    """Churn timing at ``as_of``: every labelled month's rate, and bands over the window."""
    from ..retention.kpi import churn_rates

    window = data_window(settings, as_of=as_of, months=months)
    frame = labelled_frame(settings, window)
    return timing_from(frame, churn_rates(settings, months=len(window.data)), window=window)
