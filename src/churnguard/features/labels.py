"""Labels: what happened after the snapshot month (voluntary, passive and value churn).

The labels read the future on purpose; features never do. For a snapshot at
month M (population: subscribers active at the end of M):

- **voluntary** (the training target): a churn dated in the horizon
  ``(M, M + horizon_months]`` with a voluntary reason, plus — for the service
  and payment types where customers never cancel formally (prepaid, cable
  TV) — inactivity: no usage and no payment for ``inactivity_months``
  consecutive months, dated at the start of the silence, which must fall in
  the horizon. For those subscribers the operator's own ``inactivity`` churn
  (recorded later) is ignored, so a silence is counted once, at its start.
- **passive**: arrears disconnection in the horizon; never a positive.
- **natural**: relocation, death and other reasons; never a positive.
- **value**: the bill stays at least ``value_churn_drop`` below the 3-month
  average up to M in each of the next ``value_churn_months`` months, without
  churning.
- **excluded**: tenure below ``exclude_tenure_months`` (promotion riders), or
  an inactivity-type subscriber already silent at M whose silence goes on.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import ibis

from ..config import LabelSettings
from ..contract import NATURAL_CHURN_REASONS
from .aggregates import mean_in
from .context import AsOf, Sources, add_months, parse_month

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

    from ..config import Settings

__all__ = ["build_labels", "label_expr", "label_lag_months", "labeled_as_ofs"]


def label_lag_months(labels: LabelSettings) -> int:
    """Months after M that must be in the data before the labels of M are known."""
    lag = max(labels.horizon_months, labels.value_churn_months)
    if labels.inactivity_service_types or labels.inactivity_payment_types:
        # the last silence may start in the horizon's last month and must last N months
        lag = max(lag, labels.horizon_months + labels.inactivity_months - 1)
    return lag


def _activity(src: Sources, asof: AsOf, months: int) -> ir.Table:
    """Per subscriber, whether there was usage or a payment in M + j, for j in 0..months-1."""
    first, stop = asof.month, add_months(asof.month, months)
    u = src["usage"]
    u = u.filter(u.month >= first, u.month < stop)
    used = (
        (u.voice_minutes.fill_null(0) > 0)
        | (u.calls_out.fill_null(0) > 0)
        | (u.sms.fill_null(0) > 0)
        | (u.data_mb.fill_null(0) > 0)
        | (u.viewing_hours.fill_null(0) > 0)
    )
    b = src["billing"]
    b = b.filter(b.month >= first, b.month < stop)
    rows = u.select("subscriber_id", "month", active=used).union(
        b.select("subscriber_id", "month", active=b.amount_paid.fill_null(0) > 0)
    )
    j = -asof.offset(rows.month)
    return rows.group_by("subscriber_id").aggregate(
        **{f"act_{i}": rows.active.cast("int64").max(where=j == i) for i in range(months)}
    )


def label_expr(backend: Any, *, as_of: date | str, labels: LabelSettings) -> ir.Table:
    """The labels of the snapshot at ``as_of`` as an Ibis expression on ``backend``.

    Columns: ``as_of``, ``subscriber_id``, ``label_voluntary``,
    ``label_inactivity`` (the inactivity part of the voluntary label),
    ``label_passive``, ``label_natural``, ``label_value`` (all 0/1),
    ``tenure_months``, ``excluded`` (bool) and ``exclusion`` (why, or NULL).
    The caller checks that the labels are known (:func:`labeled_as_ofs`).
    """
    asof = AsOf(parse_month(as_of))
    src = Sources(backend)
    s = src["subscribers"]
    pop = s.filter(
        s.activation_date < asof.next_start,
        s.churn_date.isnull() | (s.churn_date >= asof.next_start),
    )
    h, n = labels.horizon_months, labels.inactivity_months
    horizon_end = add_months(asof.month, h + 1)
    months = h + n
    act = _activity(src, asof, months)
    t = pop.left_join(act, "subscriber_id").select(pop, *[act[f"act_{i}"] for i in range(months)])
    active = [t[f"act_{i}"].fill_null(0) == 1 for i in range(months)]
    # silence starting in M+s: active in M+s-1, silent in M+s .. M+s+n-1
    silence = ibis.literal(False)
    for start in range(1, h + 1):
        starts = active[start - 1]
        for i in range(start, start + n):
            starts = starts & ~active[i]
        silence = silence | starts
    reason = t.churn_reason.fill_null("")
    # a passive or natural churn explains a silence: the line was cut or closed
    explained = (
        t.churn_date.notnull()
        & (t.churn_date < add_months(asof.month, months))
        & reason.isin((*labels.passive_reasons, *NATURAL_CHURN_REASONS))
    )
    inactivity_type = t.service_type.isin(labels.inactivity_service_types) | (
        t.payment_type.fill_null("").isin(labels.inactivity_payment_types)
    )
    label_inactivity = inactivity_type & silence & ~explained
    in_horizon = t.churn_date.notnull() & (t.churn_date < horizon_end)
    voluntary_reason = reason.isin(labels.voluntary_reasons) & ~(
        inactivity_type & (reason == "inactivity")
    )
    label_voluntary = (in_horizon & voluntary_reason) | label_inactivity
    already_silent = inactivity_type & ~active[0] & ~active[1]

    value = _value_churn(src, asof, labels)
    t = t.mutate(
        _vol=label_voluntary,
        _inact=label_inactivity,
        _passive=in_horizon & reason.isin(labels.passive_reasons),
        _natural=in_horizon & reason.isin(NATURAL_CHURN_REASONS),
        _tenure=asof.offset(t.activation_date),
        _silent=already_silent,
    )
    value_end = add_months(asof.month, labels.value_churn_months + 1)
    t = t.left_join(value, "subscriber_id").select(t, value.value_drop)
    churned_in_value_window = t.churn_date.notnull() & (t.churn_date < value_end)
    label_value = t.value_drop.fill_null(False) & ~churned_in_value_window & ~t._vol
    exclusion = ibis.cases(
        (t._tenure < labels.exclude_tenure_months, "tenure"),
        (t._silent, "already_inactive"),
        else_=ibis.null("string"),
    )
    return t.select(
        as_of=ibis.literal(asof.month, type="date"),
        subscriber_id=t.subscriber_id,
        label_voluntary=t._vol.cast("int64"),
        label_inactivity=t._inact.cast("int64"),
        label_passive=t._passive.cast("int64"),
        label_natural=t._natural.cast("int64"),
        label_value=label_value.cast("int64"),
        tenure_months=t._tenure.cast("int64"),
        excluded=exclusion.notnull(),
        exclusion=exclusion,
    )


def _value_churn(src: Sources, asof: AsOf, labels: LabelSettings) -> ir.Table:
    """Per subscriber: did the bill stay ``value_churn_drop`` below its 3-month average?"""
    v = labels.value_churn_months
    b = src["billing"]
    b = b.filter(b.month >= asof.months_back(2), b.month < add_months(asof.month, v + 1))
    b = b.mutate(k=asof.offset(b.month))
    agg = b.group_by("subscriber_id").aggregate(
        before=mean_in(b.amount_due, b.k, 0, 2),
        after_max=b.amount_due.cast("float64").max(where=b.k < 0),
        after_n=(b.k < 0).cast("int64").sum(where=b.amount_due.notnull()),
    )
    drop = (
        (agg.before > 0)
        & (agg.after_n == v)
        & (agg.after_max <= agg.before * (1.0 - labels.value_churn_drop))
    )
    return agg.select("subscriber_id", value_drop=drop)


def labeled_as_ofs(
    source: Settings | Any, as_of: date | str, *, labels: LabelSettings | None = None
) -> list[date]:
    """Snapshot months whose labels are known with the data available at ``as_of``.

    A month M qualifies when the label horizon (and the inactivity window)
    after it lies within both ``as_of`` and the warehouse's data.

    Parameters
    ----------
    source
        Workspace :class:`~churnguard.config.Settings` (labels from its
        ``labels`` section) or an Ibis backend holding the contract tables.
    as_of
        The month up to which data may be used.
    labels
        Label settings when ``source`` is a backend (default: the defaults).
    """
    from ..config import Settings
    from .engines import data_months, open_warehouse

    if isinstance(source, Settings):
        labels = source.labels
        con = open_warehouse(source, read_only=True)
        try:
            _, months = data_months(con)
        finally:
            con.disconnect()
    else:
        _, months = data_months(source)
    labels = labels or LabelSettings()
    if not months:
        return []
    last = min(parse_month(as_of), months[-1])
    lag = label_lag_months(labels)
    return [m for m in months if add_months(m, lag) <= last]


def build_labels(settings: Settings, *, as_of: date | str) -> pd.DataFrame:
    """The labels of the snapshot at ``as_of`` (see :func:`label_expr`) as a DataFrame.

    Raises
    ------
    StateError
        The data does not yet cover the label horizon after ``as_of``.
    """
    from ..errors import StateError
    from .engines import open_warehouse

    month = parse_month(as_of)
    known = labeled_as_ofs(settings, date.max.replace(day=1))
    if month not in known:
        last = f"{known[-1]:%Y-%m}" if known else "none"
        raise StateError(
            f"labels of {month:%Y-%m} are not known yet: they need "
            f"{label_lag_months(settings.labels)} months of data after it "
            f"(latest labelled month: {last}); pick an earlier month"
        )
    con = open_warehouse(settings, read_only=True)
    try:
        df: pd.DataFrame = con.execute(label_expr(con, as_of=month, labels=settings.labels))
    finally:
        con.disconnect()
    return df
