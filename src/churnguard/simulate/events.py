"""Event tables of one month: complaints, channel interactions, plan changes, surveys.

Timestamps are whole seconds inside the month. Within a subscriber and month
every interaction gets its own second residue modulo 64, so clean rows never
collide on the natural key (subscriber_id, ts, channel, kind).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ..contract import TABLES
from .behaviour import SECONDS_PER_DAY, MonthContext
from .catalog import PLANS
from .texts import COMPLAINT_CATEGORIES, complaint_texts, survey_comments

__all__ = ["MonthEvents", "complaints", "interactions", "plan_changes", "surveys"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_TS = pa.timestamp("us")
# the contract's allowed values, in its order (the draws depend on it)
_CHANNELS = TABLES["interactions"].column("channel").allowed or ()
_KINDS = TABLES["interactions"].column("kind").allowed or ()
_SLOT = 64  # second residues per subscriber-month, see module docstring
# Residues: ordinary contacts 0..39, complaints 40..49, cancel 50, port-out 51, plan change 52.
_MAX_ORDINARY = 40


def _seconds(rng: np.random.Generator, ctx: MonthContext, n: int, residue: I64) -> I64:
    """Random whole-second timestamps in the month (mostly 08:00-22:00), with fixed residues."""
    day = rng.integers(0, ctx.ndays, n)
    sec = rng.integers(8 * 3600, 22 * 3600, n)
    raw = (ctx.month_day + day) * SECONDS_PER_DAY + sec
    out: I64 = (raw // _SLOT) * _SLOT + residue
    return out


def _ts(seconds: I64) -> pa.Array:
    return pa.array(seconds * 1_000_000, type=_TS)


@dataclass(frozen=True)
class MonthEvents:
    """Per-subscriber event counts the risk model reads, plus the month's event tables."""

    complaints: I64
    cancel_inquiry: npt.NDArray[np.bool_]
    port_out_query: npt.NDArray[np.bool_]
    downgraded: npt.NDArray[np.bool_]
    new_plan: npt.NDArray[np.int16]
    csat: F64  # NaN where no survey this month
    tables: dict[str, pa.Table]


def complaints(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    quality_sens: F64,
    price_sens: F64,
    unpaid: npt.NDArray[np.int8],
    overage: F64,
    first_id: int,
) -> tuple[I64, pa.Table, pa.Table]:
    """Complaints by category; returns (count per subscriber, complaints, their interactions)."""
    n = ctx.n
    ipos = np.maximum(ctx.intent, 0)
    rates = np.stack(
        [
            0.012 + 0.55 * ctx.hit * (0.3 + quality_sens) + 0.04 * ctx.cell_bad,  # network
            0.006 + 0.05 * (unpaid > 0) + 0.02 * (overage > 30),  # billing
            0.005 + 0.025 * ipos,  # service
            0.003 + 0.05 * ipos * price_sens + 0.03 * ctx.pressure * price_sens,  # price
            np.full(n, 0.003),  # other
        ]
    )
    total = rates.sum(axis=0)
    per_sub = np.minimum(rng.poisson(total), 4)  # at most 4 complaints a month
    who = np.repeat(np.arange(n), per_sub)
    rows = who.size
    # Category of each complaint in proportion to its subscriber's category rates.
    cum = np.cumsum(rates[:, who], axis=0) / total[who]
    cat = (rng.random(rows) > cum[:-1]).sum(axis=0).astype(np.int64)
    rank = np.arange(rows) - (np.cumsum(per_sub) - per_sub)[who]
    created = _seconds(rng, ctx, rows, 40 + rank)
    leaving = rng.random(rows) < 1.0 / (1.0 + np.exp(2.0 - 1.6 * ctx.intent[who]))
    text = complaint_texts(rng, category=cat, service=ctx.service[who], leaving=leaving)
    ch_p = np.array([0.2, 0.1, 0.5, 0.05, 0.1, 0.05, 0.0])
    channel = rng.choice(len(_CHANNELS), size=rows, p=ch_p)
    hours = rng.exponential(36.0, rows)
    resolved = created + (hours * 3600).astype(np.int64)
    month_end = (ctx.month_day + ctx.ndays) * SECONDS_PER_DAY
    open_ = (rng.random(rows) < 0.06) | (resolved >= month_end)
    sat_p = 1.0 / (1.0 + np.exp(-(1.2 - 0.9 * ctx.intent[who] - hours / 48.0)))
    satisfied = rng.random(rows) < sat_p
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    ym = (np.datetime64(int(ctx.month_day), "D").astype("datetime64[M]").astype(str)).replace(
        "-", ""
    )
    cid = _complaint_ids(ym, ids)
    sid = ctx.sid.take(pa.array(who, type=pa.int64()))
    channels = pa.array(list(_CHANNELS)).take(pa.array(channel))
    table = pa.table(
        {
            "complaint_id": cid,
            "subscriber_id": sid,
            "created_at": _ts(created),
            "category": pa.array(list(COMPLAINT_CATEGORIES)).take(pa.array(cat)),
            "channel": channels,
            "text": text,
            "resolved_at": pa.array(resolved * 1_000_000, mask=open_, type=_TS),
            "satisfied": pa.array(satisfied, mask=open_, type=pa.bool_()),
        }
    )
    inter = pa.table(
        {
            "subscriber_id": sid,
            "ts": _ts(created),
            "channel": channels,
            "kind": pa.array(np.full(rows, "complaint", dtype=object), type=pa.string()),
        }
    )
    return per_sub.astype(np.int64), table, inter


def _complaint_ids(ym: str, ids: I64) -> pa.Array:
    digits = ((ids[:, None] // 10 ** np.arange(8, -1, -1)) % 10 + 48).astype(np.uint8)
    prefix = np.frombuffer(("C" + ym).encode(), dtype=np.uint8)
    codes = np.concatenate([np.broadcast_to(prefix, (len(ids), prefix.size)), digits], axis=1)
    width = codes.shape[1]
    raw = np.ascontiguousarray(codes).view(f"S{width}").ravel()
    return pa.array(raw, type=pa.binary(width)).cast(pa.binary()).cast(pa.string())


def interactions(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    cancel: npt.NDArray[np.bool_],
    port: npt.NDArray[np.bool_],
    plan_changed: npt.NDArray[np.bool_],
) -> pa.Table:
    """Ordinary contacts (fewer when disengaged) plus cancel/port-out inquiries and plan changes."""
    n = ctx.n
    lam = (0.9 + 0.4 * ctx.prepaid) * np.minimum(ctx.eng, 1.5) ** 1.5 * ctx.usage_level**0.3
    counts = np.minimum(rng.poisson(lam), _MAX_ORDINARY)
    who = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(who.size) - starts[who]
    ch_p = np.array([0.45, 0.12, 0.15, 0.08, 0.2, 0.0, 0.0])
    channel = rng.choice(len(_CHANNELS), size=who.size, p=ch_p)
    kind_p = np.array([0.4, 0.3, 0.0, 0.0, 0.0, 0.0, 0.2, 0.0, 0.1])
    kind = rng.choice(len(_KINDS), size=who.size, p=kind_p)
    kind = np.where((kind == 1) & ctx.prepaid[who], _KINDS.index("top_up"), kind)
    parts_who = [who]
    parts_res = [rank]
    parts_ch = [channel]
    parts_kind = [kind]
    special_ch = np.array([2, 1, 0, 4])  # call_center, hall, app, wechat
    for mask, kind_name, residue in (
        (cancel, "cancel_inquiry", 50),
        (port, "port_out_query", 51),
        (plan_changed, "plan_change", 52),
    ):
        w = np.flatnonzero(mask)
        parts_who.append(w)
        parts_res.append(np.full(w.size, residue))
        parts_ch.append(special_ch[rng.integers(0, 4, w.size)])
        parts_kind.append(np.full(w.size, _KINDS.index(kind_name)))
    all_who = np.concatenate(parts_who)
    ts = _seconds(rng, ctx, all_who.size, np.concatenate(parts_res).astype(np.int64))
    return pa.table(
        {
            "subscriber_id": ctx.sid.take(pa.array(all_who, type=pa.int64())),
            "ts": _ts(ts),
            "channel": pa.array(list(_CHANNELS)).take(pa.array(np.concatenate(parts_ch))),
            "kind": pa.array(list(_KINDS)).take(pa.array(np.concatenate(parts_kind))),
        }
    )


def plan_changes(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    price_sens: F64,
    value_churner: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int16], pa.Table]:
    """Downgrades (price pressure, intent, value churn) and a few upgrades.

    Returns (downgraded, changed, new plan codes, table).
    """
    n = ctx.n
    down_to = ctx.plans.down[ctx.plan]
    up_to = ctx.plans.up[ctx.plan]
    z = -5.4 + 0.6 * ctx.intent + 2.5 * price_sens * ctx.pressure + 1.6 * value_churner
    down = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))) & (down_to != ctx.plan)
    up = ~down & (rng.random(n) < 0.008 * np.minimum(ctx.eng, 1.5)) & (up_to != ctx.plan)
    changed = down | up
    new_plan = np.where(down, down_to, np.where(up, up_to, ctx.plan)).astype(np.int16)
    w = np.flatnonzero(changed)
    ids = pa.array([p.plan_id for p in PLANS])
    ts = _seconds(rng, ctx, w.size, np.full(w.size, 52, dtype=np.int64))
    table = pa.table(
        {
            "subscriber_id": ctx.sid.take(pa.array(w, type=pa.int64())),
            "changed_at": _ts(ts),
            "from_plan": ids.take(pa.array(ctx.plan[w])),
            "to_plan": ids.take(pa.array(new_plan[w])),
            "fee_delta": pa.array(ctx.plans.fee[new_plan[w]] - ctx.plans.fee[ctx.plan[w]]),
        }
    )
    return down, changed, new_plan, table


def surveys(
    ctx: MonthContext,
    rng: np.random.Generator,
    *,
    complained: I64,
    share: float = 0.06,
) -> tuple[F64, pa.Table]:
    """A random sample answers a satisfaction survey; scores fall with bad network and intent."""
    n = ctx.n
    asked = rng.random(n) < share
    w = np.flatnonzero(asked)
    raw = (
        4.3
        - 0.45 * ctx.intent[w]
        - 1.3 * ctx.hit[w]
        - 0.6 * ctx.cell_bad[w]
        - 0.45 * np.minimum(complained[w], 2)
        + rng.normal(0, 0.6, w.size)
    )
    csat = np.clip(np.round(raw), 1, 5).astype(np.int64)
    nps = np.clip(np.round(2.2 * csat - 1 + rng.normal(0, 1.2, w.size)), 0, 10).astype(np.int64)
    ts = _seconds(rng, ctx, w.size, np.zeros(w.size, dtype=np.int64))
    out = np.full(n, np.nan)
    out[w] = csat
    table = pa.table(
        {
            "subscriber_id": ctx.sid.take(pa.array(w, type=pa.int64())),
            "surveyed_at": _ts(ts),
            "csat": pa.array(csat, type=pa.int64()),
            "nps": pa.array(nps, type=pa.int64()),
            "comment": survey_comments(rng, csat=csat),
        }
    )
    return out, table
