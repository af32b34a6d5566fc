"""The value × risk matrix: customers and revenue by value tier and risk band."""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["RISK_BANDS", "TIERS", "value_risk_matrix"]

TIERS = ("high", "medium", "low")
RISK_BANDS = ("high", "medium", "low")


def value_risk_matrix(values: ir.Table) -> ir.Table:
    """Counts, monthly revenue and CLV per (value_tier, risk_band).

    ``values`` is the output of :func:`customer_value` with a risk table given.
    """
    return (
        values.group_by("value_tier", "risk_band")
        .aggregate(
            customers=values.count(),
            revenue=values.arpu_3m.sum(),
            clv=values.clv.sum(),
            mean_probability=values.churn_probability.mean(),
        )
        .order_by("value_tier", "risk_band")
    )
