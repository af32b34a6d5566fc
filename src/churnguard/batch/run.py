"""``churnguard batch``: the monthly batch (features, scores, value, warnings) in one call."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..errors import InputError
from ..months import month_start
from .sources import Location, parse_location
from .spark_scoring import Access

if TYPE_CHECKING:
    from ..config import Settings
    from ..warnings.engine import WarningBatch
    from ..warnings.store import RecordSummary

__all__ = ["ENGINES", "BatchResult", "run_batch"]

log = logging.getLogger(__name__)

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


@dataclass
class BatchResult:
    """What one monthly batch did: per-stage seconds, counts, where the results went."""

    as_of: date
    run_date: date
    engine: str
    model_version: str | None
    batch: WarningBatch
    stored: RecordSummary
    matrix: pd.DataFrame
    stages: dict[str, float] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    explained: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def counts(self, column: str) -> dict[str, int]:
        w = self.batch.warnings
        if w.empty or column not in w.columns:
            return {}
        return {str(k): int(v) for k, v in w[column].value_counts().items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": f"{self.as_of:%Y-%m}",
            "run_date": self.run_date.isoformat(),
            "engine": self.engine,
            "model_version": self.model_version,
            "scored": self.batch.scored,
            "warnings": len(self.batch.warnings),
            "group_warnings": len(self.batch.groups),
            "explained": self.explained,
            "thresholds": self.batch.thresholds.as_dict(),
            "by_level": self.counts("level"),
            "by_queue": self.counts("queue"),
            "stored": self.stored.to_dict(),
            "stages": {k: round(v, 2) for k, v in self.stages.items()},
            "seconds": round(sum(self.stages.values()), 2),
            "tables": dict(self.tables),
            "sources": dict(self.sources),
            "value_risk_matrix": self.matrix.to_dict("records"),
            "pushes": self.pushes,
        }


def _duckdb_batch(settings: Settings, *, month: date, run_date: date, push: bool) -> BatchResult:
    from ..features import build_snapshot
    from ..models.registry import champion
    from ..warnings.run import raise_warnings
    from .duckdb_scoring import score_in_chunks

    champion(settings)  # no model, no batch: fail before building anything
    stages: dict[str, float] = {}
    t = time.perf_counter()
    build_snapshot(settings, as_of=month, engine="duckdb")
    stages["snapshot"] = time.perf_counter() - t
    t = time.perf_counter()
    # probabilities for everyone, streamed in chunks of rows (memory bounded at 10 M);
    # reasons later, for the warned only
    score_in_chunks(settings, as_of=month)
    stages["score"] = time.perf_counter() - t
    t = time.perf_counter()
    warned = raise_warnings(settings, as_of=month, run_date=run_date, push=push)
    stages["value_warnings"] = time.perf_counter() - t
    return BatchResult(
        as_of=month,
        run_date=run_date,
        engine="duckdb",
        model_version=warned.model_version,
        batch=warned.batch,
        stored=warned.stored,
        matrix=warned.matrix,
        stages=stages,
        tables={"scores": f"{settings.warehouse_path}:scores"},
        sources={"warehouse": str(settings.warehouse_path)},
        explained=len(warned.batch.warnings),
        pushes=warned.pushes,
    )


def run_batch(
    settings: Settings,
    *,
    as_of: date,
    engine: str = "duckdb",
    source: str | Location | None = None,
    output: str | Location | None = None,
    run_date: date | None = None,
    push: bool = True,
    model_access: Access = "auto",
    spark: Any | None = None,
) -> BatchResult:
    """Run the monthly batch for ``as_of`` on DuckDB or Spark.

    Parameters
    ----------
    settings
        Workspace settings; the champion model and the warnings live in its
        operational database.
    as_of
        The month (any day in it).
    engine
        ``"duckdb"``: the workspace warehouse (``features build``, ``score``,
        ``warn``). ``"spark"``: the contract tables are read by Spark (from
        ``source``), the snapshot, scores, value and rules computed there,
        scores and warnings written back as tables (``output``), the warnings
        synced into the operational database from the driver.
    source
        Spark only: ``parquet:DIR``, ``catalog:DB`` or ``None`` (the workspace
        warehouse, exported to Parquet).
    output
        Spark only: where scores and warnings are written, ``parquet:DIR`` or
        ``catalog:DB`` (default ``parquet:<workspace>/spark/tables``).
    run_date
        The day the warnings are raised (deadlines count from it); default today.
    push
        Push new warnings to the configured webhook / e-mail digest.
    model_access
        Spark only: how executors read the model artifact (``auto``: by path on
        a local master, ``addFile``/SparkFiles on a cluster; ``path``: shared
        storage; ``sparkfiles``).
    spark
        Spark only: a session to use (default: the active or a local one).

    Raises
    ------
    InputError
        Unknown engine, a bad location, or a source with DuckDB.
    StateError
        No champion model (train one first), or Spark unavailable.
    NotFoundError
        Nothing ingested, or the source folder/database missing.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine '{engine}'; use --engine duckdb or --engine spark")
    month = month_start(as_of)
    run = run_date or datetime.now(UTC).date()
    src = source if isinstance(source, Location) else parse_location(source)
    out = output if isinstance(output, Location) else parse_location(output, option="--output")
    if engine == "duckdb":
        if src.kind != "warehouse" or out.kind != "warehouse":
            raise InputError(
                "--source and --output are for --engine spark; with duckdb the batch reads "
                "and writes the workspace warehouse: load the folder first with "
                "'churnguard ingest DIR', or pass --engine spark"
            )
        return _duckdb_batch(settings, month=month, run_date=run, push=push)
    return _spark_batch(
        settings,
        month=month,
        run_date=run,
        source=src,
        output=out,
        push=push,
        access=model_access,
        spark=spark,
    )


def _spark_batch(
    settings: Settings,
    *,
    month: date,
    run_date: date,
    source: Location,
    output: Location,
    push: bool,
    access: Access,
    spark: Any | None,
) -> BatchResult:
    from ..models.registry import champion
    from ..warehouse.operational import session_scope
    from ..warnings.run import push_warnings
    from ..warnings.store import record
    from .spark_run import run_spark_month

    champion(settings)  # no model, no batch: fail before starting Spark
    if output.kind == "warehouse":
        output = Location("parquet", str(settings.workspace / "spark" / "tables"))
    got = run_spark_month(
        settings,
        month=month,
        run_date=run_date,
        source=source,
        output=output,
        access=access,
        spark=spark,
    )
    t = time.perf_counter()
    with session_scope(settings) as session:
        stored = record(
            session,
            got.batch,
            active_ids=got.active_ids,
            cooldown_days=settings.warnings.cooldown_days,
            model_version=got.model_version,
        )
    pushes: list[dict[str, Any]] = []
    if push:
        w = got.batch.warnings
        fresh = w[stored.inserted]
        pushes = push_warnings(settings, fresh, as_of=month, run_date=run_date)
    got.seconds["sync"] = time.perf_counter() - t
    return BatchResult(
        as_of=month,
        run_date=run_date,
        engine="spark",
        model_version=got.model_version,
        batch=got.batch,
        stored=stored,
        matrix=got.matrix,
        stages=got.seconds,
        tables=got.tables,
        sources=got.sources,
        explained=got.explained,
        pushes=pushes,
    )
