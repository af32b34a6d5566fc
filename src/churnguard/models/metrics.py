"""Model metrics: ranking, top-of-list, operating point, calibration and profit (EMP).

All functions take the 0/1 truth and the predicted churn probabilities and are
vectorised (sorting and cumulative sums; no loops over customers).

EMP is the expected maximum profit measure for customer churn of Verbraken,
Verbeke and Baesens (2013, IEEE TKDE 25(5)): the profit of contacting the
customers above a cutoff, maximised over the cutoff and averaged over the
unknown share ``gamma`` of contacted churners who accept the offer,
``gamma ~ Beta(alpha, beta)``. Per customer in the scored population::

    profit(cutoff; gamma) = (gamma * (CLV - d) - f) * TP / N - (d + f) * FP / N

with ``CLV`` the value of a kept customer, ``d`` the offer cost and ``f`` the
contact cost (non-churners who are contacted take the offer too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from ..config import ModelSettings
from ..errors import InputError

__all__ = [
    "METRICS",
    "Economics",
    "classification_metrics",
    "emp",
    "expected_calibration_error",
    "lift_capture",
    "precision_at_recall",
    "profit_threshold",
]

# name → (English, Chinese, higher is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "roc_auc": ("ROC AUC", "ROC 曲线下面积", True),
    "pr_auc": ("PR AUC", "PR 曲线下面积", True),
    "lift_5": ("lift top 5%", "前 5% 提升度", True),
    "capture_5": ("capture top 5%", "前 5% 覆盖率", True),
    "lift_10": ("lift top 10%", "前 10% 提升度", True),
    "capture_10": ("capture top 10%", "前 10% 覆盖率", True),
    "precision": ("precision @ threshold", "阈值处精确率", True),
    "recall": ("recall @ threshold", "阈值处召回率", True),
    "precision_at_recall_70": ("precision @ recall 0.70", "召回率 70% 时精确率", True),
    "brier": ("Brier score", "Brier 分数", False),
    "ece": ("calibration error (ECE)", "校准误差", False),
    "expected_profit": ("expected profit / customer", "每客户期望利润", True),
    "emp": ("EMP / customer", "期望最大利润 (EMP)", True),
}


@dataclass(frozen=True)
class Economics:
    """The money side of a retention campaign, per customer.

    Parameters
    ----------
    clv
        Value of a kept customer (monthly value x months).
    offer_cost
        Cost of the retention offer (``d``).
    contact_cost
        Cost of one contact (``f``).
    gamma_mean
        Mean share of contacted churners who are kept.
    gamma_concentration
        ``alpha + beta`` of the Beta distribution of that share (20 gives the
        paper's Beta(6, 14) for a mean of 0.3).
    """

    clv: float
    offer_cost: float
    contact_cost: float
    gamma_mean: float
    gamma_concentration: float = 20.0

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> Economics:
        """Economics from the ``[models]`` section of the settings."""
        return cls(
            clv=settings.monthly_value * settings.customer_value_months,
            offer_cost=settings.offer_cost,
            contact_cost=settings.contact_cost,
            gamma_mean=settings.retention_success,
        )

    @property
    def alpha(self) -> float:
        return self.gamma_mean * self.gamma_concentration

    @property
    def beta(self) -> float:
        return (1.0 - self.gamma_mean) * self.gamma_concentration


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise InputError(f"truth and scores differ in shape: {y.shape} vs {p.shape}")
    if not np.isin(y, (0, 1)).all():
        raise InputError("the truth must be 0/1")
    if np.isnan(p).any():
        raise InputError(f"{int(np.isnan(p).sum())} scores are missing (NaN)")
    return y, p


def lift_capture(y: np.ndarray, p: np.ndarray, *, share: float) -> tuple[float, float]:
    """Lift and capture rate of the top ``share`` of customers by score."""
    y, p = _check(y, p)
    n = len(y)
    k = max(1, int(np.ceil(share * n)))
    order = np.argsort(-p, kind="stable")[:k]
    hits = float(y[order].sum())
    positives = float(y.sum())
    base = positives / n if n else 0.0
    lift = (hits / k) / base if base > 0 else float("nan")
    capture = hits / positives if positives > 0 else float("nan")
    return lift, capture


def precision_at_recall(y: np.ndarray, p: np.ndarray, *, recall: float) -> float:
    """Best precision among cutoffs that reach at least ``recall``."""
    y, p = _check(y, p)
    prec, rec, _ = precision_recall_curve(y, p)
    ok = rec >= recall
    return float(prec[ok].max()) if ok.any() else float("nan")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """Expected calibration error over equal-frequency bins of the score.

    Equal-frequency bins suit churn scores, which crowd near zero.
    """
    y, p = _check(y, p)
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    n = len(y)
    return float(sum(len(g) / n * abs(p[g].mean() - y[g].mean()) for g in groups if len(g)))


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Corners of the ROC curve suffice: a linear profit is maximal at a vertex.
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=True)
    return fpr, tpr, thr


def _profit_matrix(
    y: np.ndarray, p: np.ndarray, gammas: np.ndarray, econ: Economics
) -> tuple[np.ndarray, np.ndarray]:
    fpr, tpr, thr = _roc_points(y, p)
    n = len(y)
    pos = float(y.sum())
    neg = n - pos
    tp = tpr * pos / n
    fp = fpr * neg / n
    gain = gammas[:, None] * (econ.clv - econ.offer_cost) - econ.contact_cost
    profit = gain * tp[None, :] - (econ.offer_cost + econ.contact_cost) * fp[None, :]
    return profit, thr


def emp(y: np.ndarray, p: np.ndarray, *, economics: Economics, grid: int = 200) -> float:
    """Expected maximum profit per customer (Verbraken et al. 2013).

    The integral over ``gamma`` uses ``grid`` equal-probability points of its
    Beta distribution.
    """
    y, p = _check(y, p)
    qs = (np.arange(grid) + 0.5) / grid
    gammas = np.asarray(stats.beta.ppf(qs, economics.alpha, economics.beta))
    profit, _ = _profit_matrix(y, p, gammas, economics)
    return float(np.maximum(profit.max(axis=1), 0.0).mean())


def profit_threshold(y: np.ndarray, p: np.ndarray, *, economics: Economics) -> tuple[float, float]:
    """Cutoff that maximises expected profit at the mean ``gamma``, and that profit."""
    y, p = _check(y, p)
    profit, thr = _profit_matrix(y, p, np.array([economics.gamma_mean]), economics)
    best = int(np.argmax(profit[0]))
    cutoff = float(min(thr[best], 1.0))
    return cutoff, float(max(profit[0, best], 0.0))


def classification_metrics(
    y: np.ndarray,
    p: np.ndarray,
    *,
    economics: Economics,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Every metric of the model lab for one set of predictions.

    Parameters
    ----------
    y
        0/1 truth (1 = churned).
    p
        Predicted churn probabilities.
    economics
        Costs and values for expected profit and EMP.
    threshold
        Operating cutoff for precision / recall; ``None`` uses the
        profit-maximising cutoff on these predictions.

    Returns
    -------
    dict
        Keys of :data:`METRICS` plus ``threshold``, ``rows`` and ``positives``.
    """
    y, p = _check(y, p)
    if len(np.unique(y)) != 2:
        raise InputError(
            "metrics need both churners and non-churners in the evaluated rows; "
            "evaluate a month or sample with both"
        )
    best_cut, best_profit = profit_threshold(y, p, economics=economics)
    cut = best_cut if threshold is None else threshold
    chosen = p >= cut
    tp = float((chosen & (y == 1)).sum())
    lift5, cap5 = lift_capture(y, p, share=0.05)
    lift10, cap10 = lift_capture(y, p, share=0.10)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "lift_5": lift5,
        "capture_5": cap5,
        "lift_10": lift10,
        "capture_10": cap10,
        "threshold": float(cut),
        "precision": tp / float(chosen.sum()) if chosen.any() else 0.0,
        "recall": tp / float(y.sum()),
        "precision_at_recall_70": precision_at_recall(y, p, recall=0.70),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p),
        "expected_profit": best_profit,
        "emp": emp(y, p, economics=economics),
        "rows": len(y),
        "positives": int(y.sum()),
    }
