"""Monthly behaviour of the active base: network experience, usage and bills.

Each function takes the month's context (aligned arrays over active
subscribers) and returns the contract table for the month plus the numbers
the risk model reads back from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .catalog import BROADBAND, MOBILE, TV, PlanArrays

__all__ = ["MonthContext", "billing", "network", "usage"]

F64 = npt.NDArray[np.float64]
SECONDS_PER_DAY = 86_400


@dataclass
class MonthContext:
    """What every generator of one month needs, aligned over the active subscribers."""

    t: int
    month_day: int  # first day of the month, days since epoch
    ndays: int
    calendar_month: int  # 1..12
    idx: npt.NDArray[np.int64]  # world indices of the active subscribers
    sid: pa.Array  # their subscriber ids
    service: npt.NDArray[np.int8]
    prepaid: npt.NDArray[np.bool_]
    plan: npt.NDArray[np.int16]
    hit: F64  # network incident severity × personal exposure
    cell_bad: F64
    pressure: F64
    intent: F64
    eng: F64  # engagement multiplier (falls with intent; partial in the joining month)
    partial: F64  # share of the month the line existed (1 except in the joining month)
    usage_level: F64
    suspended: npt.NDArray[np.bool_]
    plans: PlanArrays

    @property
    def n(self) -> int:
        return len(self.idx)

    def month_array(self) -> pa.Array:
        return pa.array(np.full(self.n, self.month_day, dtype=np.int32), type=pa.date32())


def _masked(values: npt.NDArray[Any], keep: npt.NDArray[np.bool_]) -> pa.Array:
    return pa.array(values, mask=~keep, type=pa.float64())


def _masked_int(values: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]) -> pa.Array:
    return pa.array(values, mask=~keep, type=pa.int64())


@dataclass(frozen=True)
class NetworkObs:
    """Network numbers recorded for the month (NaN where the service has none)."""

    dropped_call_rate: F64
    download_ratio: F64  # measured speed / plan speed (broadband), NaN otherwise
    outage_minutes: F64
    table: pa.Table


def network(ctx: MonthContext, rng: np.random.Generator) -> NetworkObs:
    """Dropped calls, signal, download speed and outages experienced by each subscriber."""
    n = ctx.n
    mob = ctx.service == MOBILE
    bb = ctx.service == BROADBAND
    hit = ctx.hit
    dcr = np.clip(0.004 * (1 + 2 * ctx.cell_bad) * (1 + 9 * hit) * rng.lognormal(0, 0.3, n), 0, 0.6)
    signal = np.clip(-82 - 14 * ctx.cell_bad - 14 * hit + rng.normal(0, 4, n), -140, -45)
    mob_speed = np.clip(
        120 * (1 - 0.65 * hit) * (1 - 0.3 * ctx.cell_bad) * rng.lognormal(0, 0.25, n), 0.5, 900
    )
    plan_speed = ctx.plans.speed[ctx.plan]
    ratio = np.clip(0.9 - 0.55 * hit - 0.15 * ctx.cell_bad + rng.normal(0, 0.05, n), 0.05, 1.0)
    bb_speed = plan_speed * ratio
    outage = rng.poisson(4 + 10 * ctx.cell_bad, n) + np.where(
        hit > 0, hit * rng.lognormal(np.log(300), 0.6, n), 0.0
    )
    outage = np.clip(np.round(outage, 1), 0, ctx.ndays * 1440)
    download = np.where(mob, mob_speed, bb_speed)
    table = pa.table(
        {
            "subscriber_id": ctx.sid,
            "month": ctx.month_array(),
            "dropped_call_rate": _masked(np.round(dcr, 5), mob),
            "avg_signal_dbm": _masked(np.round(signal, 1), mob),
            "avg_download_mbps": _masked(np.round(download, 1), mob | bb),
            "outage_minutes": pa.array(outage, type=pa.float64()),
        }
    )
    nan = np.full(n, np.nan)
    return NetworkObs(
        dropped_call_rate=np.where(mob, dcr, nan),
        download_ratio=np.where(bb, ratio, nan),
        outage_minutes=outage.astype(np.float64),
        table=table,
    )


# Calendar effects on usage (index 0 = January): Spring Festival calls, summer/winter TV.
_VOICE_SEASON = np.array([1.05, 1.2, 1.0, 1.0, 1.0, 1.0, 0.97, 0.97, 1.0, 1.05, 1.0, 1.02])
_TV_SEASON = np.array([1.2, 1.25, 1.0, 0.95, 0.9, 0.9, 1.05, 1.1, 0.95, 1.05, 1.0, 1.05])
_ROAM_SEASON = np.array([0.12, 0.25, 0.08, 0.08, 0.12, 0.08, 0.15, 0.18, 0.08, 0.2, 0.08, 0.08])


@dataclass(frozen=True)
class UsageObs:
    """Usage numbers the risk model reads (NaN where not applicable)."""

    index: F64  # one usage index per subscriber, on the service's own scale
    calls_in: F64
    calls_out: F64
    call_forward: F64
    offline_days: F64
    overage: F64  # CNY of out-of-bundle charges
    roaming: F64
    table: pa.Table


def usage(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    second_sim: npt.NDArray[np.bool_],
    price_sens: F64,
) -> UsageObs:
    """Voice, SMS, data, viewing hours and device status for the month."""
    n = ctx.n
    mob = ctx.service == MOBILE
    bb = ctx.service == BROADBAND
    tv = ctx.service == TV
    cm = ctx.calendar_month - 1
    eng = ctx.eng * np.where(ctx.suspended, 0.1, 1.0)
    lvl = ctx.usage_level
    voice_q = ctx.plans.voice_quota[ctx.plan]
    data_q = ctx.plans.data_quota[ctx.plan]
    days = ctx.ndays / 30.0
    voice = 260 * lvl * eng * _VOICE_SEASON[cm] * (np.maximum(voice_q, 100) / 300) ** 0.3
    voice = voice * rng.lognormal(0, 0.12, n) * days
    calls_out = voice / 3.2 * rng.lognormal(0, 0.1, n)
    calls_in = calls_out * rng.uniform(0.75, 1.3, n)
    # A second SIM with a rival: the customer calls out on the other line, answers on ours.
    calls_out = np.where(second_sim, calls_out * 0.3, calls_out)
    calls_in = np.where(second_sim, calls_in * 1.4, calls_in)
    sms = rng.poisson(np.maximum(18 * lvl * eng, 0.1))
    growth = 1.0 + 0.01 * ctx.t  # data use grows month over month
    mob_data = data_q * 0.55 * lvl * eng * growth * rng.lognormal(0, 0.12, n) * days
    bb_data = 160_000 * lvl * eng * growth * rng.lognormal(0, 0.12, n) * days
    offnet_share = np.clip(
        0.25 + 0.15 * ctx.pressure * price_sens + 0.05 * np.maximum(ctx.intent, 0), 0, 0.9
    )
    forward = rng.poisson(np.exp(-3.6 + 0.8 * ctx.intent + 2.2 * ctx.pressure * price_sens))
    forward = np.where(mob, forward, 0)
    roaming = np.where(rng.random(n) < _ROAM_SEASON[cm], rng.gamma(2.0, 25.0, n), 0.0)
    active_days = np.clip(
        np.round(ctx.ndays * np.minimum(eng, 1.0) ** 0.6 - rng.integers(0, 3, n)), 0, ctx.ndays
    ).astype(np.int64)
    viewing = 95 * lvl * eng * _TV_SEASON[cm] * rng.lognormal(0, 0.12, n) * days
    offline = np.minimum(
        rng.poisson(0.4 + 3 * ctx.hit + 1.5 * np.maximum(ctx.intent, 0)), ctx.ndays
    ).astype(np.int64)
    data = np.where(mob, mob_data, bb_data)
    index = np.where(mob, voice + mob_data / 20.0, np.where(bb, bb_data / 1000.0, viewing * 3.0))
    overage = np.where(
        mob & ~ctx.prepaid,
        np.maximum(voice - voice_q, 0) * 0.15
        + np.minimum(np.maximum(mob_data - data_q, 0) * 0.003, 60),
        0.0,
    )
    table = pa.table(
        {
            "subscriber_id": ctx.sid,
            "month": ctx.month_array(),
            "voice_minutes": _masked(np.round(voice, 1), mob),
            "calls_out": _masked(np.round(calls_out), mob),
            "calls_in": _masked(np.round(calls_in), mob),
            "sms": _masked(sms.astype(np.float64), mob),
            "data_mb": _masked(np.round(data, 1), mob | bb),
            "offnet_minutes": _masked(np.round(voice * offnet_share, 1), mob),
            "call_forward_offnet": _masked(forward.astype(np.float64), mob),
            "roaming_minutes": _masked(np.round(roaming, 1), mob),
            "active_days": pa.array(active_days, type=pa.int64()),
            "viewing_hours": _masked(np.round(viewing, 1), tv),
            "device_offline_days": _masked_int(offline, bb | tv),
        }
    )
    nan = np.full(n, np.nan)
    return UsageObs(
        index=index,
        calls_in=np.where(mob, np.round(calls_in), nan),
        calls_out=np.where(mob, np.round(calls_out), nan),
        call_forward=np.where(mob, forward, nan),
        offline_days=np.where(bb | tv, offline, nan),
        overage=overage,
        roaming=np.where(mob, roaming, 0.0),
        table=table,
    )


@dataclass(frozen=True)
class BillingObs:
    """Bills and payments: the new arrears state and the month's table."""

    unpaid: npt.NDArray[np.int8]
    arrears: F64
    amount_due: F64
    table: pa.Table


def billing(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    overage: F64,
    roaming: F64,
    pay_risk: F64,
    unpaid: npt.NDArray[np.int8],
    arrears: F64,
) -> BillingObs:
    """Postpaid bills (due on the 20th, paid, late or not at all) and prepaid top-ups."""
    n = ctx.n
    fee = ctx.plans.fee[ctx.plan] * ctx.partial
    due = np.round(fee + overage + roaming * 0.5 * ~ctx.prepaid, 2)
    post = ~ctx.prepaid
    owes = unpaid > 0
    # Reliable payers settle a missed bill at once; risky ones keep missing.
    owing_miss = np.minimum(1.4 * pay_risk + 0.05, 0.9)
    pays = rng.random(n) >= np.where(owes, owing_miss, pay_risk)
    pays = pays | ctx.prepaid
    late = rng.random(n) < 0.12
    pay_dom = np.where(late, rng.integers(20, ctx.ndays, n), rng.integers(0, 19, n))
    paid_amount = np.where(pays, due + np.where(post, arrears, 0.0), 0.0)
    # Prepaid customers top up in round amounts that cover the month.
    topup = np.ceil(due / 10.0) * 10.0
    paid_amount = np.where(ctx.prepaid, topup, paid_amount)
    new_arrears = np.where(post & ~pays, arrears + due, 0.0)
    new_unpaid = np.where(post & ~pays, unpaid + 1, 0).astype(np.int8)
    due_date = np.full(n, ctx.month_day + 19, dtype=np.int32)
    table = pa.table(
        {
            "subscriber_id": ctx.sid,
            "month": ctx.month_array(),
            "amount_due": pa.array(due, type=pa.float64()),
            "amount_paid": pa.array(np.round(paid_amount, 2), type=pa.float64()),
            "due_date": pa.array(due_date, mask=ctx.prepaid, type=pa.date32()),
            "paid_date": pa.array(
                (ctx.month_day + pay_dom).astype(np.int32), mask=~pays, type=pa.date32()
            ),
            "arrears_balance": pa.array(np.round(new_arrears, 2), type=pa.float64()),
        }
    )
    return BillingObs(unpaid=new_unpaid, arrears=new_arrears, amount_due=due, table=table)
