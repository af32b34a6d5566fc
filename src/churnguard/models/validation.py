"""Validation schemes: stratified k-fold CV for flat tables, out-of-time splits for snapshots."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..errors import InputError
from .families import BlendFamily, Family, make_family
from .metrics import Economics, classification_metrics
from .preprocessing import ColumnPlan

__all__ = ["CVResult", "cross_validate", "out_of_time_split", "summarize"]

log = logging.getLogger(__name__)


@dataclass
class CVResult:
    """Cross-validated results of one family.

    Attributes
    ----------
    family
        Family code.
    folds
        One metrics dict per fold.
    oof
        Out-of-fold predicted probability for every row.
    seconds
        Wall time of all folds.
    """

    family: str
    folds: list[dict[str, Any]] = field(default_factory=list)
    oof: np.ndarray = field(default_factory=lambda: np.empty(0))
    seconds: float = 0.0

    def mean(self, metric: str) -> float:
        return float(np.nanmean([f[metric] for f in self.folds]))

    def std(self, metric: str) -> float:
        return float(np.nanstd([f[metric] for f in self.folds]))


def summarize(result: CVResult, metrics: Sequence[str]) -> dict[str, Any]:
    """``{metric: mean, metric_std: std}`` for each metric, plus timing (JSON-ready)."""
    out: dict[str, Any] = {}
    for m in metrics:
        out[m] = result.mean(m)
        out[f"{m}_std"] = result.std(m)
    out["seconds"] = result.seconds
    return out


def cross_validate(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    plan: ColumnPlan,
    families: Sequence[str],
    folds: int = 5,
    seed: int = 42,
    economics: Economics,
    threads: int = 1,
    max_rows: int = 200_000,
    on_fold: Callable[[str, int], None] | None = None,
) -> list[CVResult]:
    """Stratified k-fold CV of each family on the same folds.

    Every fold fits a fresh family on the training part only (encoding,
    imputation and hyper-parameter choice included), so nothing leaks from the
    held-out fold.
    """
    y = np.asarray(y, dtype=np.int64)
    minority = int(min(y.sum(), len(y) - y.sum()))
    if folds < 2:
        raise InputError("--cv needs at least 2 folds")
    if minority < folds:
        raise InputError(
            f"the rarer class has {minority} rows, fewer than the {folds} folds; "
            "use fewer folds or more data"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(y)), y))
    results = []
    # Fitted parts per fold, so that a blend reuses the logistic and LightGBM of its fold.
    parts: dict[tuple[str, int], Family] = {}
    order = sorted(families, key=lambda c: c == "blend")  # the blend after its parts
    for code in order:
        res = CVResult(code, oof=np.full(len(y), np.nan))
        start = time.perf_counter()
        for i, (tr, te) in enumerate(splits):
            if code == "blend" and ("logistic", i) in parts and ("lightgbm", i) in parts:
                fam: Family = BlendFamily.from_parts(parts[("logistic", i)], parts[("lightgbm", i)])
            else:
                fam = make_family(code, plan, seed=seed, threads=threads, max_rows=max_rows)
                fam.fit(x.iloc[tr], y[tr])
                if code in ("logistic", "lightgbm"):
                    parts[(code, i)] = fam
            p = fam.predict_proba(x.iloc[te])
            res.oof[te] = p
            res.folds.append(classification_metrics(y[te], p, economics=economics))
            if on_fold is not None:
                on_fold(code, i)
        res.seconds = time.perf_counter() - start
        log.info("cv %s: roc_auc %.4f in %.1fs", code, res.mean("roc_auc"), res.seconds)
        results.append(res)
    return sorted(results, key=lambda r: list(families).index(r.family))


def out_of_time_split(
    frame: pd.DataFrame, *, time_column: str = "as_of"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a stacked training frame: earlier snapshots to train, the latest one to validate.

    Raises
    ------
    InputError
        Fewer than two snapshots, or the latest one lacks churners or stayers.
    """
    if time_column not in frame.columns:
        raise InputError(f"the training frame has no {time_column!r} column")
    months = pd.Series(frame[time_column].unique()).sort_values()
    if len(months) < 2:
        raise InputError(
            f"out-of-time validation needs at least 2 labeled snapshots, found {len(months)}; "
            "pass a later --as-of or more --snapshots"
        )
    latest = months.iloc[-1]
    is_valid = (frame[time_column] == latest).to_numpy()
    return frame.loc[~is_valid], frame.loc[is_valid]
