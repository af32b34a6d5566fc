"""Complaint indicators: frequency and its rise, categories, recency, open and dissatisfied.

Point in time: a complaint resolved after the as-of month was still open at M,
and its satisfaction answer was not known yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aggregates import count_where, in_months, only
from .catalog import Family, FeatureDef, FeatureExpr, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "complaints_frame"]

_C = ReasonCategory.SERVICE_COMPLAINTS
_CATEGORY_REASON = {
    "network": ReasonCategory.NETWORK_QUALITY,
    "billing": ReasonCategory.PAYMENT_DIFFICULTY,
    "service": ReasonCategory.SERVICE_COMPLAINTS,
    "price": ReasonCategory.PRICE_COMPETITOR,
    "other": ReasonCategory.SERVICE_COMPLAINTS,
}
_CATEGORY_TEXT = {
    "network": ("network", "网络"),
    "billing": ("billing", "计费/账单"),
    "service": ("service", "服务"),
    "price": ("price", "资费"),
    "other": ("other", "其他"),
}


def complaints_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Complaints filed before the end of M, with offset ``k`` and what was known at M."""
    c = src["complaints"]
    c = c.filter(c.created_at < asof.next_start)
    resolved = c.resolved_at.notnull() & (c.resolved_at < asof.next_start)
    return c.mutate(
        k=asof.offset(c.created_at),
        resolved_known=resolved,
        hours_to_resolve=(c.resolved_at.epoch_seconds() - c.created_at.epoch_seconds()).cast(
            "float64"
        )
        / 3600.0,
    )


def _count(lo: int, hi: int) -> FeatureExpr:
    def expr(t: ir.Table, a: AsOf) -> ir.Value:
        return count_where(in_months(t.k, lo, hi))

    return expr


def _by_category(category: str) -> FeatureExpr:
    def expr(t: ir.Table, a: AsOf) -> ir.Value:
        return count_where(in_months(t.k, 0, 5) & (t.category == category))

    return expr


def _trend(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 2)) - count_where(in_months(t.k, 3, 5))


def _days_since(t: ir.Table, a: AsOf) -> ir.Value:
    return a.days_before_end(t.created_at.max())


def _open(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(~t.resolved_known)


def _dissatisfied(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 5) & t.resolved_known & (t.satisfied == False))  # noqa: E712


def _resolution_hours(t: ir.Table, a: AsOf) -> ir.Value:
    return only(in_months(t.k, 0, 5) & t.resolved_known, t.hours_to_resolve).mean()


def _category_feature(category: str) -> FeatureDef:
    en, zh = _CATEGORY_TEXT[category]
    return FeatureDef(
        name=f"complaints_{category}_6m",
        family="complaints",
        category=_CATEGORY_REASON[category],
        unit="complaints",
        expr=_by_category(category),
        risk_direction=1,
        fill=0.0,
        en=f"Complaints about {en}, last 6 months",
        zh=f"近6个月{zh}类投诉次数",
        reason_en=f"{{value}} {en} complaints in 6 months",
        reason_zh=f"近6个月{zh}类投诉 {{value}} 次",
        reason_format=ReasonFormat.INTEGER,
    )


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="complaints_3m",
        family="complaints",
        category=_C,
        unit="complaints",
        expr=_count(0, 2),
        risk_direction=1,
        fill=0.0,
        en="Complaints filed, last 3 months",
        zh="近3个月投诉次数",
        reason_en="{value} complaints in 3 months",
        reason_zh="近3个月投诉 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="complaints_6m",
        family="complaints",
        category=_C,
        unit="complaints",
        expr=_count(0, 5),
        risk_direction=1,
        fill=0.0,
        en="Complaints filed, last 6 months",
        zh="近6个月投诉次数",
        reason_en="{value} complaints in 6 months",
        reason_zh="近6个月投诉 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="complaints_trend",
        family="complaints",
        category=_C,
        unit="complaints",
        expr=_trend,
        risk_direction=1,
        fill=0.0,
        en="Complaints of the last 3 months minus those of the 3 months before",
        zh="近3个月投诉次数较之前3个月的增加",
        reason_en="complaints up by {value} vs the previous 3 months",
        reason_zh="投诉次数较前三个月增加 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    *[_category_feature(c) for c in _CATEGORY_TEXT],
    FeatureDef(
        name="days_since_complaint",
        family="complaints",
        category=_C,
        unit="days",
        expr=_days_since,
        risk_direction=-1,
        en="Days from the last complaint to the end of the as-of month",
        zh="距最近一次投诉的天数",
        reason_en="complained {value} days ago",
        reason_zh="{value} 天前刚投诉过",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="complaints_open",
        family="complaints",
        category=_C,
        unit="complaints",
        expr=_open,
        risk_direction=1,
        fill=0.0,
        en="Complaints still unresolved at the end of the as-of month",
        zh="月底仍未办结的投诉数",
        reason_en="{value} complaints still unresolved",
        reason_zh="{value} 件投诉尚未解决",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="complaints_dissatisfied_6m",
        family="complaints",
        category=_C,
        unit="complaints",
        expr=_dissatisfied,
        risk_direction=1,
        fill=0.0,
        en="Resolved complaints the customer was not satisfied with, last 6 months",
        zh="近6个月对处理结果不满意的投诉数",
        reason_en="dissatisfied with {value} complaint resolutions",
        reason_zh="{value} 次投诉处理结果不满意",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="complaint_resolution_hours_6m",
        family="complaints",
        category=_C,
        unit="h",
        expr=_resolution_hours,
        risk_direction=1,
        en="Average hours to resolve a complaint, last 6 months",
        zh="近6个月投诉平均办结时长",
        reason_en="complaints took {value} hours to resolve on average",
        reason_zh="投诉平均 {value} 小时才办结",
    ),
)

FAMILY = Family(name="complaints", frame="complaints", build=complaints_frame, features=FEATURES)
