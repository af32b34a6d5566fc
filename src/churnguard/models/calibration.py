"""Probability calibration on a held-out month: isotonic or Platt, stored as plain JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ..errors import InputError

__all__ = ["Calibrator", "fit_calibrator"]

_EPS = 1e-6
_P_MIN, _P_MAX = 1e-4, 0.99
_TIE_BREAK = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw model scores to calibrated probabilities.

    ``isotonic`` keeps the knots of a step function (interpolated linearly);
    ``platt`` keeps ``a, b`` of ``sigmoid(a * logit(p) + b)``. Monotone, so
    ranking metrics (ROC AUC) barely change; only probabilities move.
    """

    method: Literal["isotonic", "platt", "identity"]
    params: dict[str, list[float]] = field(default_factory=dict)

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw scores ``p``."""
        p = np.asarray(p, dtype=np.float64)
        if self.method == "identity":
            return p
        if self.method == "platt":
            a, b = self.params["coef"]
            return np.asarray(1.0 / (1.0 + np.exp(-(a * _logit(p) + b))))
        x = np.asarray(self.params["x"])
        y = np.asarray(self.params["y"])
        # Isotonic maps whole score ranges to one value; a negligible strictly
        # increasing term keeps the model's ranking inside those ranges, so ROC AUC
        # and the worklist order are not lost to ties.
        return np.asarray(np.clip(np.interp(p, x, y) + _TIE_BREAK * p, 0.0, _P_MAX + _TIE_BREAK))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Inverse of :meth:`to_dict`."""
        method = data["method"]
        if method not in ("isotonic", "platt", "identity"):
            raise InputError(f"unknown calibration method {method!r}")
        return cls(method=method, params={k: list(v) for k, v in data.get("params", {}).items()})


def fit_calibrator(
    p: np.ndarray, y: np.ndarray, *, method: Literal["isotonic", "platt"] = "isotonic"
) -> Calibrator:
    """Fit a calibrator of raw scores ``p`` to 0/1 outcomes ``y`` (a held-out month).

    Isotonic needs a fair number of churners to be stable; with fewer than 50
    it falls back to Platt scaling.
    """
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if len(np.unique(y)) != 2:
        raise InputError("calibration needs churners and non-churners in the held-out rows")
    if method == "isotonic" and int(y.sum()) >= 50:
        # bounded away from 0 and 1: a top bin where every customer churned says
        # "very likely", not "certain" (a probability of 1 would zero the CLV)
        iso = IsotonicRegression(y_min=_P_MIN, y_max=_P_MAX, out_of_bounds="clip").fit(p, y)
        return Calibrator(
            "isotonic",
            {
                "x": [float(v) for v in iso.X_thresholds_],
                "y": [float(v) for v in iso.y_thresholds_],
            },
        )
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y)
    return Calibrator("platt", {"coef": [float(lr.coef_[0, 0]), float(lr.intercept_[0])]})
