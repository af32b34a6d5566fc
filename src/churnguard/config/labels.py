"""Label settings: what counts as churn, and who is excluded from training."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["LabelSettings"]


class LabelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_months: int = Field(
        1, ge=1, le=12, description="churn within N months after the snapshot"
    )
    voluntary_reasons: tuple[str, ...] = ("port_out", "voluntary_cancel", "inactivity")
    passive_reasons: tuple[str, ...] = ("arrears_disconnect",)
    inactivity_months: int = Field(
        2,
        ge=1,
        le=12,
        description="prepaid/TV: no usage and no payment for N months is churn, dated at its start",
    )
    inactivity_service_types: tuple[str, ...] = ("tv",)
    inactivity_payment_types: tuple[str, ...] = ("prepaid",)
    exclude_tenure_months: int = Field(3, ge=0, description="exclude the first N months of tenure")
    value_churn_drop: float = Field(0.3, gt=0, lt=1, description="ARPU fall that is value churn")
    value_churn_months: int = Field(2, ge=1, description="months the ARPU must stay down")
