"""Where a snapshot is computed: the DuckDB warehouse (default) or local PySpark.

For Spark, the contract tables a snapshot reads are exported from DuckDB to
Parquet in the workspace (only rows dated up to the as-of month), read by
Spark, and the result is written back to Parquet for the warehouse to load.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING, Any

from ..contract import TABLES
from ..errors import InputError, NotFoundError
from .context import AsOf, table_names

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["check_coverage", "data_months", "open_warehouse", "spark_snapshot"]

log = logging.getLogger(__name__)

# Tables whose months tell which periods the warehouse covers, in order of preference.
_COVERAGE_TABLES = ("usage", "billing", "network_quality")


def open_warehouse(
    settings: Settings, *, read_only: bool = False, memory_limit: str | None = None
) -> Any:
    """The workspace's DuckDB warehouse as an Ibis backend (``memory_limit``: this connection's).

    Raises
    ------
    NotFoundError
        Nothing has been ingested in the workspace.
    """
    from ..warehouse.analytical import connect

    if not settings.warehouse_path.exists():
        raise NotFoundError(
            f"no warehouse at {settings.warehouse_path}: nothing has been ingested in this "
            f"workspace yet; run 'churnguard ingest SOURCE --workspace {settings.workspace}' first"
        )
    backend = connect(settings, read_only=read_only, memory_limit=memory_limit)
    # DuckDB draws a progress bar on stdout for long queries: it would corrupt --json output
    backend.con.execute("SET enable_progress_bar = false")
    return backend


def data_months(backend: Any) -> tuple[str, list[Any]]:
    """The monthly table that dates the warehouse and its distinct months (sorted).

    Returns ``("", [])`` when no monthly table holds rows.
    """
    present = table_names(backend)
    for name in _COVERAGE_TABLES:
        if name in present:
            t = backend.table(name)
            months = sorted(backend.execute(t.select("month").distinct())["month"].tolist())
            if months:
                return name, [m.date() if hasattr(m, "date") else m for m in months]
    return "", []


def check_coverage(backend: Any, asof: AsOf) -> None:
    """Refuse an as-of month the warehouse holds no data for.

    Raises
    ------
    InputError
        With the months the warehouse covers, e.g. ``"no usage data for
        2025-05; the warehouse covers 2024-01..2025-06"``.
    """
    name, months = data_months(backend)
    if not months:
        if "subscribers" not in table_names(backend):
            raise InputError(
                "the warehouse has no subscribers table; ingest the data first "
                "('churnguard ingest SOURCE --workspace W')"
            )
        return
    if asof.month not in months:
        raise InputError(
            f"no {name} data for {asof}; the warehouse covers "
            f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}; pick an as-of month in that range"
        )


def _export(con: Any, name: str, asof: AsOf, path: str) -> None:
    schema = TABLES[name]
    cols = ", ".join(f'"{c}"' for c in schema.column_names)
    where = ""
    if schema.time_column:
        where = f" WHERE \"{schema.time_column}\" < DATE '{asof.next_start.isoformat()}'"
    con.execute(f"COPY (SELECT {cols} FROM \"{name}\"{where}) TO '{path}' (FORMAT parquet)")


def spark_snapshot(settings: Settings, backend: Any, asof: AsOf) -> str:
    """Compute the snapshot of ``asof`` on local Spark; returns a Parquet glob of the result.

    Raises
    ------
    SparkUnavailable
        PySpark or Java is missing.
    """
    from ..warehouse import spark
    from .snapshot import snapshot_expr

    ss = spark.session()  # fails early, before exporting anything, if Spark is unavailable
    sb = spark.connect(ss)
    root = settings.workspace / "spark" / f"snapshot-{asof}"
    if root.exists():
        shutil.rmtree(root)
    (root / "input").mkdir(parents=True)
    present = table_names(backend)
    con = backend.con
    for name in TABLES:
        if name in present:
            path = root / "input" / f"{name}.parquet"
            _export(con, name, asof, str(path))
            ss.read.parquet(str(path)).createOrReplaceTempView(name)
        else:
            # a view left over from an earlier build would shadow the missing table
            ss.catalog.dropTempView(name)
    expr = snapshot_expr(sb, as_of=asof.month)
    out = root / "snapshot"
    ss.sql(str(sb.compile(expr))).write.mode("overwrite").parquet(str(out))
    log.info("spark snapshot %s written to %s", asof, out)
    return str(out / "*.parquet")
