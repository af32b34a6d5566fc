"""``model evaluate``: re-score a month whose labels have arrived; metrics, drift, advice.

Every active model (champion and challengers) scores the month; metrics are
computed against the now-known labels. Drift is the PSI of the champion's
score and of each feature against the reference stored at training time (the
out-of-time month). Retraining is recommended when the champion's ROC AUC fell
by more than ``settings.models.auc_drop_limit`` or the score PSI, or the PSI of
one of its ten most important features, exceeds ``settings.models.psi_limit``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import StateError
from .drift import psi
from .metrics import Economics, classification_metrics
from .registry import list_versions
from .scoring import load_registered

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["evaluate_frame", "evaluate_month"]

_TOP_FEATURES = 10


def evaluate_frame(settings: Settings, frame: pd.DataFrame, *, as_of: date) -> dict[str, Any]:
    """Evaluate the active models on a labeled frame (features + ``label``)."""
    cfg = settings.models
    active = [v for v in list_versions(settings, target="voluntary") if v["status"] != "retired"]
    if not active:
        raise StateError(
            "no active models to evaluate; run 'churnguard model train --as-of YYYY-MM' first"
        )
    y = frame["label"].to_numpy(dtype=np.int64)
    econ = Economics.from_settings(cfg)
    models: dict[str, Any] = {}
    champion_info: dict[str, Any] | None = None
    for row in active:
        _, model = load_registered(settings, version=row["version"])
        prob = model.predict(frame)
        m = classification_metrics(y, prob, economics=econ, threshold=cfg.operating_threshold)
        ref = model.meta.get("reference", {})
        trained_auc = float(ref.get("roc_auc", row["metrics"].get("roc_auc") or np.nan))
        m["roc_auc_at_training"] = trained_auc
        m["roc_auc_drop"] = trained_auc - m["roc_auc"]
        m["score_psi"] = psi(pd.Series(prob), ref["score"]) if "score" in ref else float("nan")
        models[row["version"]] = {"family": row["family"], "status": row["status"], "metrics": m}
        if row["status"] == "champion":
            importance = model.meta.get("importance", {})
            feature_psi = {
                name: psi(frame[name], prof)
                for name, prof in ref.get("features", {}).items()
                if name in frame.columns
            }
            champion_info = {
                "version": row["version"],
                "metrics": m,
                "feature_psi": feature_psi,
                "top_features": list(importance)[:_TOP_FEATURES],
            }
    if champion_info is None:
        raise StateError("no champion among the active models; promote one with 'model promote'")
    m = champion_info["metrics"]
    drifted = sorted(
        (f for f, v in champion_info["feature_psi"].items() if v > cfg.psi_limit),
        key=lambda f: -champion_info["feature_psi"][f],  # type: ignore[index]
    )
    important_drift = [f for f in drifted if f in champion_info["top_features"]]
    reasons_en: list[str] = []
    reasons_zh: list[str] = []
    if m["roc_auc_drop"] > cfg.auc_drop_limit:
        reasons_en.append(
            f"ROC AUC fell by {m['roc_auc_drop']:.3f} (limit {cfg.auc_drop_limit:.3f})"
        )
        reasons_zh.append(f"ROC AUC 下降 {m['roc_auc_drop']:.3f}（阈值 {cfg.auc_drop_limit:.3f}）")
    if m["score_psi"] > cfg.psi_limit:
        reasons_en.append(f"score PSI {m['score_psi']:.3f} above {cfg.psi_limit:.2f}")
        reasons_zh.append(f"分数 PSI {m['score_psi']:.3f} 超过 {cfg.psi_limit:.2f}")
    if important_drift:
        reasons_en.append(f"important features drifted: {', '.join(important_drift)}")
        reasons_zh.append(f"重要特征发生漂移：{'、'.join(important_drift)}")
    best_challenger = max(
        (v for v, info in models.items() if info["status"] == "challenger"),
        key=lambda v: models[v]["metrics"][cfg.champion_metric],
        default=None,
    )
    return {
        "as_of": as_of.isoformat(),
        "rows": len(y),
        "positives": int(y.sum()),
        "champion": champion_info["version"],
        "models": models,
        "score_psi": m["score_psi"],
        "feature_psi": champion_info["feature_psi"],
        "drifted_features": drifted,
        "psi_limit": cfg.psi_limit,
        "auc_drop_limit": cfg.auc_drop_limit,
        "retrain": bool(reasons_en),
        "reasons_en": reasons_en,
        "reasons_zh": reasons_zh,
        "best_challenger": best_challenger,
    }


def evaluate_month(settings: Settings, *, as_of: date | str) -> dict[str, Any]:
    """Score a month whose labels are known with every active model and report drift.

    Raises
    ------
    StateError
        The month's labels are not known yet, or there is no champion.
    """
    from ..features import training_frame
    from ..features.context import parse_month

    month = parse_month(as_of)
    frame = training_frame(settings, as_ofs=[month], target="voluntary")
    return evaluate_frame(settings, frame, as_of=month)
