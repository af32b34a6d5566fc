"""Population stability index (PSI) of features and scores against a stored reference.

The reference is taken when a model is trained (on its out-of-time month):
decile edges and shares for numbers, level shares for categories, plus a bin
for missing values. PSI = sum((a - e) * ln(a / e)) over bins; the usual reading
is < 0.1 stable, 0.1–0.2 some shift, > 0.2 a shift worth acting on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["psi", "reference_profile", "reference_profiles"]

_FLOOR = 1e-4  # empty bins would make the log infinite


def reference_profile(values: pd.Series, *, bins: int = 10) -> dict[str, Any]:
    """The reference distribution of one column (JSON-ready)."""
    missing = float(values.isna().mean()) if len(values) else 0.0
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values):
        v = present.to_numpy(dtype=np.float64)
        edges = (
            np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1])) if v.size else np.array([])
        )
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        shares = counts / max(len(values), 1)
        return {
            "kind": "numeric",
            "edges": [float(e) for e in edges],
            "shares": [float(s) for s in shares],
            "missing": missing,
        }
    levels = present.astype(str).value_counts()
    top = levels.iloc[:30]
    return {
        "kind": "categorical",
        "levels": [str(k) for k in top.index],
        "shares": [float(c / max(len(values), 1)) for c in top.to_numpy()],
        "other": float(levels.iloc[30:].sum() / max(len(values), 1)),
        "missing": missing,
    }


def reference_profiles(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, Any]]:
    """:func:`reference_profile` of several columns."""
    return {c: reference_profile(frame[c]) for c in columns if c in frame.columns}


def _shares(values: pd.Series, ref: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n = max(len(values), 1)
    missing_now = float(values.isna().sum()) / n
    present = values.dropna()
    if ref["kind"] == "numeric":
        edges = np.asarray(ref["edges"], dtype=np.float64)
        v = pd.to_numeric(present, errors="coerce").dropna().to_numpy(dtype=np.float64)
        counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
        actual = np.append(counts / n, missing_now)
        expected = np.append(np.asarray(ref["shares"]), ref["missing"])
        return expected, actual
    levels = list(ref["levels"])
    counts = present.astype(str).value_counts()
    known = np.array([counts.get(level, 0) for level in levels], dtype=np.float64) / n
    other = 1.0 - missing_now - known.sum()
    actual = np.concatenate([known, [max(other, 0.0), missing_now]])
    expected = np.concatenate([np.asarray(ref["shares"]), [ref["other"], ref["missing"]]])
    return expected, actual


def psi(values: pd.Series, ref: dict[str, Any]) -> float:
    """PSI of ``values`` against a reference from :func:`reference_profile`."""
    expected, actual = _shares(values, ref)
    e = np.maximum(expected, _FLOOR)
    a = np.maximum(actual, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))
