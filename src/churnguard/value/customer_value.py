"""Customer value as one Ibis expression: ARPU, margin, RFM, CLV, tier, lifecycle, loyalty.

Runs wherever the contract tables live (DuckDB by default, Spark at scale).
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from ..config import ValueSettings
from ..months import add_months, month_start

__all__ = ["active_subscribers", "customer_value"]


def active_subscribers(subscribers: ir.Table, *, as_of: date) -> ir.Table:
    """Subscribers active at the end of the as-of month, as it was known then.

    A churn dated after the month is not yet known at the snapshot, so such
    customers count as active.
    """
    end = add_months(as_of, 1)
    return subscribers.filter(
        subscribers.activation_date < end,
        subscribers.churn_date.isnull() | (subscribers.churn_date >= end),
    )


def _monthly_window(table: ir.Table, *, first: date, last: date) -> ir.Table:
    return table.filter(table.month >= first, table.month <= last)


def customer_value(
    tables: dict[str, ir.Table],
    *,
    as_of: date,
    settings: ValueSettings,
    risk: ir.Table | None = None,
) -> ir.Table:
    """One row per active subscriber with value, tier, lifecycle and (given risk) CLV.

    Parameters
    ----------
    tables
        Contract tables by name; ``subscribers`` is required, ``billing`` and
        ``usage`` are used when present.
    as_of
        The month (any day in it) whose end the values describe.
    settings
        Margin, CLV horizon and discount, tier shares, lifecycle thresholds.
    risk
        Optional table with ``subscriber_id`` and ``churn_probability`` (monthly
        probability); adds ``clv``, ``risk_band`` and ``loyalty``.
    """
    m = month_start(as_of)
    subs = active_subscribers(tables["subscribers"], as_of=m)
    month_end = add_months(m, 1) - timedelta(days=1)
    tenure = (ibis.literal(month_end).year() - subs.activation_date.year()) * 12 + (
        ibis.literal(month_end).month() - subs.activation_date.month()
    )
    base = subs.select(
        "subscriber_id",
        "service_type",
        "payment_type",
        "customer_type",
        "region",
        fee=subs.monthly_fee.cast("float64"),
        tenure_months=tenure.cast("int64"),
    )

    billing = tables.get("billing")
    if billing is not None:
        paid = billing.amount_paid.fill_null(0)
        bill = billing.select("subscriber_id", "month", due=billing.amount_due, paid=paid)
        b6 = _monthly_window(bill, first=add_months(m, -5), last=m)
        in3 = b6.month >= add_months(m, -2)
        rev = b6.join(base.select("subscriber_id", "payment_type"), "subscriber_id")
        revenue = ibis.cases(
            (rev.payment_type == "prepaid", rev.paid), else_=rev.due.fill_null(rev.paid)
        )
        rev = rev.mutate(revenue=revenue, in3=in3, topped=rev.paid > 0)
        agg = rev.group_by("subscriber_id").aggregate(
            arpu_3m=rev.revenue.mean(where=rev.in3),
            arpu_6m=rev.revenue.mean(),
            last_topup=rev.month.max(where=rev.topped),
            frequency_6m=rev.topped.sum().cast("int64"),
            monetary_6m=rev.paid.sum(),
        )
        base = base.left_join(agg, "subscriber_id").drop("subscriber_id_right")
        arpu3 = base.arpu_3m.fill_null(base.fee)
        arpu6 = base.arpu_6m.fill_null(arpu3)
        months_since = (ibis.literal(m).year() - base.last_topup.year()) * 12 + (
            ibis.literal(m).month() - base.last_topup.month()
        )
        base = base.mutate(
            arpu_3m=arpu3,
            arpu_6m=arpu6,
            recency_months=months_since.cast("int64"),
            frequency_6m=base.frequency_6m.fill_null(0),
            monetary_6m=base.monetary_6m.fill_null(0.0),
        ).drop("last_topup")
    else:
        base = base.mutate(
            arpu_3m=base.fee,
            arpu_6m=base.fee,
            recency_months=ibis.null("int64"),
            frequency_6m=ibis.null("int64"),
            monetary_6m=ibis.null("float64"),
        )
    base = base.mutate(
        arpu_3m=base.arpu_3m.fill_null(0.0),
        arpu_6m=base.arpu_6m.fill_null(0.0),
    )
    base = base.mutate(
        arpu_change=ibis.cases(
            (base.arpu_6m > 0, base.arpu_3m / base.arpu_6m - 1), else_=ibis.null("float64")
        ),
        margin_3m=base.arpu_3m * settings.margin_rate,
    )
    base = _with_rfm(base)
    base = _with_tier(base, settings=settings)
    base = _with_lifecycle(base, tables=tables, as_of=m, settings=settings)
    if risk is not None:
        base = _with_risk(base, risk=risk, settings=settings)
    return base


def _with_rfm(t: ir.Table) -> ir.Table:
    """RFM scores 1–5 among prepaid customers (recency: months since last top-up).

    A score is the quintile of the customer's mid-rank share (the share of customers
    before the customer's tie group plus half of that group): distinct values split
    into five equal groups, and customers with the same recency, frequency or amount
    get the same score (``ntile`` split ties by row order, so equal customers scored
    differently from run to run). The best values score 5. Without billing data (no
    frequency) the scores and the segment are null.
    """
    prepaid = t.payment_type == "prepaid"
    known = prepaid & t.frequency_6m.notnull()
    rows = t.subscriber_id.count().over(ibis.window(group_by=t.payment_type))

    def quintile(order: ir.Value) -> ir.IntegerValue:
        w = ibis.window(group_by=t.payment_type, order_by=order)
        # ibis ranks from 0: rank() is the number of customers before the tie group
        mid = (ibis.rank().over(w) / rows + ibis.cume_dist().over(w)) / 2
        return (mid * 5).floor().cast("int64").clip(0, 4) + 1

    t = t.mutate(
        rfm_r=ibis.cases(
            (known, quintile(ibis.desc(t.recency_months.fill_null(99)))),
            else_=ibis.null("int64"),
        ),
        rfm_f=ibis.cases((known, quintile(t.frequency_6m)), else_=ibis.null("int64")),
        rfm_m=ibis.cases((known, quintile(t.monetary_6m)), else_=ibis.null("int64")),
    )
    score = t.rfm_r + t.rfm_f + t.rfm_m
    return t.mutate(
        rfm_segment=ibis.cases(
            (~prepaid | t.rfm_r.isnull(), ibis.null("string")),
            ((t.rfm_r >= 4) & (score >= 12), "champions"),
            ((t.rfm_r >= 3) & (score >= 9), "loyal"),
            ((t.rfm_r <= 2) & (t.rfm_m >= 4), "at_risk_high_value"),
            (t.rfm_r <= 2, "lapsing"),
            else_="regular",
        )
    )


def _with_tier(t: ir.Table, *, settings: ValueSettings) -> ir.Table:
    """Value tiers by cumulative revenue share: the top customers making 70 % are 'high'."""
    order = [ibis.desc(t.arpu_3m), t.subscriber_id]
    running = t.arpu_3m.sum().over(ibis.window(order_by=order, preceding=None, following=0))
    total = t.arpu_3m.sum().over(ibis.window())
    before = ibis.cases((total > 0, (running - t.arpu_3m) / total), else_=1.0)
    t = t.mutate(revenue_share_before=before)
    return t.mutate(
        value_tier=ibis.cases(
            ((t.revenue_share_before < settings.high_revenue_share) & (t.arpu_3m > 0), "high"),
            ((t.revenue_share_before < settings.medium_revenue_share) & (t.arpu_3m > 0), "medium"),
            else_="low",
        )
    ).drop("revenue_share_before")


def _with_lifecycle(
    t: ir.Table, *, tables: dict[str, ir.Table], as_of: date, settings: ValueSettings
) -> ir.Table:
    """Lifecycle stage: new by tenure, then growing / declining / mature by activity trend."""
    usage = tables.get("usage")
    if usage is not None:
        u = _monthly_window(usage, first=add_months(as_of, -5), last=as_of)
        recent = u.month >= add_months(as_of, -2)
        days = u.active_days.fill_null(0)
        act = u.group_by("subscriber_id").aggregate(
            recent_days=days.sum(where=recent), prior_days=days.sum(where=~recent)
        )
        t = t.left_join(act, "subscriber_id").drop("subscriber_id_right")
        trend = ibis.cases(
            (t.prior_days > 0, t.recent_days / t.prior_days - 1), else_=ibis.null("float64")
        )
        t = t.mutate(activity_trend=trend).drop("recent_days", "prior_days")
    else:
        t = t.mutate(activity_trend=ibis.null("float64"))
    thr = settings.trend_threshold
    return t.mutate(
        lifecycle=ibis.cases(
            (t.tenure_months <= settings.new_months, "new"),
            (t.activity_trend >= thr, "growing"),
            (t.activity_trend <= -thr, "declining"),
            else_="mature",
        )
    )


def _with_risk(t: ir.Table, *, risk: ir.Table, settings: ValueSettings) -> ir.Table:
    """CLV from the customer's own churn risk; risk band and loyalty."""
    r = risk.select("subscriber_id", p=risk.churn_probability.cast("float64"))
    t = t.left_join(r, "subscriber_id").drop("subscriber_id_right")
    monthly_discount = (1 + settings.annual_discount_rate) ** (1 / 12) - 1
    keep = (1 - t.p.clip(0.0, 1.0)) / (1 + monthly_discount)
    horizon = settings.clv_horizon_months
    # Sum over the horizon of margin * keep**k, k = 1..H: a geometric series.
    clv = ibis.cases(
        (keep >= 0.999999, t.margin_3m * horizon),
        else_=t.margin_3m * keep * (1 - keep.pow(horizon)) / (1 - keep),
    )
    lo, hi = settings.risk_bands
    band = ibis.cases((t.p >= hi, "high"), (t.p >= lo, "medium"), (t.p.notnull(), "low"))
    t = t.mutate(churn_probability=t.p, clv=clv, risk_band=band).drop("p")
    return t.mutate(
        loyalty=ibis.cases(
            (t.risk_band.isnull(), ibis.null("string")),
            (t.risk_band == "high", "disloyal"),
            (
                (t.risk_band == "low") & (t.tenure_months >= settings.loyal_tenure_months),
                "loyal",
            ),
            else_="potentially_loyal",
        )
    )
