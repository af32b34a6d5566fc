"""Model-lab settings: families, champion choice and the economics of EMP."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ModelSettings"]


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...] = ("logistic", "tree", "forest", "svm", "mlp", "lightgbm")
    snapshots: int = Field(6, ge=2, le=36, description="monthly snapshots in a training set")
    champion_metric: str = Field("pr_auc", description="metric on the out-of-time month")
    seed: int = 42
    offer_cost: float = Field(20.0, ge=0, description="cost of one retention offer (EMP)")
    contact_cost: float = Field(1.0, ge=0, description="cost of one contact (EMP)")
    retention_success: float = Field(
        0.3, gt=0, le=1, description="share of contacted churners kept (EMP's gamma mean)"
    )
    customer_value_months: int = Field(
        12, ge=1, description="months of ARPU a kept customer is worth"
    )
    psi_limit: float = Field(0.2, gt=0, description="PSI above which drift recommends retraining")
    auc_drop_limit: float = Field(0.03, gt=0, description="AUC fall that recommends retraining")
