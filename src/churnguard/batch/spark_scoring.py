"""Scoring and explaining inside Spark: the registered model runs in each partition.

The model artifact (a directory of checksummed files, see
:mod:`churnguard.models.artifacts`) reaches the executors either by path
(shared storage: the local machine, NFS, DBFS, a mounted object store) or
through ``SparkContext.addFile`` (copied to every executor's ``SparkFiles``
directory). Each Python worker loads and verifies it once and keeps it for the
partitions it runs; nothing but the scores leaves the executors.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from ..models.artifacts import TrainedModel

__all__ = ["ModelRef", "explain_frame", "score_frame", "ship_model"]

Access = Literal["auto", "path", "sparkfiles"]

SCORE_SCHEMA = "subscriber_id string, churn_probability double, raw_score double"
REASON_SCHEMA = (
    "subscriber_id string, top_categories string, top_reasons_en string, top_reasons_zh string"
)

# Per Python worker: models already loaded, by artifact checksum. Spark reuses its
# Python workers across tasks (spark.python.worker.reuse), so a model is read and
# verified once per worker instead of once per partition.
_LOADED: dict[str, TrainedModel] = {}


@dataclass(frozen=True)
class ModelRef:
    """What an executor needs to load the registered model: where, its checksum, options."""

    version: str
    checksum: str
    path: str  # a directory path, or a SparkFiles name when ``via_sparkfiles``
    via_sparkfiles: bool
    explainer: str
    reasons_top: int

    def load(self) -> TrainedModel:
        """The model, loaded and checksum-verified once per Python worker."""
        model = _LOADED.get(self.checksum)
        if model is None:
            from ..models.artifacts import load_model

            directory = self.path
            if self.via_sparkfiles:
                from pyspark import SparkFiles  # noqa: TID251 - runs on executors only

                directory = SparkFiles.get(self.path)
            # one thread: each Spark task owns one core
            model = load_model(
                Path(directory),
                expected_checksum=self.checksum,
                threads=1,
                explainer=self.explainer,
            )
            _LOADED[self.checksum] = model
        return model


def ship_model(
    spark: Any, row: dict[str, Any], *, artifact: Path, work: Path, access: Access, settings: Any
) -> ModelRef:
    """Make the registered model readable by the executors; returns the reference they use.

    ``access="auto"`` reads the artifact by path on a local master and ships it
    with ``addFile`` on a cluster.
    """
    if access not in ("auto", "path", "sparkfiles"):
        raise InputError(f"unknown model access '{access}'; use auto, path or sparkfiles")
    local = str(spark.sparkContext.master).startswith("local")
    via_files = access == "sparkfiles" or (access == "auto" and not local)
    path = str(artifact)
    if via_files:
        # named by checksum: a name registered with addFile can never change content
        name = f"cg-model-{row['checksum'][:16]}"
        staged = work / "artifacts" / name
        if not staged.exists():
            staged.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(artifact, staged)
        spark.sparkContext.addFile(str(staged), recursive=True)
        path = name
    return ModelRef(
        version=str(row["version"]),
        checksum=str(row["checksum"]),
        path=path,
        via_sparkfiles=via_files,
        explainer=settings.models.explainer,
        reasons_top=settings.models.reasons_top,
    )


def score_frame(snapshot: Any, ref: ModelRef) -> Any:
    """``subscriber_id, churn_probability, raw_score`` for every row of a snapshot DataFrame."""

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = ref.load()
        for frame in batches:
            if frame.empty:
                continue
            raw = np.asarray(model.raw_scores(frame), dtype=np.float64)
            prob = np.asarray(model.calibrator.transform(raw), dtype=np.float64)
            yield pd.DataFrame(
                {
                    "subscriber_id": frame["subscriber_id"].astype(str).to_numpy(),
                    "churn_probability": prob,
                    "raw_score": raw,
                }
            )

    return snapshot.mapInPandas(score, schema=SCORE_SCHEMA)


def explain_frame(rows: Any, ref: ModelRef) -> Any:
    """Model reasons (as stored with scores) for the snapshot rows given (the warned only)."""
    from ..models.scoring import REASON_COLUMNS, explain_with_reasons

    def explain(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = ref.load()
        for frame in batches:
            if frame.empty:
                continue
            frame = frame.reset_index(drop=True)
            reasons = explain_with_reasons(model, frame, top=ref.reasons_top)
            out = pd.DataFrame({"subscriber_id": frame["subscriber_id"].astype(str).to_numpy()})
            for col in REASON_COLUMNS:
                out[col] = reasons[col].astype("string").to_numpy()
            yield out

    return rows.mapInPandas(explain, schema=REASON_SCHEMA)
