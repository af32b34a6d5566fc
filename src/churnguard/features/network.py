"""Network-quality indicators: dropped calls, signal, speed, outages and their trends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aggregates import change_ratio, mean_in, relative_slope, sum_in
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "network_frame"]

_N = ReasonCategory.NETWORK_QUALITY
HISTORY_MONTHS = 6


def network_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Network-quality rows of the last 6 months up to M, with offset ``k``."""
    n = src["network_quality"]
    n = n.filter(n.month < asof.next_start, n.month >= asof.months_back(HISTORY_MONTHS - 1))
    return n.mutate(k=asof.offset(n.month))


def _drop_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.dropped_call_rate, t.k, 0, 0)


def _drop_avg3(t: ir.Table, a: AsOf) -> ir.Value:
    return mean_in(t.dropped_call_rate, t.k, 0, 2)


def _drop_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.dropped_call_rate, t.k, 0, 0) - mean_in(t.dropped_call_rate, t.k, 1, 3)


def _drop_trend(t: ir.Table, a: AsOf) -> ir.Value:
    return relative_slope(t.dropped_call_rate, t.k, 6)


def _signal_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.avg_signal_dbm, t.k, 0, 0)


def _signal_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.avg_signal_dbm, t.k, 0, 0) - mean_in(t.avg_signal_dbm, t.k, 1, 3)


def _speed_avg3(t: ir.Table, a: AsOf) -> ir.Value:
    return mean_in(t.avg_download_mbps, t.k, 0, 2)


def _speed_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(
        sum_in(t.avg_download_mbps, t.k, 0, 0), mean_in(t.avg_download_mbps, t.k, 1, 3)
    )


def _outage_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.outage_minutes, t.k, 0, 0)


def _outage_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.outage_minutes, t.k, 0, 2)


def _outage_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.outage_minutes, t.k, 0, 0) - mean_in(t.outage_minutes, t.k, 1, 3)


_MOBILE = ("mobile",)
_WIRED = ("mobile", "broadband")

FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="dropped_call_rate_last",
        family="network",
        category=_N,
        unit="ratio",
        expr=_drop_last,
        risk_direction=1,
        services=_MOBILE,
        en="Dropped-call rate in the as-of month",
        zh="当月掉话率",
        reason_en="{value}% of calls dropped last month",
        reason_zh="上月掉话率 {value}%",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="dropped_call_rate_avg3",
        family="network",
        category=_N,
        unit="ratio",
        expr=_drop_avg3,
        risk_direction=1,
        services=_MOBILE,
        en="Average dropped-call rate, last 3 months",
        zh="近3个月平均掉话率",
        reason_en="{value}% of calls dropped over 3 months",
        reason_zh="近3个月平均掉话率 {value}%",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="dropped_call_rate_chg",
        family="network",
        category=_N,
        unit="ratio",
        expr=_drop_chg,
        risk_direction=1,
        services=_MOBILE,
        en="Dropped-call rate in the as-of month minus the 3-month average before",
        zh="当月掉话率较前3个月均值的上升",
        reason_en="dropped-call rate up {value} points",
        reason_zh="掉话率上升 {value} 个百分点",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="dropped_call_rate_trend6",
        family="network",
        category=_N,
        unit="ratio/month",
        expr=_drop_trend,
        risk_direction=1,
        services=_MOBILE,
        en="Monthly trend of the dropped-call rate over 6 months, relative to its average",
        zh="近6个月掉话率月度趋势（相对均值）",
        reason_en="dropped-call rate rising {value}% a month",
        reason_zh="掉话率每月上升 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="signal_dbm_last",
        family="network",
        category=_N,
        unit="dBm",
        expr=_signal_last,
        risk_direction=-1,
        services=_MOBILE,
        en="Average signal strength in the as-of month",
        zh="当月平均信号强度",
        reason_en="weak signal: {value} dBm",
        reason_zh="信号弱：{value} dBm",
    ),
    FeatureDef(
        name="signal_dbm_chg",
        family="network",
        category=_N,
        unit="dB",
        expr=_signal_chg,
        risk_direction=-1,
        services=_MOBILE,
        en="Signal strength in the as-of month minus the 3-month average before",
        zh="当月信号强度较前3个月均值的变化",
        reason_en="signal down {value} dB",
        reason_zh="信号强度下降 {value} dB",
        reason_format=ReasonFormat.ABS_DECIMAL,
    ),
    FeatureDef(
        name="download_mbps_avg3",
        family="network",
        category=_N,
        unit="Mbps",
        expr=_speed_avg3,
        risk_direction=-1,
        services=_WIRED,
        en="Average download speed, last 3 months",
        zh="近3个月平均下载速率",
        reason_en="download speed only {value} Mbps",
        reason_zh="下载速率仅 {value} Mbps",
    ),
    FeatureDef(
        name="download_mbps_chg",
        family="network",
        category=_N,
        unit="ratio",
        expr=_speed_chg,
        risk_direction=-1,
        services=_WIRED,
        en="Download speed in the as-of month vs the 3-month average before, minus 1",
        zh="当月下载速率相对前3个月均值的变化率",
        reason_en="download speed down {value}%",
        reason_zh="下载速率下降 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="outage_minutes_last",
        family="network",
        category=_N,
        unit="min",
        expr=_outage_last,
        risk_direction=1,
        en="Service outage minutes in the as-of month",
        zh="当月断网/故障时长",
        reason_en="{value} minutes of outage last month",
        reason_zh="上月断网/故障 {value} 分钟",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="outage_minutes_3m",
        family="network",
        category=_N,
        unit="min",
        expr=_outage_3m,
        risk_direction=1,
        en="Service outage minutes, last 3 months",
        zh="近3个月断网/故障时长",
        reason_en="{value} minutes of outage in 3 months",
        reason_zh="近3个月断网/故障 {value} 分钟",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="outage_minutes_chg",
        family="network",
        category=_N,
        unit="min",
        expr=_outage_chg,
        risk_direction=1,
        en="Outage minutes in the as-of month minus the 3-month average before",
        zh="当月故障时长较前3个月均值的增加",
        reason_en="outages up {value} minutes vs usual",
        reason_zh="故障时长比平时多 {value} 分钟",
        reason_format=ReasonFormat.ABS_DECIMAL,
    ),
)

FAMILY = Family(name="network", frame="network", build=network_frame, features=FEATURES)
