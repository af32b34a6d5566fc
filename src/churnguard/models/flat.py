"""The flat-table workflow: evaluate, train and score on any one-row-per-customer table.

For operators who already have a table with a churn column. Types are
inferred, ID-like and constant columns dropped, categoricals and blanks
handled; nothing depends on a particular table's column names.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import ModelSettings
from ..errors import InputError, NotFoundError
from .artifacts import TrainedModel, load_model, save_model
from .calibration import fit_calibrator
from .families import FAMILIES, make_family
from .metrics import METRICS, Economics
from .preprocessing import infer_plan, prepare_frame
from .reasons import column_value_reasons
from .validation import cross_validate, summarize

__all__ = ["evaluate_table", "read_table", "score_table", "target_vector", "train_table"]

log = logging.getLogger(__name__)

_POSITIVE_WORDS = ("1", "1.0", "true", "yes", "y", "churn", "churned", "是", "流失")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension; anything else is tried as CSV)."""
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, low_memory=False)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(
            f"cannot read {path} as {'Parquet' if suffix == '.parquet' else 'CSV'}: {exc}"
        ) from None


def target_vector(
    frame: pd.DataFrame, *, target: str, positive: str | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Rows with a target value, the 0/1 target, and the positive label used.

    Raises
    ------
    InputError
        The target column is missing (close matches are listed), it does not
        have exactly two classes, or ``positive`` is not one of them.
    """
    if target not in frame.columns:
        lowered = {str(c).lower(): str(c) for c in frame.columns}
        close = difflib.get_close_matches(target.lower(), list(lowered), n=3, cutoff=0.5)
        hint = (
            f"did you mean {', '.join(repr(lowered[c]) for c in close)}?"
            if close
            else f"columns are: {', '.join(map(str, list(frame.columns)[:20]))}"
        )
        raise InputError(f"no target column {target!r} in the table; {hint}")
    text = frame[target].astype("string").str.strip()
    keep = text.notna() & (text != "")
    dropped = int((~keep).sum())
    if dropped:
        log.warning("%d rows have no target value and are left out", dropped)
    text = text[keep]
    classes = sorted(text.unique().tolist())
    if len(classes) != 2:
        raise InputError(
            f"target {target!r} must have exactly 2 classes, found {len(classes)} "
            f"({', '.join(classes[:8])}{'…' if len(classes) > 8 else ''}); "
            "pick a yes/no churn column"
        )
    if positive is None:
        guesses = [c for c in classes if c.lower() in _POSITIVE_WORDS]
        if len(guesses) != 1:
            raise InputError(
                f"cannot tell which of {classes[0]!r} / {classes[1]!r} means churn; "
                "pass --positive VALUE"
            )
        positive = guesses[0]
    elif positive not in classes:
        raise InputError(
            f"--positive {positive!r} is not a value of {target!r}; its values are "
            f"{classes[0]!r} and {classes[1]!r}"
        )
    y = (text == positive).to_numpy(dtype=np.int64)
    return frame.loc[keep.to_numpy()], y, positive


def _families(families: Sequence[str] | None, settings: ModelSettings) -> tuple[str, ...]:
    chosen = tuple(families) if families else settings.families
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise InputError(
            f"unknown model family {', '.join(unknown)}; choose from {', '.join(FAMILIES)}"
        )
    return chosen


def evaluate_table(
    frame: pd.DataFrame,
    *,
    target: str,
    positive: str | None = None,
    folds: int = 5,
    families: Sequence[str] | None = None,
    settings: ModelSettings,
    on_fold: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Stratified k-fold CV of each family on a flat table.

    Returns
    -------
    dict
        ``rows``, ``positives``, ``positive``, ``plan``, and ``families``:
        family code → ``{metric: mean, metric_std: std, ...}``, plus ``best``
        (family with the highest mean ``roc_auc``).
    """
    rows, y, label = target_vector(frame, target=target, positive=positive)
    plan = infer_plan(rows, exclude=(target,))
    x = prepare_frame(rows, plan)
    results = cross_validate(
        x,
        y,
        plan=plan,
        families=_families(families, settings),
        folds=folds,
        seed=settings.seed,
        economics=Economics.from_settings(settings),
        threads=settings.threads,
        max_rows=settings.max_train_rows,
        on_fold=on_fold,
    )
    metrics = [*METRICS, "threshold"]
    per_family = {r.family: summarize(r, metrics) for r in results}
    best = max(per_family, key=lambda f: per_family[f]["roc_auc"])
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "positive": label,
        "target": target,
        "folds": folds,
        "plan": plan.to_dict(),
        "families": per_family,
        "best": best,
    }


def train_table(
    frame: pd.DataFrame,
    *,
    target: str,
    positive: str | None = None,
    families: Sequence[str] | None = None,
    folds: int = 5,
    settings: ModelSettings,
    out: Path,
) -> dict[str, Any]:
    """Pick the best family by CV, fit it on all rows, calibrate it, and save it to ``out``.

    The calibrator is fitted on the chosen family's out-of-fold predictions,
    so it never sees a prediction made on training rows.
    """
    rows, y, label = target_vector(frame, target=target, positive=positive)
    plan = infer_plan(rows, exclude=(target,))
    x = prepare_frame(rows, plan)
    chosen = _families(families, settings)
    results = cross_validate(
        x,
        y,
        plan=plan,
        families=chosen,
        folds=folds,
        seed=settings.seed,
        economics=Economics.from_settings(settings),
        threads=settings.threads,
        max_rows=settings.max_train_rows,
    )
    metric = settings.champion_metric if settings.champion_metric in METRICS else "roc_auc"
    higher = METRICS[metric][2]
    best = sorted(results, key=lambda r: r.mean(metric), reverse=higher)[0]
    family = make_family(
        best.family,
        plan,
        seed=settings.seed,
        threads=settings.threads,
        max_rows=settings.max_train_rows,
    ).fit(x, y)
    calibrator = fit_calibrator(best.oof, y, method=settings.calibration)
    summary = {r.family: summarize(r, [*METRICS, "threshold"]) for r in results}
    model = TrainedModel(
        family=family,
        plan=plan,
        calibrator=calibrator,
        meta={
            "kind": "flat_table",
            "target": target,
            "positive": label,
            "rows": len(y),
            "positives": int(y.sum()),
            "champion_metric": metric,
            "cv": summary,
        },
    )
    checksum = save_model(model, out)
    return {
        "model_dir": str(out),
        "family": best.family,
        "checksum": checksum,
        "champion_metric": metric,
        "metrics": summary[best.family],
        "families": summary,
        "plan": plan.to_dict(),
    }


def score_table(
    model_dir: Path, frame: pd.DataFrame, *, top: int = 3, threads: int = 1
) -> pd.DataFrame:
    """Score a flat table: input columns kept, plus ``churn_probability`` and reasons."""
    model = load_model(model_dir, threads=threads)
    target = model.meta.get("target")
    features = frame.drop(columns=[target]) if target in frame.columns else frame
    prob = model.predict(features)
    contrib = model.explain(features)
    reasons = column_value_reasons(contrib, features, top=top)
    out = frame.copy()
    out["churn_probability"] = prob
    out["top_reasons"] = reasons["top_reasons"].to_numpy()
    out["top_reasons_zh"] = reasons["top_reasons_zh"].to_numpy()
    return out
