"""Settings sections owned by the foundation: warehouse, operational database, ingest, privacy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["IngestSettings", "OperationalSettings", "PrivacySettings", "WarehouseSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseSettings(_Section):
    """The analytical plane: where contract tables, snapshots and scores live."""

    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="engine of the monthly batch: embedded DuckDB or Spark"
    )
    path: str = Field("warehouse.duckdb", description="DuckDB file, relative to the workspace")
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores)")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '8GB'")
    stream_memory_limit: str | None = Field(
        "1GB",
        pattern=r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|[KMGT])\s*$",
        description="DuckDB memory limit of reads that only stream rows out to Python (the "
        "warned customers' snapshot rows for their explanations): DuckDB keeps the blocks it "
        "scanned cached up to its limit, next to what Python holds (10 M base: ~4.5 GB); "
        "unset = memory_limit",
    )
    snapshot_partition_rows: int = Field(
        2_000_000,
        ge=1,
        description="a features snapshot of a larger base is built in ranges of subscriber "
        "ids of about this many subscribers (group features still count whole groups), so its "
        "joins and aggregates fit in memory; lower it when a build runs out of memory_limit",
    )


class OperationalSettings(_Section):
    """The operational plane: registry, warnings, campaigns, users, audit."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite file operational.db in the workspace",
    )


class IngestSettings(_Section):
    """Reading an operator's export files."""

    encoding: Literal["auto", "utf-8", "gbk"] = Field(
        "auto", description="CSV encoding; auto tries UTF-8 then GBK"
    )
    mapping: str | None = Field(
        None, description="column mapping file (YAML/TOML), relative to the workspace"
    )


class PrivacySettings(_Section):
    """Who sees personal data (phone numbers, names, ID numbers) in clear."""

    clear_text_roles: tuple[str, ...] = Field(
        ("admin",), description="roles that may see phone numbers, names and ID numbers in clear"
    )
    export_clear_text: bool = Field(
        False, description="worklists and exports show personal data in clear"
    )
