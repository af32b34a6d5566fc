"""Survival of the customer base: Kaplan–Meier curves by plan, tenure band and segment.

Time runs in months from the start of observation: the first month the
warehouse holds (at most ``max_months`` before the as-of month), or the
customer's activation when later. The event is a voluntary churn (port-out,
cancellation, inactivity); a customer still active at the end of the as-of
month, or who left for another reason (arrears, relocation), is censored
then. Groups are compared with the log-rank test (lifelines).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import StateError
from ..months import add_months
from .population import data_window, duck
from .texts import Bi, label
from .timing import TENURE_BANDS, tenure_band

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "DIMENSIONS",
    "Curve",
    "SurvivalByDimension",
    "SurvivalResult",
    "survival_analysis",
    "survival_frame",
    "survival_from",
]

DIMENSIONS = {
    "plan_id": Bi("套餐", "plan"),
    "tenure_band": Bi("在网时长（观察开始时）", "tenure band (at the start)"),
    "customer_type": Bi("客户类型", "segment"),
}
MAX_GROUPS = 6
_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class Curve:
    """One Kaplan–Meier curve."""

    group: str
    label_zh: str
    label_en: str
    customers: int
    events: int
    months: list[float]
    survival: list[float]
    lower: list[float]
    upper: list[float]
    survival_at_end: float


@dataclass(frozen=True)
class SurvivalByDimension:
    """Curves of one dimension and the log-rank test across its groups."""

    dimension: str
    title_zh: str
    title_en: str
    curves: list[Curve]
    logrank_statistic: float | None
    logrank_p: float | None
    degrees_of_freedom: int | None


@dataclass(frozen=True)
class SurvivalResult:
    """Survival by every dimension."""

    start: str
    end: str
    customers: int
    events: int
    dimensions: list[SurvivalByDimension]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def survival_frame(settings: Settings, *, as_of: date, max_months: int = 24) -> pd.DataFrame:
    """One row per customer observed: ``duration`` (months), ``event`` and the dimensions."""
    window = data_window(settings, as_of=as_of, months=1)
    end = add_months(window.as_of, 1)
    start = max(window.data[0], add_months(window.as_of, -(max_months - 1)))
    reasons = list(settings.labels.voluntary_reasons)
    with duck(settings) as con:
        df: pd.DataFrame = con.execute(
            f"""
            WITH s AS (
              SELECT subscriber_id, plan_id, customer_type, activation_date,
                     greatest(activation_date, CAST(? AS DATE)) AS entry,
                     CASE WHEN churn_date < ? THEN churn_date ELSE CAST(? AS DATE) END AS stop,
                     churn_date < ? AND churn_reason IN ({", ".join("?" * len(reasons))}) AS event
              FROM subscribers
              WHERE activation_date < ? AND (churn_date IS NULL OR churn_date >= ?)
            )
            SELECT subscriber_id, plan_id, customer_type,
                   date_diff('month', activation_date, entry) AS tenure_at_entry,
                   date_diff('day', entry, stop) / {_DAYS_PER_MONTH} AS duration,
                   coalesce(event, false) AS event
            FROM s WHERE stop > entry
            """,
            [start, end, end, end, *reasons, end, start],
        ).df()
    df["tenure_band"] = tenure_band(df["tenure_at_entry"])
    df.attrs["start"], df.attrs["end"] = f"{start:%Y-%m}", f"{window.as_of:%Y-%m}"
    return df


def _top_groups(values: pd.Series, *, limit: int = MAX_GROUPS) -> pd.Series:
    """The ``limit - 1`` largest groups kept, the rest pooled as ``other``."""
    v = values.astype("string").fillna("unknown")
    counts = v.value_counts()
    if len(counts) <= limit:
        return v
    keep = set(counts.index[: limit - 1])
    return v.where(v.isin(keep), "other")


def _group_label(dimension: str, group: str) -> Bi:
    if dimension == "plan_id":
        return (
            Bi("其他套餐", "other plans")
            if group == "other"
            else Bi(f"套餐 {group}", f"plan {group}")
        )
    if dimension == "tenure_band":
        return next((b[2] for b in TENURE_BANDS if b[1] == group), Bi(group, group))
    return label(dimension, group)


def survival_from(
    frame: pd.DataFrame, *, dimensions: tuple[str, ...] = tuple(DIMENSIONS), points: int = 25
) -> SurvivalResult:
    """Kaplan–Meier curves and log-rank tests of ``frame`` (``duration``, ``event``, dims)."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    if frame.empty:
        raise StateError("no customers to follow: the warehouse has no subscribers in the window")
    horizon = float(frame["duration"].max())
    grid = np.linspace(0.0, horizon, points)
    out = []
    for dim in dimensions:
        if dim not in frame.columns:
            continue
        groups = _top_groups(frame[dim])
        curves = []
        order = [b[1] for b in TENURE_BANDS]
        for group in sorted(
            groups.unique(), key=lambda g: (order.index(g) if g in order else 99, g)
        ):
            part = frame[groups == group]
            kmf = KaplanMeierFitter().fit(
                part["duration"].to_numpy(dtype=np.float64),
                part["event"].to_numpy(dtype=bool),
            )
            surv = kmf.survival_function_at_times(grid).to_numpy()
            ci = kmf.confidence_interval_survival_function_
            lo = np.interp(grid, ci.index.to_numpy(), ci.iloc[:, 0].to_numpy())
            hi = np.interp(grid, ci.index.to_numpy(), ci.iloc[:, 1].to_numpy())
            text = _group_label(dim, str(group))
            curves.append(
                Curve(
                    group=str(group),
                    label_zh=text.zh,
                    label_en=text.en,
                    customers=len(part),
                    events=int(part["event"].sum()),
                    months=[float(x) for x in grid],
                    survival=[float(x) for x in surv],
                    lower=[float(x) for x in lo],
                    upper=[float(x) for x in hi],
                    survival_at_end=float(surv[-1]),
                )
            )
        stat = p = dof = None
        if len(curves) >= 2 and frame["event"].any():
            test = multivariate_logrank_test(
                frame["duration"].to_numpy(dtype=np.float64),
                groups.to_numpy(),
                frame["event"].to_numpy(dtype=bool),
            )
            stat, p, dof = (
                float(test.test_statistic),
                float(test.p_value),
                int(test.degrees_of_freedom),
            )
        title = DIMENSIONS.get(dim, Bi(dim, dim))
        out.append(SurvivalByDimension(dim, title.zh, title.en, curves, stat, p, dof))
    return SurvivalResult(
        start=str(frame.attrs.get("start", "")),
        end=str(frame.attrs.get("end", "")),
        customers=len(frame),
        events=int(frame["event"].sum()),
        dimensions=out,
    )


def survival_analysis(
    settings: Settings, *, as_of: date | str, max_months: int = 24
) -> SurvivalResult:
    """Kaplan–Meier curves by plan, tenure band and segment up to the end of ``as_of``."""
    window = data_window(settings, as_of=as_of, months=1)
    return survival_from(survival_frame(settings, as_of=window.as_of, max_months=max_months))
