"""Engagement indicators: channel interactions, cancel and port-out inquiries, bill queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contract import TABLES
from .aggregates import change_ratio, count_where, in_months, only
from .catalog import Family, FeatureDef, FeatureExpr, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "interactions_frame"]

_E = ReasonCategory.ENGAGEMENT
_CHANNELS = TABLES["interactions"].column("channel").allowed or ()
_P = ReasonCategory.PRICE_COMPETITOR


def interactions_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Interactions before the end of M, with offset ``k``."""
    i = src["interactions"]
    i = i.filter(i.ts < asof.next_start)
    return i.mutate(k=asof.offset(i.ts))


def _kind_count(kinds: tuple[str, ...], lo: int, hi: int) -> FeatureExpr:
    def expr(t: ir.Table, a: AsOf) -> ir.Value:
        return count_where(in_months(t.k, lo, hi) & t.kind.isin(kinds))

    return expr


def _all_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 2))


def _all_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(count_where(in_months(t.k, 0, 2)), count_where(in_months(t.k, 3, 5)))


def _channels_3m(t: ir.Table, a: AsOf) -> ir.Value:
    # One flag per contract channel instead of COUNT(DISTINCT): several times
    # cheaper on both engines (channels outside the contract are quarantined).
    recent = in_months(t.k, 0, 2)
    if not _CHANNELS:
        return t.channel.nunique(where=recent)
    flags = [count_where(recent & (t.channel == c)) > 0 for c in _CHANNELS]
    total: ir.IntegerValue = flags[0].cast("int64")
    for flag in flags[1:]:
        total = total + flag.cast("int64")
    return total


def _days_since(t: ir.Table, a: AsOf) -> ir.Value:
    return a.days_before_end(t.ts.max())


def _days_since_cancel(t: ir.Table, a: AsOf) -> ir.Value:
    return a.days_before_end(only(t.kind.isin(_CANCEL), t.ts).max())


_CANCEL = ("cancel_inquiry",)
_PORT = ("port_out_query",)

FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="interactions_3m",
        family="engagement",
        category=_E,
        unit="contacts",
        expr=_all_3m,
        risk_direction=-1,
        fill=0.0,
        en="Contacts through any channel, last 3 months",
        zh="近3个月各渠道接触次数",
        reason_en="only {value} contacts with us in 3 months",
        reason_zh="近3个月仅与我们接触 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="interactions_chg",
        family="engagement",
        category=_E,
        unit="ratio",
        expr=_all_chg,
        risk_direction=-1,
        en="Contacts of the last 3 months vs the 3 months before, minus 1",
        zh="近3个月接触次数较之前3个月的变化率",
        reason_en="contacts with us down {value}%",
        reason_zh="渠道接触次数下降 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="channels_3m",
        family="engagement",
        category=_E,
        unit="channels",
        expr=_channels_3m,
        risk_direction=-1,
        fill=0.0,
        en="Distinct channels used, last 3 months",
        zh="近3个月使用的渠道数",
        reason_en="uses only {value} channels",
        reason_zh="仅使用 {value} 个渠道",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="days_since_interaction",
        family="engagement",
        category=_E,
        unit="days",
        expr=_days_since,
        risk_direction=1,
        en="Days from the last contact to the end of the as-of month",
        zh="距最近一次渠道接触的天数",
        reason_en="no contact with us for {value} days",
        reason_zh="已 {value} 天未与我们接触",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="cancel_inquiries_3m",
        family="engagement",
        category=_E,
        unit="contacts",
        expr=_kind_count(_CANCEL, 0, 2),
        risk_direction=1,
        fill=0.0,
        en="Cancellation inquiries, last 3 months",
        zh="近3个月销户咨询次数",
        reason_en="asked about cancelling {value} times in 3 months",
        reason_zh="近3个月咨询销户 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="cancel_inquiries_6m",
        family="engagement",
        category=_E,
        unit="contacts",
        expr=_kind_count(_CANCEL, 0, 5),
        risk_direction=1,
        fill=0.0,
        en="Cancellation inquiries, last 6 months",
        zh="近6个月销户咨询次数",
        reason_en="asked about cancelling {value} times in 6 months",
        reason_zh="近6个月咨询销户 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="days_since_cancel_inquiry",
        family="engagement",
        category=_E,
        unit="days",
        expr=_days_since_cancel,
        risk_direction=-1,
        en="Days from the last cancellation inquiry to the end of the as-of month",
        zh="距最近一次销户咨询的天数",
        reason_en="asked about cancelling {value} days ago",
        reason_zh="{value} 天前咨询过销户",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="port_out_queries_3m",
        family="engagement",
        category=_P,
        unit="contacts",
        expr=_kind_count(_PORT, 0, 2),
        risk_direction=1,
        fill=0.0,
        en="Number-portability (port-out) inquiries, last 3 months",
        zh="近3个月携号转网咨询次数",
        reason_en="asked about porting the number out {value} times",
        reason_zh="近3个月咨询携号转网 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="bill_queries_3m",
        family="engagement",
        category=ReasonCategory.PAYMENT_DIFFICULTY,
        unit="contacts",
        expr=_kind_count(("bill_query",), 0, 2),
        risk_direction=1,
        fill=0.0,
        en="Bill queries, last 3 months",
        zh="近3个月账单查询/咨询次数",
        reason_en="{value} bill queries in 3 months",
        reason_zh="近3个月账单咨询 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
)

FAMILY = Family(
    name="engagement", frame="interactions", build=interactions_frame, features=FEATURES
)
