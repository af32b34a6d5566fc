"""Scoring a month in the DuckDB warehouse in chunks of rows (memory bounded by the chunk).

``models.scoring.score_month`` reads the whole snapshot into one pandas frame
(≈ 8 GB at 10 M subscribers × 100 features); here the snapshot streams from
DuckDB as Arrow batches, each batch is scored and appended to a temporary
table, and the ranks are computed by DuckDB when the month's rows are written.
The rows written are those ``score_month(..., explain_share=0)`` writes: the
same probabilities, the same ranks (ties by subscriber id), no reasons (the
warnings stage explains the customers it warns).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..errors import NotFoundError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["ChunkedScores", "score_in_chunks"]

_STAGE = "_cg_batch_scores"


@dataclass(frozen=True)
class ChunkedScores:
    """What :func:`score_in_chunks` wrote."""

    as_of: date
    model_version: str
    rows: int
    chunks: int
    seconds: float


def score_in_chunks(
    settings: Settings, *, as_of: date, rows_per_chunk: int = 500_000
) -> ChunkedScores:
    """Score every subscriber of the stored snapshot of ``as_of`` with the champion.

    Raises
    ------
    StateError
        No champion model.
    NotFoundError
        No snapshot of that month (build it first).
    """
    from ..features.store import arrow_frame, has_snapshot
    from ..models.scoring import _SCORES_DDL, OUTPUT_COLUMNS, SCORES_TABLE, load_registered
    from ..warehouse.analytical import connect, raw

    t0 = time.perf_counter()
    row, model = load_registered(settings)
    version = str(row["version"])
    backend = connect(settings)
    try:
        con = raw(backend)
        if not has_snapshot(backend, as_of):
            raise NotFoundError(
                f"no feature snapshot for {as_of:%Y-%m}; run 'churnguard features build "
                f"--as-of {as_of:%Y-%m} --workspace {settings.workspace}'"
            )
        # the reader holds ``con``; scores go through a second cursor of the same database
        cur = con.cursor()
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {_STAGE} "
            "(subscriber_id VARCHAR, churn_probability DOUBLE, raw_score DOUBLE)"
        )
        # no ORDER BY: ranks break ties by subscriber id in SQL, so the order of the
        # chunks does not matter, and sorting 10 M wide rows first would cost a spill
        reader: Any = con.sql(
            "SELECT * FROM feature_snapshots WHERE as_of = ?", params=[as_of]
        ).to_arrow_reader(rows_per_chunk)
        rows = chunks = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            frame = arrow_frame(batch)
            raw_score = np.asarray(model.raw_scores(frame), dtype=np.float64)
            prob = np.asarray(model.calibrator.transform(raw_score), dtype=np.float64)
            part = pa.table(
                {
                    "subscriber_id": batch.column("subscriber_id").cast(pa.string()),
                    "churn_probability": prob,
                    "raw_score": raw_score,
                }
            )
            cur.register("_cg_part", part)
            try:
                cur.execute(f"INSERT INTO {_STAGE} SELECT * FROM _cg_part")
            finally:
                cur.unregister("_cg_part")
            rows += batch.num_rows
            chunks += 1
            del frame, part
        if rows == 0:
            raise NotFoundError(f"the snapshot of {as_of:%Y-%m} has no subscribers to score")
        scored_at = datetime.now(UTC).replace(tzinfo=None)
        values = {
            "as_of": "CAST(? AS DATE)",
            "subscriber_id": "subscriber_id",
            "model_version": "CAST(? AS VARCHAR)",
            "churn_probability": "churn_probability",
            "raw_score": "raw_score",
            "rank": "row_number() OVER (ORDER BY churn_probability DESC, subscriber_id)",
            "top_categories": "CAST(NULL AS VARCHAR)",
            "top_reasons_en": "CAST(NULL AS VARCHAR)",
            "top_reasons_zh": "CAST(NULL AS VARCHAR)",
            "scored_at": "CAST(? AS TIMESTAMP)",
        }
        select = ", ".join(f"{values[c]} AS {c}" for c in OUTPUT_COLUMNS)
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(_SCORES_DDL)
            cur.execute(
                f"DELETE FROM {SCORES_TABLE} WHERE as_of = ? AND model_version = ?",
                [as_of, version],
            )
            cur.execute(
                f"INSERT INTO {SCORES_TABLE} ({', '.join(OUTPUT_COLUMNS)}) "
                f"SELECT {select} FROM {_STAGE}",
                [as_of, version, scored_at],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        cur.close()
    finally:
        backend.disconnect()
    return ChunkedScores(
        as_of=as_of,
        model_version=version,
        rows=rows,
        chunks=chunks,
        seconds=time.perf_counter() - t0,
    )
