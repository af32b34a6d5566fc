"""One month of the world: apply last month's decisions, live the month, decide the next.

Order inside month ``t``:

1. churn decided at the end of ``t-1`` takes effect (formal churn dated inside
   ``t``; silent churners stop producing rows; passive and natural churn);
   silent customers are deactivated two months after their silence began;
   new customers join;
2. hidden intent moves with regional incidents, competitor pressure, contract
   end, group decisions and the customer's own traits;
3. network, usage, bills, complaints, interactions, plan changes and surveys
   are generated for every active subscriber;
4. the true probability of voluntary churn in ``t+1`` is computed from what was
   recorded, and the outcome is drawn (common random numbers, so a treatment
   applied later changes the outcome only through the probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from .behaviour import MonthContext, billing, network, usage
from .catalog import (
    ACQUISITION_CHANNELS,
    ARREARS,
    CANCEL,
    DECEASED,
    INACTIVITY,
    MOBILE,
    OFFER_TYPES,
    PORT_OUT,
    PROMO_CHANNELS,
    PROMO_MONTHS,
    RELOCATION,
    TV,
    plan_arrays,
)
from .events import complaints, interactions, plan_changes, surveys
from .identities import age_on, subscriber_ids
from .regions import HORIZON_MONTHS, RegionTimeline
from .risk import RiskInputs, voluntary_churn_probability
from .world import ACTIVE, CHURNED, SILENT, World, add_subscribers, month_day

__all__ = ["MonthResult", "advance_month", "apply_treatments"]

F64 = npt.NDArray[np.float64]
NEW_CUSTOMER_RATE = 0.022  # monthly activations per active subscriber: keeps the base stable


@dataclass(frozen=True)
class MonthResult:
    """The month's contract tables, truth rows and headline figures."""

    t: int
    tables: dict[str, pa.Table]
    truth: pa.Table
    group_events: pa.Table  # VPMN groups that decided to leave together this month
    active: int
    voluntary_rate: float  # share of this month's active base that churns voluntarily in t+1


def _sigmoid(z: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-z))
    return out


def _apply_pending(w: World, t: int, m0: int, ndays: int) -> None:
    """Make last month's churn decisions happen in month ``t``."""
    rng = w.rng
    act = w.state == ACTIVE
    vol = w.pend_vol & act
    silent = vol & w.pend_silent
    formal = vol & ~silent
    other = (w.pend_other >= 0) & act & ~vol
    w.state[silent] = SILENT
    w.silent_since[silent] = t
    w.churn_reason[silent] = INACTIVITY
    leave = formal | other
    w.state[leave] = CHURNED
    w.churn_day[leave] = m0 + rng.integers(0, ndays, int(leave.sum()))
    w.churn_reason[formal] = w.pend_kind[formal]
    w.churn_reason[other] = w.pend_other[other]
    w.touched_month[leave] = t
    # The operator deactivates silent lines after two idle months.
    deact = (w.state == SILENT) & (w.silent_since + 2 == t)
    w.state[deact] = CHURNED
    w.churn_day[deact] = m0
    w.touched_month[deact] = t
    w.pend_vol[:] = False
    w.pend_other[:] = -1


def apply_treatments(w: World, treatments: pd.DataFrame | None, multipliers: F64) -> pd.DataFrame:
    """Re-decide the pending voluntary churn of treated subscribers.

    ``multipliers`` is the world's true offer-response matrix. Returns a log with
    one row per applied treatment (probability before/after, outcome untreated/treated).
    """
    cols = [
        "subscriber_index",
        "offer_type",
        "p_untreated",
        "p_treated",
        "churned_untreated",
        "churned_treated",
    ]
    if treatments is None or treatments.empty:
        return pd.DataFrame({c: [] for c in cols})
    idx = treatments["subscriber_index"].to_numpy(np.int64)
    offer = treatments["offer_code"].to_numpy(np.int64)
    mult = multipliers[idx, offer]
    p0 = w.pend_p[idx]
    p1 = np.minimum(p0 * mult, 1.0)
    before = w.pend_vol[idx].copy()
    after = (w.pend_u[idx] < p1) & (w.state[idx] == ACTIVE)
    w.pend_vol[idx] = after
    w.pend_p[idx] = p1
    # The effect lasts: a helpful offer calms the customer's intent, a backfire stirs it.
    w.intent[idx] = np.where(mult < 1.0, w.intent[idx] * mult, w.intent[idx] + 0.5).astype(
        np.float32
    )
    renew = (offer == OFFER_TYPES.index("renewal_bonus")) & (w.contract_end_day[idx] >= 0)
    r = idx[renew]
    w.contract_end_month[r] = np.maximum(w.contract_end_month[r], w.t) + 12
    w.contract_end_day[r] = (
        month_day(w.start, w.contract_end_month[r].astype(np.int64)) + 14
    ).astype(np.int32)
    w.touched_month[r] = w.t
    return pd.DataFrame(
        {
            "subscriber_index": idx,
            "offer_type": np.asarray(OFFER_TYPES, dtype=object)[offer],
            "p_untreated": p0,
            "p_treated": p1,
            "churned_untreated": before,
            "churned_treated": after,
        }
    )


def advance_month(w: World, *, timeline: RegionTimeline) -> MonthResult:
    """Simulate month ``w.t`` and move the world to ``w.t + 1``."""
    t = w.t
    if t + 1 >= HORIZON_MONTHS:
        from ..errors import StateError

        raise StateError(f"the world can be simulated for at most {HORIZON_MONTHS} months")
    rng = w.rng
    plans = plan_arrays()
    m0 = int(month_day(w.start, t))
    m1 = int(month_day(w.start, t + 1))
    ndays = m1 - m0
    cal = int(np.datetime64(m0, "D").astype("datetime64[M]").astype(np.int64) % 12 + 1)

    _apply_pending(w, t, m0, ndays)
    n_active_before = int((w.state == ACTIVE).sum())
    n_new = int(rng.poisson(NEW_CUSTOMER_RATE * n_active_before)) if t > 0 else 0
    if n_new:
        add_subscribers(w, n_new, mix=w.mix, first_day=m0, last_day=m1 - 1, initial=False)

    idx = np.flatnonzero(w.state == ACTIVE).astype(np.int64)
    n = idx.size
    region = w.region[idx]
    group = w.group[idx]
    in_group = group >= 0
    n_groups = len(w.group_region)
    # VPMN groups deciding to leave this month: members get restless together.
    g_hazard = 0.005 + 0.012 * timeline.pressure[w.group_region, t] if n_groups else np.zeros(0)
    g_deciding = rng.random(n_groups) < g_hazard
    deciding = np.zeros(n, dtype=bool)
    deciding[in_group] = g_deciding[group[in_group]]

    exposure = rng.uniform(0.3, 1.0, n)
    hit = timeline.incident[region, t] * exposure
    pressure = timeline.pressure[region, t]
    price_sens = w.price_sens[idx].astype(np.float64)
    quality_sens = w.quality_sens[idx].astype(np.float64)
    loyalty = w.loyalty[idx].astype(np.float64)
    cell_bad = w.cell_bad[idx].astype(np.float64)
    tenure = (t - w.activation_month[idx]).astype(np.int64)
    has_contract = w.contract_end_day[idx] >= 0
    promo_codes = [ACQUISITION_CHANNELS.index(c) for c in PROMO_CHANNELS]
    promo_ends = np.isin(w.acquisition[idx], promo_codes) & (tenure == PROMO_MONTHS - 1)
    mte = np.where(has_contract, w.contract_end_month[idx] - t, -10_000).astype(np.int64)
    intent = (
        0.6 * w.intent[idx]
        + 1.3 * price_sens * pressure
        + 1.6 * quality_sens * hit
        + 0.25 * cell_bad
        + 0.9 * (has_contract & (mte >= 0) & (mte <= 1))
        + 0.7 * promo_ends
        + 4.0 * deciding
        + 0.3 * w.second_sim[idx]
        - 0.3 * loyalty
        - 0.3
        + rng.normal(0, 0.45, n)
    )
    w.intent[idx] = intent.astype(np.float32)
    eng = np.exp(-0.5 * np.maximum(intent, 0) + rng.normal(0, 0.1, n))
    # Customers who joined this month use (and pay for) only the rest of it.
    partial = np.where(w.activation_month[idx] == t, (m1 - w.activation_day[idx]) / ndays, 1.0)
    eng = eng * partial
    ctx = MonthContext(
        t=t,
        month_day=m0,
        ndays=ndays,
        calendar_month=cal,
        idx=idx,
        sid=subscriber_ids(idx),
        service=w.service[idx],
        prepaid=w.prepaid[idx],
        plan=w.plan[idx],
        hit=hit,
        cell_bad=cell_bad,
        pressure=pressure,
        intent=intent,
        eng=eng,
        partial=partial,
        usage_level=w.usage_level[idx].astype(np.float64),
        suspended=w.unpaid[idx] >= 2,
        plans=plans,
    )

    net = network(ctx, rng)
    use = usage(ctx, rng, second_sim=w.second_sim[idx], price_sens=price_sens)
    bill = billing(
        ctx,
        rng,
        overage=use.overage,
        roaming=use.roaming,
        pay_risk=w.pay_risk[idx].astype(np.float64),
        unpaid=w.unpaid[idx],
        arrears=w.arrears[idx],
    )
    n_compl, compl_table, compl_inter = complaints(
        ctx,
        rng,
        quality_sens=quality_sens,
        price_sens=price_sens,
        unpaid=w.unpaid[idx],
        overage=use.overage,
        first_id=w.next_complaint,
    )
    w.next_complaint += compl_table.num_rows
    mob = ctx.service == MOBILE
    cancel = rng.random(n) < _sigmoid(-4.3 + 1.15 * intent)
    port = mob & (rng.random(n) < _sigmoid(-5.0 + 1.15 * intent + 1.6 * pressure * price_sens))
    downgraded, changed, new_plan, changes_table = plan_changes(
        ctx, rng, price_sens=price_sens, value_churner=w.value_churner[idx]
    )
    inter = interactions(ctx, rng, cancel=cancel, port=port, plan_changed=changed)
    csat_now, survey_table = surveys(ctx, rng, complained=n_compl + w.compl_1[idx])

    # ---- recorded state rolls forward -------------------------------------------
    hist = np.stack([w.use_1[idx], w.use_2[idx], w.use_3[idx]]).astype(np.float64)
    seen = (~np.isnan(hist)).sum(axis=0)
    use_before = np.where(seen > 0, np.nansum(hist, axis=0) / np.maximum(seen, 1), np.nan)
    complaints_3m = (n_compl + w.compl_1[idx] + w.compl_2[idx]).astype(np.float64)
    recent_csat = np.where(t - w.csat_month[idx] <= 2, w.last_csat[idx], np.nan)
    recent_csat = np.where(np.isnan(csat_now), recent_csat, csat_now)
    downgraded_3m = downgraded | (t - w.downgrade_month[idx] <= 2)
    inquiring = (cancel | port).astype(np.float64)
    share = np.zeros(n)
    if in_group.any():
        g = group[in_group]
        g_inq = np.bincount(g, weights=inquiring[in_group], minlength=n_groups)
        g_n = np.bincount(g, minlength=n_groups)
        share[in_group] = g_inq[g] / np.maximum(g_n[g], 1)

    risk = RiskInputs(
        service=ctx.service,
        prepaid=ctx.prepaid,
        usage_now=use.index,
        usage_before=use_before,
        cancel_inquiry=cancel,
        port_out_query=port,
        call_forward=use.call_forward,
        complaints_3m=complaints_3m,
        dropped_call_rate=net.dropped_call_rate,
        download_ratio=net.download_ratio,
        outage_minutes=net.outage_minutes,
        offline_days=use.offline_days,
        months_to_contract_end=mte,
        has_contract=has_contract,
        downgraded_3m=downgraded_3m,
        csat_recent=recent_csat,
        group_inquiry_share=share,
        calls_in=use.calls_in,
        calls_out=use.calls_out,
        tenure_months=tenure,
        promotion_ends=promo_ends,
        unpaid_months=bill.unpaid,
        suspended=ctx.suspended,
        loyalty=loyalty,
        next_calendar_month=cal % 12 + 1,
    )
    p = voluntary_churn_probability(risk)
    u = rng.random(n)
    if in_group.any():  # a deciding group shares one draw: its members leave together
        g_u = rng.random(n_groups)
        shared = deciding
        u[shared] = g_u[group[shared]]
    churn = u < p
    prepaid_mob = mob & ctx.prepaid
    silent = np.where(
        prepaid_mob, rng.random(n) < 0.75, (ctx.service == TV) & (rng.random(n) < 0.7)
    )
    portish = port | (np.nan_to_num(use.call_forward) > 0)
    port_p = np.where(prepaid_mob, 1.0, 0.45 + 0.45 * portish)
    kind = np.where(mob & (rng.random(n) < port_p), PORT_OUT, CANCEL).astype(np.int8)
    age = age_on(w.birth_day[idx], m0)
    natural = rng.random(n)
    other = np.full(n, -1, dtype=np.int8)
    other[natural < 0.0012] = RELOCATION
    other[natural > 1 - 0.00002 * np.exp((age - 40) / 12.0)] = DECEASED
    other[bill.unpaid >= 3] = ARREARS

    # ---- write back -------------------------------------------------------------
    w.use_3[idx] = w.use_2[idx]
    w.use_2[idx] = w.use_1[idx]
    w.use_1[idx] = use.index.astype(np.float32)
    w.compl_2[idx] = w.compl_1[idx]
    w.compl_1[idx] = np.minimum(n_compl, 100).astype(np.int8)
    w.last_csat[idx] = np.where(np.isnan(csat_now), w.last_csat[idx], csat_now).astype(np.float32)
    w.csat_month[idx] = np.where(np.isnan(csat_now), w.csat_month[idx], t)
    w.downgrade_month[idx] = np.where(downgraded, t, w.downgrade_month[idx])
    suspended_before = w.unpaid[idx] >= 2
    w.unpaid[idx] = bill.unpaid
    w.arrears[idx] = bill.arrears
    w.plan[idx] = new_plan
    status_changed = changed | (suspended_before != (bill.unpaid >= 2))
    w.touched_month[idx[status_changed]] = t
    w.pend_vol[idx] = churn
    w.pend_u[idx] = u
    w.pend_p[idx] = p
    w.pend_silent[idx] = silent
    w.pend_kind[idx] = kind
    w.pend_other[idx] = other
    w.t = t + 1

    month = pa.array(np.full(n, m0, dtype=np.int32), type=pa.date32())
    truth = pa.table(
        {
            "subscriber_id": ctx.sid,
            "month": month,
            "p_voluntary_churn": pa.array(p),
            "churned_voluntary": pa.array(churn),
        }
    )
    tables = {
        "usage": use.table,
        "billing": bill.table,
        "network_quality": net.table,
        "complaints": compl_table,
        "interactions": pa.concat_tables([inter, compl_inter]),
        "plan_changes": changes_table,
        "surveys": survey_table,
    }
    deciding_groups = np.flatnonzero(g_deciding).astype(np.int64)
    group_events = pa.table(
        {
            "group_id": pa.array([f"G{g:06d}" for g in deciding_groups], type=pa.string()),
            "month": pa.array(np.full(deciding_groups.size, m0, dtype=np.int32), type=pa.date32()),
            "members_active": pa.array(
                np.bincount(group[in_group], minlength=n_groups)[deciding_groups].astype(np.int64)
            ),
        }
    )
    return MonthResult(
        t=t,
        tables=tables,
        truth=truth,
        group_events=group_events,
        active=n,
        voluntary_rate=float(churn.mean()) if n else 0.0,
    )
