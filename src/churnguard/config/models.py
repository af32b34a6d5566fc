"""Model-lab settings: families, champion choice, calibration, drift limits, EMP economics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ModelSettings"]


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...] = ("logistic", "tree", "forest", "svm", "mlp", "lightgbm", "blend")
    snapshots: int = Field(6, ge=2, le=36, description="monthly snapshots in a training set")
    champion_metric: str = Field("pr_auc", description="metric on the out-of-time month")
    calibration: Literal["isotonic", "platt"] = Field(
        "isotonic", description="calibration of the champion on the out-of-time month"
    )
    refit_champion: bool = Field(
        True, description="refit the champion on all snapshots, the validation month included"
    )
    seed: int = 42
    threads: int = Field(
        0,
        ge=0,
        description="threads for training and batch scoring (LightGBM, forests, the compiled "
        "tree scorer); 0 = all cores. Set 1 when other busy processes share the cores",
    )
    explainer: Literal["path", "shap"] = Field(
        "path",
        description="how LightGBM models explain a score: 'path' = path attributions "
        "(each split on the customer's path credits its feature; 2-3x the cost of scoring, "
        "top reasons mostly agree with SHAP), 'shap' = exact tree SHAP (~100x slower)",
    )
    max_train_rows: int = Field(
        200_000,
        ge=1_000,
        description="stratified subsample cap for slow families (svm, mlp, forest)",
    )
    reasons_top: int = Field(3, ge=1, le=10, description="top reasons rendered per customer")
    explain_share: float = Field(
        0.25,
        gt=0,
        le=1,
        description="share of highest-risk customers given model reasons when scoring "
        "(explanations are the slow part; warnings need them only for the riskiest)",
    )
    offer_cost: float = Field(20.0, ge=0, description="cost of one retention offer (EMP)")
    contact_cost: float = Field(1.0, ge=0, description="cost of one contact (EMP)")
    retention_success: float = Field(
        0.3, gt=0, lt=1, description="share of contacted churners kept (EMP's gamma mean)"
    )
    monthly_value: float = Field(
        50.0, gt=0, description="monthly margin of a typical customer (EMP's CLV = this x months)"
    )
    customer_value_months: int = Field(
        12, ge=1, description="months of value a kept customer is worth"
    )
    operating_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="probability above which a customer is contacted (unset: profit-maximising)",
    )
    psi_limit: float = Field(0.2, gt=0, description="PSI above which drift recommends retraining")
    auc_drop_limit: float = Field(0.03, gt=0, description="AUC fall that recommends retraining")
