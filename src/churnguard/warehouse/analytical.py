"""The analytical warehouse: one DuckDB file, reached through Ibis.

Stages read contract tables as Ibis expressions (``connect(settings).table("usage")``);
writers that need several statements to commit together use :func:`transaction`
on the underlying DuckDB connection (:func:`raw`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb
import ibis

from ..errors import NotFoundError, StateError

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend

    from ..config import Settings

__all__ = ["connect", "raw", "table_exists", "transaction"]


def connect(
    settings: Settings, *, read_only: bool = False, memory_limit: str | None = None
) -> Backend:
    """Open the workspace's DuckDB warehouse as an Ibis backend.

    Parameters
    ----------
    settings
        The workspace settings; ``settings.warehouse_path`` is the DuckDB file and
        ``settings.warehouse.threads`` / ``memory_limit`` tune the engine.
    read_only
        Open without the write lock, so several readers can share the file. A
        read-only open of a warehouse that does not exist yet is an error.
    memory_limit
        This connection's DuckDB memory limit instead of ``settings.warehouse.memory_limit``.

    Raises
    ------
    NotFoundError
        ``read_only`` and no warehouse yet (nothing was ingested).
    StateError
        Another process holds the write lock on the file.
    """
    path = settings.warehouse_path
    if read_only and not path.exists():
        raise NotFoundError(
            f"no warehouse at {path}: nothing has been ingested in this workspace yet; "
            "run 'churnguard ingest SOURCE --workspace "
            f"{settings.workspace}' first"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {}
    if settings.warehouse.threads is not None:
        config["threads"] = settings.warehouse.threads
    limit = memory_limit or settings.warehouse.memory_limit
    if limit is not None:
        config["memory_limit"] = limit
    try:
        backend: Backend = ibis.duckdb.connect(path, read_only=read_only, **config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StateError(
                f"the warehouse {path} is in use by another churnguard process; "
                "wait for it to finish (or stop it) and retry"
            ) from None
        raise StateError(
            f"cannot open the warehouse {path}: {exc}. If the file is damaged, restore it "
            "from a backup or move it away and re-ingest the sources"
        ) from None
    return backend


def raw(backend: Backend) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection under an Ibis backend, for DDL and multi-statement writes."""
    con: duckdb.DuckDBPyConnection = backend.con
    return con


@contextmanager
def transaction(backend: Backend) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one DuckDB transaction: all of it commits, or none of it.

    Yields the raw DuckDB connection. An exception inside the block rolls back
    and propagates; a process killed inside the block leaves no trace (DuckDB
    discards an uncommitted transaction on restart).
    """
    con = raw(backend)
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def table_exists(con: duckdb.DuckDBPyConnection, name: str, *, schema: str = "main") -> bool:
    """Whether the warehouse has a table (or view) called ``name``."""
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ? AND table_catalog = current_database()",
        [schema, name],
    ).fetchall()  # fetch to the end: DuckDB 2 blocks a connection on an unfinished result
    return bool(rows and rows[0][0])
