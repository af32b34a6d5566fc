"""Churned customers who come back: the true return probability and the win-back response.

In every month stepped with win-back on (``step(..., winback=frame)``, even an empty
frame), a customer who churned voluntarily (port-out, cancellation, prepaid
inactivity) may return to the operator. The monthly probability depends on

* why they left (hidden, but visible in the data through their churn reason and
  complaints): competitors' customers come back least, price leavers most;
* how long ago: the hazard halves about every four months;
* the win-back offer they got, if any: each offer type multiplies the hazard by
  a true response that depends on the reason and a per-customer noise.

Passive churners (disconnected for arrears) return only rarely, unless they are
offered a debt settlement. A returning customer opens a new subscription — a new
subscriber id — with the same ID number; a former port-out brings its number
back (携号转入), other returners keep their old number about half of the time.

Draws use their own random streams keyed by the seed and month (common random
numbers), so a treatment changes a customer's return only through its probability,
and the world's main stream is untouched by the number of returners drawn.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from .catalog import ARREARS, CANCEL, INACTIVITY, PORT_OUT, TV
from .world import ACTIVE, CHURNED, World, add_subscribers

__all__ = [
    "REASON_CATEGORIES",
    "WINBACK_OFFER_TYPES",
    "apply_returns",
    "hidden_reasons",
    "winback_multipliers",
]

F64 = npt.NDArray[np.float64]

WINBACK_OFFER_TYPES: tuple[str, ...] = (
    "winback_discount",  # 回归优惠: a discounted plan for coming back
    "winback_gift",  # 回归礼包: data and points
    "winback_service",  # 网络改善回访: the network fixed, told personally
    "debt_settlement",  # 欠费减免: settle arrears, then reconnect (passive churners only)
)
REASON_CATEGORIES: tuple[str, ...] = ("competitor", "service", "price", "passive")
_COMPETITOR, _SERVICE, _PRICE, _PASSIVE = range(4)

# Monthly return hazard one month after leaving, by hidden reason category.
_BASE_HAZARD = np.array([0.010, 0.016, 0.022, 0.004])
_HALF_LIFE_MONTHS = 4.0
# True hazard multiplier of each offer (columns) for each reason category (rows).
_RESPONSE = np.array(
    [
        # discount gift  service debt
        [5.0, 2.0, 1.3, 1.0],  # competitor
        [1.8, 1.6, 7.0, 1.0],  # service
        [7.0, 2.6, 1.2, 1.0],  # price
        [1.0, 1.0, 1.0, 8.0],  # passive (arrears)
    ]
)
_STATE_FILE = "winback_returned.parquet"
_MAX_P = 0.9


def hidden_reasons(w: World) -> npt.NDArray[np.int8]:
    """Why each subscriber left, as a category code (-1 for those who have not left)."""
    out = np.full(w.size, -1, dtype=np.int8)
    churned = w.state == CHURNED
    voluntary = churned & np.isin(w.churn_reason, (PORT_OUT, CANCEL, INACTIVITY))
    quality = w.quality_sens.astype(np.float64) * (0.5 + w.cell_bad.astype(np.float64))
    price = w.price_sens.astype(np.float64) * 0.9
    cat = np.where(quality > price, _SERVICE, _PRICE)
    cat = np.where(w.churn_reason == PORT_OUT, _COMPETITOR, cat)
    out[voluntary] = cat[voluntary]
    out[churned & (w.churn_reason == ARREARS)] = _PASSIVE
    return out


def winback_multipliers(w: World) -> F64:
    """True hazard multiplier of every subscriber × win-back offer type."""
    cats = hidden_reasons(w)
    noise = np.random.default_rng([w.seed, 9_201]).standard_normal(
        (w.size, len(WINBACK_OFFER_TYPES))
    )
    base = _RESPONSE[np.maximum(cats, 0)]
    # an offer never makes a customer less likely to come back than no offer
    mult: F64 = np.where(cats[:, None] >= 0, np.maximum(base * np.exp(0.35 * noise), 1.0), 1.0)
    # a discount or gift does not reconnect a line barred for debt; a settlement only does
    passive = cats == _PASSIVE
    mult[passive, :3] = 1.0
    mult[~passive, 3] = 1.0
    return mult


def _returned(truth_dir_table: pa.Table | None, size: int) -> npt.NDArray[np.bool_]:
    done = np.zeros(size, dtype=bool)
    if truth_dir_table is not None and truth_dir_table.num_rows:
        done[truth_dir_table.column("subscriber_index").to_numpy()] = True
    return done


def apply_returns(
    w: World,
    treatments: pd.DataFrame | None,
    *,
    returned_before: pa.Table | None,
    first_day: int,
    last_day: int,
    enabled: bool = True,
) -> tuple[pd.DataFrame, pa.Table]:
    """Draw this month's returns and open the returners' new subscriptions.

    Parameters
    ----------
    treatments
        ``subscriber_index`` (the churned subscriber) and ``offer_code`` (index in
        :data:`WINBACK_OFFER_TYPES`); ``None`` when no win-back campaign runs.
    returned_before
        Earlier returns (``subscriber_index``, ``new_index``, ``month``): a customer
        comes back once.
    enabled
        ``False``: nobody returns this month (the world state is left untouched).

    Returns
    -------
    The log of treated customers (probability and outcome with and without the
    offer) and the table of returns drawn this month (old and new index).
    """
    t = w.t
    size = w.size
    cats = hidden_reasons(w)
    done = _returned(returned_before, size)
    # silent lines not yet deactivated are still on the books: they cannot "return"
    eligible = (cats >= 0) & (w.state == CHURNED) & ~done & enabled
    months_gone = np.maximum((first_day - w.churn_day.astype(np.int64)) / 30.44, 0.0)
    hazard = _BASE_HAZARD[np.maximum(cats, 0)] * np.exp2(-months_gone / _HALF_LIFE_MONTHS)
    hazard = np.where(eligible, hazard, 0.0)
    p0 = 1.0 - np.exp(-hazard)
    p1 = p0.copy()
    log_cols = ["subscriber_index", "offer_type", "p_untreated", "p_treated"]
    if treatments is not None and len(treatments):
        idx = treatments["subscriber_index"].to_numpy(np.int64)
        offer = treatments["offer_code"].to_numpy(np.int64)
        mult = winback_multipliers(w)[idx, offer]
        p1[idx] = np.minimum(1.0 - np.exp(-hazard[idx] * mult), _MAX_P)
        log = pd.DataFrame(
            {
                "subscriber_index": idx,
                "offer_type": np.asarray(WINBACK_OFFER_TYPES, dtype=object)[offer],
                "p_untreated": p0[idx],
                "p_treated": p1[idx],
            }
        )
    else:
        idx = np.zeros(0, dtype=np.int64)
        log = pd.DataFrame({c: [] for c in log_cols})
    u = np.random.default_rng([w.seed, 9_202, t]).random(size)
    back = np.flatnonzero(eligible & (u < p1)).astype(np.int64)
    log["returned_untreated"] = (u[idx] < p0[idx]) & eligible[idx]
    log["returned_treated"] = (u[idx] < p1[idx]) & eligible[idx]
    new = _open_subscriptions(w, back, first_day=first_day, last_day=last_day)
    returns = pa.table(
        {
            "subscriber_index": pa.array(back, type=pa.int64()),
            "new_index": pa.array(new, type=pa.int64()),
            "month": pa.array(np.full(back.size, t, dtype=np.int32)),
            "reason_category": pa.array(
                np.asarray(REASON_CATEGORIES, dtype=object)[cats[back]].tolist(), type=pa.string()
            ),
        }
    )
    return log, returns


def _open_subscriptions(
    w: World, old: npt.NDArray[np.int64], *, first_day: int, last_day: int
) -> npt.NDArray[np.int64]:
    """New subscriber rows for returning customers, carrying their person and traits."""
    if old.size == 0:
        return np.zeros(0, dtype=np.int64)
    main_rng = w.rng
    w.rng = np.random.default_rng([w.seed, 9_203, w.t])
    try:
        new = add_subscribers(
            w, int(old.size), mix=w.mix, first_day=first_day, last_day=last_day, initial=False
        )
        keep_number = (w.churn_reason[old] == PORT_OUT) | (w.churn_reason[old] == INACTIVITY)
        keep_number |= w.rng.random(old.size) < 0.5
    finally:
        w.rng = main_rng
    # the same person, same service and home region; hidden traits come back with them
    for name in (
        "service",
        "prepaid",
        "region",
        "plan",
        "birth_day",
        "male",
        "opt_out",
        "price_sens",
        "quality_sens",
        "loyalty",
        "usage_level",
        "pay_risk",
        "cell_bad",
        "second_sim",
        "value_churner",
        "sleeping_dog",
    ):
        arr = getattr(w, name)
        arr[new] = arr[old]
    w.opt_out[new] = False  # a customer who asks to come back accepts being contacted
    w.pay_risk[new] = np.minimum(w.pay_risk[new], np.float32(0.05))  # debts were settled
    w.state[new] = ACTIVE
    no_contract = w.prepaid[new] | (w.service[new] == TV)
    w.contract_end_day[new[no_contract]] = -1
    w.contract_end_month[new[no_contract]] = -10_000
    assert w.people is not None
    people = w.people
    cols = {}
    for col in people.column_names:
        values = people.column(col).combine_chunks()
        take = np.arange(people.num_rows, dtype=np.int64)
        carry = np.ones(old.size, dtype=bool) if col != "msisdn" else keep_number
        if col == "email":
            carry = keep_number
        take[new[carry]] = old[carry]
        cols[col] = values.take(pa.array(take))
    w.people = pa.table(cols)
    w.msisdn_value[new[keep_number]] = w.msisdn_value[old[keep_number]]
    return new
