"""Usage indicators: voice, data, SMS and TV viewing levels, averages, changes and trends.

Also the second-SIM and competitor signals read from usage: incoming/outgoing
call ratio, off-net share and calls forwarded to other operators' numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aggregates import change_ratio, in_months, mean_in, only, relative_slope, safe_div, sum_in
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "HISTORY_MONTHS", "usage_frame"]

HISTORY_MONTHS = 6  # the longest window any usage indicator looks back

_U = ReasonCategory.USAGE_DECLINE
_P = ReasonCategory.PRICE_COMPETITOR
_E = ReasonCategory.ENGAGEMENT


def usage_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Usage rows of the last :data:`HISTORY_MONTHS` months up to M, with offset ``k``."""
    u = src["usage"]
    u = u.filter(u.month < asof.next_start, u.month >= asof.months_back(HISTORY_MONTHS - 1))
    return u.mutate(k=asof.offset(u.month))


# (column, feature prefix, en noun, zh noun, unit, services)
_METRICS = (
    ("voice_minutes", "voice", "call minutes", "通话时长", "min", ("mobile",)),
    ("data_mb", "data", "data volume", "流量", "MB", ("mobile", "broadband")),
    ("sms", "sms", "SMS sent", "短信条数", "SMS", ("mobile",)),
    ("viewing_hours", "viewing", "TV viewing hours", "收视时长", "h", ("tv",)),
)


def _metric_features(
    col: str, prefix: str, en: str, zh: str, unit: str, services: tuple[str, ...]
) -> list[FeatureDef]:
    def last(t: ir.Table, a: AsOf) -> ir.Value:
        return sum_in(t[col], t.k, 0, 0)

    def avg3(t: ir.Table, a: AsOf) -> ir.Value:
        return mean_in(t[col], t.k, 0, 2)

    def avg6(t: ir.Table, a: AsOf) -> ir.Value:
        return mean_in(t[col], t.k, 0, 5)

    def chg(t: ir.Table, a: AsOf) -> ir.Value:
        return change_ratio(sum_in(t[col], t.k, 0, 0), mean_in(t[col], t.k, 1, 3))

    def trend(t: ir.Table, a: AsOf) -> ir.Value:
        return relative_slope(t[col], t.k, 6)

    common = {"family": "usage", "category": _U, "services": services}
    return [
        FeatureDef(
            name=f"{prefix}_last",
            unit=unit,
            expr=last,
            risk_direction=-1,
            en=f"{en.capitalize()} in the as-of month",
            zh=f"当月{zh}",
            reason_en=f"{en} only {{value}} {unit} last month",
            reason_zh=f"上月{zh}仅 {{value}} {unit}",
            **common,  # type: ignore[arg-type]
        ),
        FeatureDef(
            name=f"{prefix}_avg3",
            unit=unit,
            expr=avg3,
            risk_direction=-1,
            en=f"Average monthly {en}, last 3 months",
            zh=f"近3个月月均{zh}",
            reason_en=f"{en} averaged only {{value}} {unit} a month over 3 months",
            reason_zh=f"近3个月月均{zh}仅 {{value}} {unit}",
            **common,  # type: ignore[arg-type]
        ),
        FeatureDef(
            name=f"{prefix}_avg6",
            unit=unit,
            expr=avg6,
            risk_direction=-1,
            en=f"Average monthly {en}, last 6 months",
            zh=f"近6个月月均{zh}",
            reason_en=f"{en} averaged only {{value}} {unit} a month over 6 months",
            reason_zh=f"近6个月月均{zh}仅 {{value}} {unit}",
            **common,  # type: ignore[arg-type]
        ),
        FeatureDef(
            name=f"{prefix}_chg",
            unit="ratio",
            expr=chg,
            risk_direction=-1,
            en=f"{en.capitalize()} in the as-of month vs the 3 months before, minus 1",
            zh=f"当月{zh}相对前3个月均值的变化率",
            reason_en=f"{en} down {{value}}% vs the 3-month average",
            reason_zh=f"{zh}较前三个月均值下降 {{value}}%",
            reason_format=ReasonFormat.PCT_CHANGE,
            **common,  # type: ignore[arg-type]
        ),
        FeatureDef(
            name=f"{prefix}_trend6",
            unit="ratio/month",
            expr=trend,
            risk_direction=-1,
            en=f"Monthly trend of {en} over 6 months, relative to its average",
            zh=f"近6个月{zh}的月度趋势（相对均值）",
            reason_en=f"{en} falling {{value}}% a month over 6 months",
            reason_zh=f"近6个月{zh}每月下降 {{value}}%",
            reason_format=ReasonFormat.PCT_CHANGE,
            **common,  # type: ignore[arg-type]
        ),
    ]


def _data_zscore(t: ir.Table, a: AsOf) -> ir.Value:
    base = t.data_mb.cast("float64")
    mean = mean_in(base, t.k, 1, 5)
    std = only(in_months(t.k, 1, 5), base).std()
    return safe_div(sum_in(base, t.k, 0, 0) - mean, std)


def _in_out_ratio(t: ir.Table, a: AsOf) -> ir.Value:
    return safe_div(sum_in(t.calls_in, t.k, 0, 2), sum_in(t.calls_out, t.k, 0, 2))


def _offnet_share(t: ir.Table, a: AsOf) -> ir.Value:
    return safe_div(sum_in(t.offnet_minutes, t.k, 0, 2), sum_in(t.voice_minutes, t.k, 0, 2))


def _offnet_share_chg(t: ir.Table, a: AsOf) -> ir.Value:
    now = safe_div(sum_in(t.offnet_minutes, t.k, 0, 0), sum_in(t.voice_minutes, t.k, 0, 0))
    before = safe_div(sum_in(t.offnet_minutes, t.k, 1, 3), sum_in(t.voice_minutes, t.k, 1, 3))
    return now - before


def _forward_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.call_forward_offnet, t.k, 0, 2)


def _forward_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.call_forward_offnet, t.k, 0, 0)


def _active_days_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.active_days, t.k, 0, 0)


def _active_days_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(sum_in(t.active_days, t.k, 0, 0), mean_in(t.active_days, t.k, 1, 3))


def _roaming_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.roaming_minutes, t.k, 0, 2)


_MOBILE = ("mobile",)

FEATURES: tuple[FeatureDef, ...] = (
    *[f for m in _METRICS for f in _metric_features(*m)],
    FeatureDef(
        name="data_zscore",
        family="usage",
        category=_U,
        unit="sd",
        expr=_data_zscore,
        risk_direction=-1,
        services=("mobile", "broadband"),
        en="Data volume in the as-of month in standard deviations from the 5 months before",
        zh="当月流量偏离前5个月均值的标准差倍数（流量异常）",
        reason_en="data use {value} standard deviations below normal",
        reason_zh="流量异常：低于常态 {value} 个标准差",
        reason_format=ReasonFormat.ABS_DECIMAL,
    ),
    FeatureDef(
        name="calls_in_out_ratio_3m",
        family="usage",
        category=_P,
        unit="ratio",
        expr=_in_out_ratio,
        risk_direction=1,
        services=_MOBILE,
        en="Incoming / outgoing calls, last 3 months (a second SIM elsewhere)",
        zh="近3个月被叫/主叫次数比（疑似一人多卡）",
        reason_en="receives {value} calls per call made (second SIM?)",
        reason_zh="被叫/主叫比达 {value}，疑似一人多卡",
    ),
    FeatureDef(
        name="offnet_share_3m",
        family="usage",
        category=_P,
        unit="share",
        expr=_offnet_share,
        risk_direction=1,
        services=_MOBILE,
        en="Share of call minutes to other operators, last 3 months",
        zh="近3个月网外通话时长占比",
        reason_en="{value}% of call minutes go to other operators",
        reason_zh="网外通话占比 {value}%",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="offnet_share_chg",
        family="usage",
        category=_P,
        unit="share",
        expr=_offnet_share_chg,
        risk_direction=1,
        services=_MOBILE,
        en="Off-net share in the as-of month minus its share in the 3 months before",
        zh="当月网外通话占比较前3个月的变化",
        reason_en="off-net call share up {value} points",
        reason_zh="网外通话占比上升 {value} 个百分点",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="call_forward_offnet_3m",
        family="usage",
        category=_P,
        unit="calls",
        expr=_forward_3m,
        risk_direction=1,
        services=_MOBILE,
        en="Calls forwarded to other operators' numbers, last 3 months",
        zh="近3个月呼叫转移至异网号码次数",
        reason_en="{value} calls forwarded to rival numbers in 3 months",
        reason_zh="近3个月呼叫转移至异网号码 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="call_forward_offnet_last",
        family="usage",
        category=_P,
        unit="calls",
        expr=_forward_last,
        risk_direction=1,
        services=_MOBILE,
        en="Calls forwarded to other operators' numbers in the as-of month",
        zh="当月呼叫转移至异网号码次数",
        reason_en="{value} calls forwarded to rival numbers last month",
        reason_zh="上月呼叫转移至异网号码 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="roaming_minutes_3m",
        family="usage",
        category=_U,
        unit="min",
        expr=_roaming_3m,
        risk_direction=0,
        services=_MOBILE,
        en="Roaming minutes, last 3 months",
        zh="近3个月漫游通话时长",
    ),
    FeatureDef(
        name="active_days_last",
        family="usage",
        category=_E,
        unit="days",
        expr=_active_days_last,
        risk_direction=-1,
        en="Days with any activity in the as-of month",
        zh="当月活跃天数",
        reason_en="active on only {value} days last month",
        reason_zh="上月仅活跃 {value} 天",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="active_days_chg",
        family="usage",
        category=_E,
        unit="ratio",
        expr=_active_days_chg,
        risk_direction=-1,
        en="Active days in the as-of month vs the 3 months before, minus 1",
        zh="当月活跃天数相对前3个月均值的变化率",
        reason_en="active days down {value}% vs the 3-month average",
        reason_zh="活跃天数较前三个月均值下降 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
)

FAMILY = Family(name="usage", frame="usage", build=usage_frame, features=FEATURES)
