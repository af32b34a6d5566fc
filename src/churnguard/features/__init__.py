"""Features and labels: point-in-time snapshots from one catalog, on DuckDB or Spark.

Stages call:

- :func:`build_snapshot` / :func:`load_snapshot` / :func:`iter_snapshot` — store and read
  the snapshot of a month (whole, or in bounded chunks); :func:`load_snapshot_table` reads
  it as Arrow, for callers that convert it a slice at a time;
- :func:`snapshot_expr` — the pure Ibis expression (scoring, Spark, parity);
- :func:`label_expr` / :func:`build_labels` / :func:`labeled_as_ofs` — labels;
- :func:`training_frame` — stacked snapshots with their labels;
- :data:`CATALOG`, :func:`feature_columns`, :func:`categorical_columns` — model inputs
  and their meaning (reason templates, categories, risk direction).
"""

from __future__ import annotations

from .catalog import REASON_CATEGORIES, FeatureDef, ReasonCategory, ReasonFormat
from .labels import build_labels, label_expr, label_lag_months, labeled_as_ofs
from .registry import (
    CATALOG,
    CATALOG_VERSION,
    categorical_columns,
    feature,
    feature_columns,
)
from .snapshot import (
    SnapshotInfo,
    build_snapshot,
    iter_snapshot,
    load_snapshot,
    load_snapshot_table,
    snapshot_expr,
)
from .training import training_frame

__all__ = [
    "CATALOG",
    "CATALOG_VERSION",
    "REASON_CATEGORIES",
    "FeatureDef",
    "ReasonCategory",
    "ReasonFormat",
    "SnapshotInfo",
    "build_labels",
    "build_snapshot",
    "categorical_columns",
    "feature",
    "feature_columns",
    "iter_snapshot",
    "label_expr",
    "label_lag_months",
    "labeled_as_ofs",
    "load_snapshot",
    "load_snapshot_table",
    "snapshot_expr",
    "training_frame",
]
