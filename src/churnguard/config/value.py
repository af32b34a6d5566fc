"""Customer value settings: ARPU, margin, lifetime value, tiers, lifecycle, loyalty."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ValueSettings"]


class ValueSettings(BaseModel):
    """How each customer's value, tier, lifecycle stage and loyalty are computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    margin_rate: float = Field(0.6, gt=0, le=1, description="share of ARPU that is margin")
    clv_horizon_months: int = Field(24, ge=1, le=120, description="months of future margin in CLV")
    annual_discount_rate: float = Field(0.10, ge=0, lt=1, description="discount rate for CLV")
    high_revenue_share: float = Field(
        0.7, gt=0, lt=1, description="top customers making this share of revenue are 'high'"
    )
    medium_revenue_share: float = Field(
        0.9, gt=0, le=1, description="the next customers up to this cumulative share are 'medium'"
    )
    new_months: int = Field(3, ge=1, description="tenure up to N months is lifecycle 'new'")
    trend_threshold: float = Field(
        0.2, gt=0, lt=1, description="activity change vs previous 3 months for growing/declining"
    )
    loyal_tenure_months: int = Field(24, ge=1, description="tenure for 'loyal' customers")
    risk_bands: tuple[float, float] = Field(
        (0.05, 0.15), description="churn-probability cut points of the low/medium/high risk bands"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ValueSettings:
        if self.medium_revenue_share <= self.high_revenue_share:
            raise ValueError("medium_revenue_share must be above high_revenue_share")
        lo, hi = self.risk_bands
        if not 0 < lo < hi < 1:
            raise ValueError("risk_bands must be two increasing probabilities in (0, 1)")
        return self
