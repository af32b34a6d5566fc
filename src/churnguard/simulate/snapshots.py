"""Whole-table views of the world: the subscribers and plans tables, offer response, traits."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .catalog import (
    ACQUISITION_CHANNELS,
    CHURN_REASON_CODES,
    OFFER_TYPES,
    PLANS,
    REGIONS,
    SERVICES,
    plan_arrays,
)
from .identities import age_on, subscriber_ids
from .risk import offer_multipliers
from .world import ACTIVE, CHURNED, World

__all__ = [
    "offer_matrix",
    "offer_response_table",
    "plans_table",
    "subscribers_table",
    "traits_table",
]


def _strings(
    values: tuple[str, ...], codes: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    arr = pa.array(list(values), type=pa.string()).take(pa.array(np.where(codes < 0, 0, codes)))
    if mask is not None:
        arr = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)
    return arr


def subscribers_table(w: World, idx: npt.NDArray[np.int64], *, reference_day: int) -> pa.Table:
    """The subscribers rows of ``idx`` as the operator's CRM sees them now.

    Silent customers not yet deactivated still look active; ``reference_day`` is
    the day ages are computed at (the end of the simulated period).
    """
    assert w.people is not None
    pa_ = plan_arrays()
    everyone = idx.size == w.size and bool((idx == np.arange(w.size)).all())
    people = w.people if everyone else w.people.take(pa.array(idx, type=pa.int64()))
    state = w.state[idx]
    churned = state == CHURNED
    suspended = (state == ACTIVE) & (w.unpaid[idx] >= 2)
    status = np.where(churned, 2, np.where(suspended, 1, 0))
    group = w.group[idx]
    plan = w.plan[idx]
    contract_end = w.contract_end_day[idx]
    reason = np.where(churned, w.churn_reason[idx], -1).astype(np.int64)
    male = w.male[idx]
    return pa.table(
        {
            "subscriber_id": subscriber_ids(idx),
            "msisdn": people.column("msisdn").combine_chunks(),
            "name": people.column("name").combine_chunks(),
            "id_number": people.column("id_number").combine_chunks(),
            "email": people.column("email").combine_chunks(),
            "service_type": _strings(SERVICES, w.service[idx].astype(np.int64)),
            "activation_date": pa.array(w.activation_day[idx], type=pa.date32()),
            "plan_id": _strings(tuple(p.plan_id for p in PLANS), plan.astype(np.int64)),
            "monthly_fee": pa.array(pa_.fee[plan], type=pa.float64()),
            "contract_end_date": pa.array(contract_end, mask=contract_end < 0, type=pa.date32()),
            "payment_type": _strings(("postpaid", "prepaid"), w.prepaid[idx].astype(np.int64)),
            "customer_type": _strings(("individual", "group"), (group >= 0).astype(np.int64)),
            "group_id": _group_ids(group),
            "region": _strings(tuple(r.name for r in REGIONS), w.region[idx].astype(np.int64)),
            "acquisition_channel": _strings(
                ACQUISITION_CHANNELS, w.acquisition[idx].astype(np.int64)
            ),
            "age": pa.array(age_on(w.birth_day[idx], reference_day), type=pa.int64()),
            "gender": _strings(("F", "M"), male.astype(np.int64)),
            "status": _strings(("active", "suspended", "churned"), status.astype(np.int64)),
            "churn_date": pa.array(w.churn_day[idx], mask=~churned, type=pa.date32()),
            "churn_reason": _strings(CHURN_REASON_CODES, reason, mask=reason < 0),
            "marketing_opt_out": pa.array(w.opt_out[idx], type=pa.bool_()),
        }
    )


def _group_ids(group: npt.NDArray[np.int32]) -> pa.Array:
    """``G000123`` for VPMN group 123; null for individual customers."""
    digits = pc.utf8_lpad(pa.array(np.maximum(group, 0), type=pa.int64()).cast(pa.string()), 6, "0")
    ids = pc.binary_join_element_wise(pa.scalar("G"), digits, "")
    return pc.if_else(pa.array(group < 0), pa.scalar(None, pa.string()), ids)


def plans_table() -> pa.Table:
    """The plan catalogue."""
    return pa.table(
        {
            "plan_id": [p.plan_id for p in PLANS],
            "plan_name": [p.plan_name for p in PLANS],
            "service_type": [SERVICES[p.service] for p in PLANS],
            "monthly_fee": [p.monthly_fee for p in PLANS],
            "data_quota_mb": pa.array([p.data_quota_mb for p in PLANS], type=pa.float64()),
            "voice_quota_min": pa.array([p.voice_quota_min for p in PLANS], type=pa.float64()),
        }
    )


def offer_matrix(w: World) -> npt.NDArray[np.float64]:
    """True next-month churn-probability multiplier of every subscriber × offer type."""
    n = w.size
    # Own stream keyed by the seed: row i is the same however many subscribers exist.
    noise = np.random.default_rng([w.seed, 9_001]).standard_normal((n, len(OFFER_TYPES)))
    return offer_multipliers(
        service=w.service,
        prepaid=w.prepaid,
        has_contract=w.contract_end_day >= 0,
        price_sens=w.price_sens.astype(np.float64),
        quality_sens=w.quality_sens.astype(np.float64),
        cell_bad=w.cell_bad.astype(np.float64),
        usage_level=w.usage_level.astype(np.float64),
        loyalty=w.loyalty.astype(np.float64),
        fee=plan_arrays().fee[w.plan],
        sleeping_dog=w.sleeping_dog,
        noise=noise,
    )


def offer_response_table(w: World, multipliers: npt.NDArray[np.float64]) -> pa.Table:
    """Long table: subscriber_id, offer_type, p_multiplier, sleeping_dog."""
    n, k = multipliers.shape
    idx = np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "subscriber_id": subscriber_ids(idx).take(pa.array(np.repeat(idx, k))),
            "offer_type": pa.array(list(OFFER_TYPES)).take(pa.array(np.tile(np.arange(k), n))),
            "p_multiplier": pa.array(multipliers.ravel()),
            "sleeping_dog": pa.array(np.repeat(w.sleeping_dog, k)),
        }
    )


def traits_table(w: World) -> pa.Table:
    """Hidden traits per subscriber, for analysis of the truth (never in the contract tables)."""
    idx = np.arange(w.size, dtype=np.int64)
    group = w.group
    return pa.table(
        {
            "subscriber_id": subscriber_ids(idx),
            "price_sensitivity": pa.array(w.price_sens),
            "quality_sensitivity": pa.array(w.quality_sens),
            "loyalty": pa.array(w.loyalty),
            "usage_level": pa.array(w.usage_level),
            "payment_risk": pa.array(w.pay_risk),
            "coverage_problem": pa.array(w.cell_bad),
            "second_sim": pa.array(w.second_sim),
            "value_churner": pa.array(w.value_churner),
            "sleeping_dog": pa.array(w.sleeping_dog),
            "group_index": pa.array(group, mask=group < 0),
            "silent_since": pa.array(w.silent_since, mask=w.silent_since < 0),
        }
    )
