"""Static catalogues of the synthetic operator: services, plans, regions, channels, offers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACQUISITION_CHANNELS",
    "CHURN_REASON_CODES",
    "OFFER_TYPES",
    "PLANS",
    "PROMO_CHANNELS",
    "PROMO_MONTHS",
    "REGIONS",
    "SERVICES",
    "Plan",
    "PlanArrays",
    "Region",
    "plan_arrays",
]

SERVICES: tuple[str, ...] = ("mobile", "broadband", "tv")
MOBILE, BROADBAND, TV = 0, 1, 2

OFFER_TYPES: tuple[str, ...] = (
    "price_discount",
    "data_gift",
    "bill_rebate",
    "dedicated_service",
    "network_fix",
    "renewal_bonus",
    "loyalty_points",
)

# Index = code stored in the world state; -1 means "not churned".
CHURN_REASON_CODES: tuple[str, ...] = (
    "port_out",
    "voluntary_cancel",
    "inactivity",
    "arrears_disconnect",
    "relocation",
    "deceased",
)
PORT_OUT, CANCEL, INACTIVITY, ARREARS, RELOCATION, DECEASED = range(6)

ACQUISITION_CHANNELS: tuple[str, ...] = (
    "营业厅",
    "线上商城",
    "代理渠道",
    "电话营销",
    "校园营销",
    "集团拓展",
)
# Customers won through these channels joined on a first-months discount that ends after
# PROMO_MONTHS: the promotion riders' churn spike.
PROMO_CHANNELS: tuple[str, ...] = ("线上商城", "电话营销", "校园营销")
PROMO_MONTHS = 6


@dataclass(frozen=True)
class Plan:
    """One tariff of the catalogue."""

    plan_id: str
    plan_name: str
    service: int
    prepaid: bool
    monthly_fee: float
    data_quota_mb: float | None
    voice_quota_min: float | None
    speed_mbps: float  # broadband line speed / mobile nominal speed; 0 for TV


def _mobile(fee: int, data_gb: int, voice: int, *, prepaid: bool) -> Plan:
    kind = "预付费畅聊卡" if prepaid else "5G畅享套餐"
    pid = f"{'MP' if prepaid else 'M'}{fee:03d}"
    return Plan(
        pid, f"{kind}{fee}元", 0, prepaid, float(fee), data_gb * 1024.0, float(voice), 300.0
    )


# Ordered by fee within each (service, payment) ladder: downgrades go one step down.
PLANS: tuple[Plan, ...] = (
    _mobile(58, 30, 200, prepaid=False),
    _mobile(88, 50, 300, prepaid=False),
    _mobile(128, 80, 500, prepaid=False),
    _mobile(198, 120, 1000, prepaid=False),
    _mobile(298, 200, 2000, prepaid=False),
    _mobile(19, 10, 100, prepaid=True),
    _mobile(29, 20, 100, prepaid=True),
    _mobile(39, 30, 200, prepaid=True),
    Plan("BB100", "百兆宽带", 1, False, 50.0, None, None, 100.0),
    Plan("BB300", "三百兆宽带", 1, False, 80.0, None, None, 300.0),
    Plan("BB500", "五百兆宽带", 1, False, 100.0, None, None, 500.0),
    Plan("BB1000", "千兆宽带", 1, False, 150.0, None, None, 1000.0),
    Plan("TV025", "有线电视基础包", 2, False, 25.0, None, None, 0.0),
    Plan("TV040", "高清点播包", 2, False, 40.0, None, None, 0.0),
    Plan("TV060", "全家福影视包", 2, False, 60.0, None, None, 0.0),
)


@dataclass(frozen=True)
class PlanArrays:
    """The plan catalogue as aligned numpy arrays (index = plan code)."""

    fee: npt.NDArray[np.float64]
    data_quota: npt.NDArray[np.float64]
    voice_quota: npt.NDArray[np.float64]
    speed: npt.NDArray[np.float64]
    service: npt.NDArray[np.int8]
    prepaid: npt.NDArray[np.bool_]
    down: npt.NDArray[np.int16]  # plan one step cheaper on the same ladder (self if none)
    up: npt.NDArray[np.int16]  # plan one step dearer (self if none)


def plan_arrays() -> PlanArrays:
    """Numpy view of :data:`PLANS` with the downgrade/upgrade ladders."""
    n = len(PLANS)
    down = np.arange(n, dtype=np.int16)
    up = np.arange(n, dtype=np.int16)
    for i in range(1, n):
        same = PLANS[i].service == PLANS[i - 1].service and (
            PLANS[i].prepaid == PLANS[i - 1].prepaid or PLANS[i].service == TV
        )
        if same:
            down[i] = i - 1
            up[i - 1] = i
    return PlanArrays(
        fee=np.array([p.monthly_fee for p in PLANS]),
        data_quota=np.array([p.data_quota_mb or 0.0 for p in PLANS]),
        voice_quota=np.array([p.voice_quota_min or 0.0 for p in PLANS]),
        speed=np.array([p.speed_mbps for p in PLANS]),
        service=np.array([p.service for p in PLANS], dtype=np.int8),
        prepaid=np.array([p.prepaid for p in PLANS], dtype=np.bool_),
        down=down,
        up=up,
    )


@dataclass(frozen=True)
class Region:
    """A city the operator serves; ``id_prefix`` is its 6-digit ID-card area code."""

    name: str
    id_prefix: str
    weight: float


REGIONS: tuple[Region, ...] = (
    Region("北京", "110105", 8.0),
    Region("上海", "310104", 8.0),
    Region("广州", "440106", 6.0),
    Region("深圳", "440305", 6.0),
    Region("杭州", "330106", 5.0),
    Region("南京", "320106", 4.0),
    Region("成都", "510107", 6.0),
    Region("武汉", "420106", 5.0),
    Region("西安", "610113", 4.0),
    Region("重庆", "500103", 6.0),
    Region("天津", "120104", 4.0),
    Region("长沙", "430104", 3.0),
    Region("郑州", "410105", 4.0),
    Region("济南", "370102", 3.0),
    Region("沈阳", "210102", 3.0),
    Region("合肥", "340104", 3.0),
    Region("福州", "350102", 2.0),
    Region("昆明", "530102", 2.0),
    Region("南宁", "450103", 2.0),
    Region("哈尔滨", "230103", 3.0),
)
