"""The monthly batch on Spark: snapshot, scores, value and warnings where the data lives.

The same Ibis expressions as on DuckDB (snapshot, customer value, rules) run on
the PySpark backend; the model scores inside Spark (``mapInPandas``). Only the
warned customers (and, for the level thresholds, one probability and CLV
column) reach the driver, which syncs them into the operational database.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..features.context import AsOf
from .sources import Location, register_tables
from .spark_scoring import Access, ModelRef, explain_frame, score_frame, ship_model

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from ..config import Settings
    from ..warnings.engine import WarningBatch

__all__ = ["SparkOutputs", "run_spark_month"]

log = logging.getLogger(__name__)

SCORES_TABLE = "churnguard_scores"
WARNINGS_TABLE = "churnguard_warnings"
GROUP_WARNINGS_TABLE = "churnguard_group_warnings"


@dataclass
class SparkOutputs:
    """What the Spark batch computed and where it wrote it."""

    batch: WarningBatch
    matrix: pd.DataFrame
    model_version: str
    scored: int
    explained: int
    active_ids: pd.Series  # active subscribers among those with open warnings
    tables: dict[str, str]  # output table -> where it was written
    sources: dict[str, str]
    seconds: dict[str, float]


def _spark_df(backend: Any, expr: ir.Table) -> Any:
    """An Ibis expression on the PySpark backend as a Spark DataFrame (nothing runs yet)."""
    return backend._session.sql(str(backend.compile(expr)))


def _checkpoint(spark: Any, df: Any, path: Path, view: str) -> Any:
    """``df`` written to Parquet and read back as temp view ``view`` (computed once)."""
    df.write.mode("overwrite").parquet(str(path))
    back = spark.read.parquet(str(path))
    back.createOrReplaceTempView(view)
    return back


def _scoring_base(
    settings: Settings, backend: Any, *, month: date, present: set[str], rules: Any
) -> ir.Table:
    """Snapshot ⨝ scores ⨝ value ⨝ profile on Spark, narrowed to what the run reads.

    The same join as :func:`churnguard.warnings.run.scoring_base`, from the tables
    this run registered (whose table listing and score look-up are DuckDB's).
    """
    from ..warnings.run import join_base, narrow_base

    tables: dict[str, ir.Table] = {
        n: backend.table(n) for n in ("subscribers", "billing", "usage") if n in present
    }
    base = join_base(
        settings,
        snap=backend.table("_cg_snapshot").drop("as_of"),
        scores=backend.table("_cg_scores"),
        tables=tables,
        as_of=month,
    )
    return narrow_base(base, rules=rules)


class _SparkExplainer:
    """``evaluate``'s explain hook: reasons for the candidates, computed on the executors."""

    def __init__(self, spark: Any, snapshot: Any, ref: ModelRef) -> None:
        self.spark, self.snapshot, self.ref = spark, snapshot, ref
        self.frames: list[pd.DataFrame] = []

    def __call__(self, ids: pd.Series) -> pd.DataFrame:
        from pyspark.sql import functions as F  # noqa: TID251 - Spark path only

        wanted = self.spark.createDataFrame(
            pd.DataFrame({"subscriber_id": ids.astype(str).to_numpy()})
        )
        rows = self.snapshot.join(F.broadcast(wanted), "subscriber_id", "inner")
        got = explain_frame(rows, self.ref).toPandas()  # the candidates only
        self.frames.append(got)
        return got

    def reasons(self) -> pd.DataFrame:
        if not self.frames:
            return pd.DataFrame(
                columns=["subscriber_id", "top_categories", "top_reasons_en", "top_reasons_zh"]
            )
        return pd.concat(self.frames, ignore_index=True).drop_duplicates("subscriber_id")


# lists from pandas, arrays from Spark's toPandas
_SEQUENCES = (list, tuple, np.ndarray)


def _joined(v: object) -> object:
    return ",".join(map(str, v)) if isinstance(v, _SEQUENCES) else v


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame Spark can take: lists joined as text, other objects as strings, no index."""
    out = frame.reset_index(drop=True).copy()
    for col in out.columns:
        if out[col].dtype != object:
            continue
        values = out[col]
        if values.map(lambda v: isinstance(v, _SEQUENCES)).any():
            out[col] = values.map(_joined)
            continue
        first = values.dropna().head(1)
        if not first.empty and isinstance(first.iloc[0], date | datetime | pd.Timestamp):
            continue
        else:
            out[col] = values.map(lambda v: None if v is None or v is pd.NA else str(v))
    return out


def _write(spark: Any, df: Any, *, name: str, output: Location, month: date) -> str:
    """Write one result table: Parquet under ``root`` or catalog table ``DB.name``.

    Catalog tables are partitioned by ``as_of``; only this month's partition is
    replaced, so earlier months stay.
    """
    if output.kind == "catalog":
        full = f"{output.where}.{name}"
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        if spark.catalog.tableExists(full):
            cols = spark.table(full).columns
            df.select(*cols).write.insertInto(full, overwrite=True)
        else:
            df.write.partitionBy("as_of").format("parquet").saveAsTable(full)
        return full
    path = Path(output.where) / name / f"as_of={month:%Y-%m-%d}"
    df.drop("as_of").write.mode("overwrite").parquet(str(path))
    return str(path)


def run_spark_month(
    settings: Settings,
    *,
    month: date,
    run_date: date,
    source: Location,
    output: Location,
    access: Access = "auto",
    spark: Any | None = None,
) -> SparkOutputs:
    """Snapshot, score, value and grade one month on Spark; write the results back as tables.

    The operational database is not touched here (see :func:`churnguard.batch.run_batch`).

    Raises
    ------
    SparkUnavailable
        PySpark or Java is missing.
    StateError
        No champion model registered.
    NotFoundError, InputError
        The source folder/database or its subscribers table is missing.
    """
    from pyspark.sql import Window  # noqa: TID251 - Spark path only
    from pyspark.sql import functions as F  # noqa: TID251 - Spark path only

    from ..features.snapshot import snapshot_expr
    from ..models.scoring import load_registered
    from ..value import value_risk_matrix
    from ..warehouse import spark as spark_wh
    from ..warnings.engine import evaluate
    from ..warnings.rules import load_rules

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    # the champion first: no model, no batch (and nothing exported or started for nothing)
    row, _model = load_registered(settings)
    del _model  # verified on the driver; the executors load their own copy
    rules = load_rules(workspace=settings.workspace)
    ss = spark if spark is not None else spark_wh.session()
    sb = spark_wh.connect(ss)
    asof = AsOf(month)
    work = settings.workspace / "spark" / f"batch-{month:%Y-%m}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    found = register_tables(ss, source, settings=settings, asof=asof, work=work)
    present = set(found)
    seconds["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    snapshot = _checkpoint(
        ss, _spark_df(sb, snapshot_expr(sb, as_of=month)), work / "snapshot", "_cg_snapshot"
    )
    seconds["snapshot"] = time.perf_counter() - t

    t = time.perf_counter()
    ref = ship_model(
        ss,
        row,
        artifact=settings.workspace / row["artifact_path"],
        work=work,
        access=access,
        settings=settings,
    )
    scored = score_frame(snapshot, ref)
    rank = F.row_number().over(
        Window.orderBy(F.col("churn_probability").desc(), F.col("subscriber_id"))
    )
    scores = scored.select(
        F.lit(month).alias("as_of"),
        "subscriber_id",
        F.lit(ref.version).alias("model_version"),
        "churn_probability",
        "raw_score",
        rank.cast("bigint").alias("rank"),
        F.lit(None).cast("string").alias("top_categories"),
        F.lit(None).cast("string").alias("top_reasons_en"),
        F.lit(None).cast("string").alias("top_reasons_zh"),
        F.lit(datetime.now(UTC).replace(tzinfo=None)).alias("scored_at"),
    )
    scores = _checkpoint(ss, scores, work / "scores", "_cg_scores")
    seconds["score"] = time.perf_counter() - t

    t = time.perf_counter()
    base_expr = _scoring_base(settings, sb, month=month, present=present, rules=rules)
    _checkpoint(ss, _spark_df(sb, base_expr), work / "base", "_cg_base")
    base = sb.table("_cg_base")
    explainer = _SparkExplainer(ss, snapshot, ref)
    batch = evaluate(
        base,
        rules=rules,
        settings=settings.warnings,
        as_of=month,
        run_date=run_date,
        explain=explainer,
    )
    matrix = value_risk_matrix(base).execute()
    seconds["value_warnings"] = time.perf_counter() - t

    t = time.perf_counter()
    from ..value.customer_value import active_subscribers
    from ..warehouse.operational import session_scope
    from ..warnings.store import open_warnings

    with session_scope(settings) as session:
        open_ids = open_warnings(session)["subscriber_id"].astype(str).unique()
    if len(open_ids):
        subs = active_subscribers(sb.table("subscribers"), as_of=month)
        wanted = ss.createDataFrame(pd.DataFrame({"subscriber_id": open_ids}))
        act = _spark_df(sb, subs.select("subscriber_id")).join(
            F.broadcast(wanted), "subscriber_id", "inner"
        )
        active_ids = act.toPandas()["subscriber_id"].astype(str)
    else:
        active_ids = pd.Series([], dtype=str)

    reasons = explainer.reasons()
    tables: dict[str, str] = {}
    if not reasons.empty:
        r = ss.createDataFrame(_plain(reasons))
        with_reasons = scores.drop("top_categories", "top_reasons_en", "top_reasons_zh").join(
            F.broadcast(r), "subscriber_id", "left"
        )
        final_scores = with_reasons.select(*scores.columns)
    else:
        final_scores = scores
    tables[SCORES_TABLE] = _write(ss, final_scores, name=SCORES_TABLE, output=output, month=month)
    if not batch.warnings.empty:
        w = ss.createDataFrame(_plain(batch.warnings.assign(model_version=ref.version)))
        tables[WARNINGS_TABLE] = _write(ss, w, name=WARNINGS_TABLE, output=output, month=month)
    if not batch.groups.empty:
        g = ss.createDataFrame(_plain(batch.groups.assign(as_of=month)))
        tables[GROUP_WARNINGS_TABLE] = _write(
            ss, g, name=GROUP_WARNINGS_TABLE, output=output, month=month
        )
    seconds["write"] = time.perf_counter() - t
    return SparkOutputs(
        batch=batch,
        matrix=matrix,
        model_version=ref.version,
        scored=batch.scored,
        explained=len(reasons),
        active_ids=active_ids,
        tables=tables,
        sources=found,
        seconds=seconds,
    )
