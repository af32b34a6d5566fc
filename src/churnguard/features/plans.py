"""Plan-change indicators: frequent changes and downgrades."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aggregates import count_where, in_months, sum_in
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "plan_changes_frame"]

_P = ReasonCategory.PRICE_COMPETITOR


def plan_changes_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Plan changes before the end of M, with offset ``k``."""
    p = src["plan_changes"]
    p = p.filter(p.changed_at < asof.next_start)
    return p.mutate(k=asof.offset(p.changed_at))


def _changes_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 5))


def _downgrades_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 5) & (t.fee_delta < 0))


def _upgrades_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 5) & (t.fee_delta > 0))


def _fee_delta_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.fee_delta, t.k, 0, 5)


def _days_since(t: ir.Table, a: AsOf) -> ir.Value:
    return a.days_before_end(t.changed_at.max())


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="plan_changes_6m",
        family="plans",
        category=_P,
        unit="changes",
        expr=_changes_6m,
        risk_direction=1,
        fill=0.0,
        en="Plan changes, last 6 months",
        zh="近6个月套餐变更次数",
        reason_en="changed plan {value} times in 6 months",
        reason_zh="近6个月变更套餐 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="downgrades_6m",
        family="plans",
        category=_P,
        unit="changes",
        expr=_downgrades_6m,
        risk_direction=1,
        fill=0.0,
        en="Plan downgrades (lower monthly fee), last 6 months",
        zh="近6个月套餐降档次数",
        reason_en="downgraded the plan {value} times in 6 months",
        reason_zh="近6个月套餐降档 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="upgrades_6m",
        family="plans",
        category=_P,
        unit="changes",
        expr=_upgrades_6m,
        risk_direction=0,
        fill=0.0,
        en="Plan upgrades (higher monthly fee), last 6 months",
        zh="近6个月套餐升档次数",
    ),
    FeatureDef(
        name="fee_delta_6m",
        family="plans",
        category=_P,
        unit="CNY",
        expr=_fee_delta_6m,
        risk_direction=-1,
        fill=0.0,
        en="Net change of the monthly fee through plan changes, last 6 months",
        zh="近6个月套餐变更带来的月费净变化",
        reason_en="monthly fee cut by {value} CNY through plan changes",
        reason_zh="套餐变更使月费减少 {value} 元",
        reason_format=ReasonFormat.ABS_DECIMAL,
    ),
    FeatureDef(
        name="days_since_plan_change",
        family="plans",
        category=_P,
        unit="days",
        expr=_days_since,
        risk_direction=-1,
        en="Days from the last plan change to the end of the as-of month",
        zh="距最近一次套餐变更的天数",
        reason_en="changed plan {value} days ago",
        reason_zh="{value} 天前变更过套餐",
        reason_format=ReasonFormat.INTEGER,
    ),
)

FAMILY = Family(name="plans", frame="plan_changes", build=plan_changes_frame, features=FEATURES)
