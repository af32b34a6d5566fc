"""Model diagnostics for the models page, from what the registry and warehouse store.

- Score drift: the PSI of every month the champion scored (table ``scores``)
  against the score reference saved with the model at training time.
- Calibration: observed voluntary churn against the stored probabilities, in ten
  bins of equal size, for the newest scored month whose labels are known.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["calibration_bins", "score_drift"]

_BINS = 10


def _stored_scores(settings: Settings, version: str) -> pd.DataFrame:
    from ..models.scoring import SCORES_TABLE
    from ..warehouse.analytical import connect, raw, table_exists

    if not settings.warehouse_path.exists():
        return pd.DataFrame(columns=["as_of", "subscriber_id", "churn_probability"])
    backend = connect(settings, read_only=True)
    try:
        con = raw(backend)
        if not table_exists(con, SCORES_TABLE):
            return pd.DataFrame(columns=["as_of", "subscriber_id", "churn_probability"])
        df: pd.DataFrame = con.execute(
            f"SELECT as_of, subscriber_id, churn_probability FROM {SCORES_TABLE} "
            "WHERE model_version = ? ORDER BY as_of",
            [version],
        ).df()
    finally:
        backend.disconnect()
    df["as_of"] = pd.to_datetime(df["as_of"]).dt.date
    return df


def score_drift(
    settings: Settings, *, version: str, reference: dict[str, Any] | None
) -> list[tuple[str, float]]:
    """``(month, PSI)`` of each month the model scored, oldest first (empty without a reference)."""
    from ..models.drift import psi

    if not reference:
        return []
    scores = _stored_scores(settings, version)
    return [
        (f"{month:%Y-%m}", float(psi(part["churn_probability"], reference)))
        for month, part in scores.groupby("as_of", sort=True)
    ]


def calibration_bins(
    settings: Settings, *, version: str
) -> tuple[str, list[dict[str, float]]] | None:
    """The newest scored month with known labels and its bins (predicted, observed, n)."""
    from ..features.labels import label_expr, labeled_as_ofs
    from ..warehouse.analytical import connect

    scores = _stored_scores(settings, version)
    if scores.empty:
        return None
    known = set(labeled_as_ofs(settings, date.max.replace(day=1)))
    months = sorted((m for m in scores["as_of"].unique() if m in known), reverse=True)
    if not months:
        return None
    month = months[0]
    backend = connect(settings, read_only=True)
    try:
        lab = label_expr(backend, as_of=month, labels=settings.labels)
        labels = lab.filter(~lab.excluded).select("subscriber_id", "label_voluntary").execute()
    finally:
        backend.disconnect()
    df = scores[scores["as_of"] == month].merge(labels, on="subscriber_id")
    if len(df) < _BINS:
        return None
    df = df.sort_values("churn_probability", kind="stable")
    bins = []
    for rows in np.array_split(np.arange(len(df)), _BINS):
        part = df.iloc[rows]
        bins.append(
            {
                "predicted": float(part["churn_probability"].mean()),
                "observed": float(part["label_voluntary"].mean()),
                "n": float(len(part)),
            }
        )
    return f"{month:%Y-%m}", bins
