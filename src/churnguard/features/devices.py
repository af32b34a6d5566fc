"""Device indicators: set-top box and modem offline days (cable TV and broadband)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aggregates import mean_in, sum_in
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat
from .usage import usage_frame

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf

__all__ = ["FAMILY"]

_D = ReasonCategory.DEVICE
_SERVICES = ("broadband", "tv")


def _last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.device_offline_days, t.k, 0, 0)


def _avg3(t: ir.Table, a: AsOf) -> ir.Value:
    return mean_in(t.device_offline_days, t.k, 0, 2)


def _max6(t: ir.Table, a: AsOf) -> ir.Value:
    return t.device_offline_days.cast("float64").max()


def _chg(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.device_offline_days, t.k, 0, 0) - mean_in(t.device_offline_days, t.k, 1, 3)


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="device_offline_days_last",
        family="devices",
        category=_D,
        unit="days",
        expr=_last,
        risk_direction=1,
        services=_SERVICES,
        en="Days the set-top box / modem was offline in the as-of month",
        zh="当月机顶盒/光猫离线天数",
        reason_en="set-top box / modem offline {value} days last month",
        reason_zh="上月机顶盒/光猫离线 {value} 天",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="device_offline_days_avg3",
        family="devices",
        category=_D,
        unit="days",
        expr=_avg3,
        risk_direction=1,
        services=_SERVICES,
        en="Average monthly device offline days, last 3 months",
        zh="近3个月月均机顶盒/光猫离线天数",
        reason_en="device offline {value} days a month over 3 months",
        reason_zh="近3个月终端月均离线 {value} 天",
    ),
    FeatureDef(
        name="device_offline_days_max6",
        family="devices",
        category=_D,
        unit="days",
        expr=_max6,
        risk_direction=1,
        services=_SERVICES,
        en="Most device offline days in one month, last 6 months",
        zh="近6个月单月最多离线天数",
        reason_en="device offline up to {value} days in a month",
        reason_zh="终端单月最多离线 {value} 天",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="device_offline_days_chg",
        family="devices",
        category=_D,
        unit="days",
        expr=_chg,
        risk_direction=1,
        services=_SERVICES,
        en="Device offline days in the as-of month minus the 3-month average before",
        zh="当月离线天数较前3个月均值的增加",
        reason_en="device offline {value} more days than usual",
        reason_zh="终端离线天数比平时多 {value} 天",
        reason_format=ReasonFormat.ABS_DECIMAL,
    ),
)

FAMILY = Family(name="devices", frame="usage", build=usage_frame, features=FEATURES)
