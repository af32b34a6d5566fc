"""Customer value: ARPU, margin, RFM, lifetime value, tiers, lifecycle and loyalty."""

from __future__ import annotations

from .customer_value import active_subscribers, customer_value
from .matrix import RISK_BANDS, TIERS, value_risk_matrix

__all__ = ["RISK_BANDS", "TIERS", "active_subscribers", "customer_value", "value_risk_matrix"]
