"""Where the monthly batch reads the contract tables from, and where Spark writes back.

A location is written ``parquet:DIR`` (a folder of ``<table>.parquet`` files, of
``<table>/`` part folders, or of ``chunk-*/<table>.parquet`` chunks as the
simulator writes them) or ``catalog:DB`` (Hive / Unity Catalog tables
``DB.<table>``). Without ``--source`` the Spark batch reads the workspace's
DuckDB warehouse (the tables are exported to Parquet first).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..contract import TABLES, ColumnType
from ..errors import InputError, NotFoundError
from ..features.context import AsOf

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Location", "parse_location", "register_tables"]

log = logging.getLogger(__name__)

Kind = Literal["warehouse", "parquet", "catalog"]

_SPARK_TYPES = {
    ColumnType.STRING: "string",
    ColumnType.INT: "bigint",
    ColumnType.FLOAT: "double",
    ColumnType.BOOL: "boolean",
    ColumnType.DATE: "date",
    ColumnType.MONTH: "date",
    ColumnType.TIMESTAMP: "timestamp",
}


@dataclass(frozen=True)
class Location:
    """A place holding tables: the workspace warehouse, a Parquet folder or a catalog database."""

    kind: Kind
    where: str = ""

    def __str__(self) -> str:
        return "warehouse" if self.kind == "warehouse" else f"{self.kind}:{self.where}"


def parse_location(text: str | None, *, option: str = "--source") -> Location:
    """``parquet:DIR`` or ``catalog:DB`` (``None``: the workspace warehouse).

    Raises
    ------
    InputError
        Anything else, with the accepted forms.
    """
    if text is None or text.strip() in ("", "warehouse"):
        return Location("warehouse")
    kind, sep, where = text.partition(":")
    kind = kind.strip().lower()
    where = where.strip()
    if not sep or kind not in ("parquet", "catalog") or not where:
        raise InputError(
            f"{option} '{text}' is not a location; write parquet:DIR (a folder of "
            "<table>.parquet files or <table>/ part folders) or catalog:DB (Hive/catalog "
            "tables DB.<table>)"
        )
    if kind == "catalog" and not all(p.replace("_", "").isalnum() for p in where.split(".")):
        raise InputError(
            f"{option} catalog:{where}: a database name is letters, digits and '_' "
            "(optionally catalog.schema)"
        )
    return Location("parquet" if kind == "parquet" else "catalog", where)


def _parquet_paths(root: Path, name: str) -> list[str]:
    """The Parquet files or folders of table ``name`` under ``root`` (empty when absent)."""
    single = [root / f"{name}.parquet", root / f"{name}.pq"]
    for p in single:
        if p.exists():
            return [str(p)]
    folder = root / name
    if folder.is_dir() and any(folder.glob("*.parquet")):
        return [str(folder)]
    chunks = sorted(root.glob(f"chunk-*/{name}.parquet"))
    return [str(p) for p in chunks]


def _export_warehouse(settings: Settings, asof: AsOf, root: Path) -> Path:
    """The warehouse's contract tables, rows dated up to the as-of month, as Parquet under root."""
    from ..features.context import table_names
    from ..features.engines import open_warehouse

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    backend = open_warehouse(settings, read_only=True)
    try:
        present = table_names(backend)
        for name, schema in TABLES.items():
            if name not in present:
                continue
            where = ""
            if schema.time_column:
                where = f" WHERE \"{schema.time_column}\" < DATE '{asof.next_start.isoformat()}'"
            # every column, not only the contract's: extra ones (e.g. marketing_opt_out) are kept
            backend.con.execute(
                f"COPY (SELECT * FROM \"{name}\"{where}) TO '{root / name}.parquet' "
                "(FORMAT parquet)"
            )
    finally:
        backend.disconnect()
    return root


def _typed(df: Any, name: str, asof: AsOf) -> Any:
    """Contract columns cast to their types; rows dated after the as-of month dropped."""
    from pyspark.sql import functions as F  # noqa: TID251 - Spark path only

    schema = TABLES[name]
    present = set(df.columns)
    for col in schema.columns:
        if col.name in present:
            df = df.withColumn(col.name, F.col(f"`{col.name}`").cast(_SPARK_TYPES[col.type]))
    if schema.time_column and schema.time_column in present:
        df = df.filter(F.col(schema.time_column) < F.lit(asof.next_start))
    return df


def register_tables(
    spark: Any, source: Location, *, settings: Settings, asof: AsOf, work: Path
) -> dict[str, str]:
    """Make each contract table of ``source`` a Spark temp view named after the table.

    Only rows dated up to the as-of month are visible (point in time). Views of
    tables the source lacks are dropped, so a view of an earlier run never
    shadows a missing table. Returns table name → where it was read from.

    Raises
    ------
    NotFoundError
        The Parquet folder or the catalog database does not exist.
    InputError
        The source has no ``subscribers`` table (the one required table).
    """
    if source.kind == "warehouse":
        root = _export_warehouse(settings, asof, work / "input")
        source_root: Path | None = root
    elif source.kind == "parquet":
        source_root = Path(source.where).expanduser()
        if not source_root.is_dir():
            raise NotFoundError(
                f"--source parquet:{source.where}: no such folder; pass the folder holding "
                "<table>.parquet files (or <table>/ folders of parts)"
            )
    else:
        source_root = None
        if not spark.catalog.databaseExists(source.where):
            raise NotFoundError(
                f"--source catalog:{source.where}: no such database in the Spark catalog; "
                "check the name (SHOW DATABASES) and that the session uses your metastore "
                "(spark.sql.catalogImplementation=hive, or Unity Catalog on Databricks)"
            )
    found: dict[str, str] = {}
    for name in TABLES:
        df = None
        if source_root is not None:
            paths = _parquet_paths(source_root, name)
            if paths:
                df = spark.read.parquet(*paths)
                found[name] = ", ".join(paths)
        else:
            full = f"{source.where}.{name}"
            if spark.catalog.tableExists(full):
                df = spark.table(full)
                found[name] = full
        if df is None:
            spark.catalog.dropTempView(name)
            continue
        _typed(df, name, asof).createOrReplaceTempView(name)
    if "subscribers" not in found:
        raise InputError(
            f"the batch source {source} has no subscribers table (the one required contract "
            "table); export it as subscribers.parquet, or name the catalog table "
            "DB.subscribers"
        )
    log.info("batch source %s: %s", source, ", ".join(sorted(found)))
    return found
