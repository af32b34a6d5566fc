"""The DuckDB warehouse through Ibis: open, read-only, transactions, lock conflicts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from churnguard.config import Settings
from churnguard.errors import ConfigError, NotFoundError, StateError
from churnguard.warehouse.analytical import connect, raw, table_exists, transaction


def test_read_only_needs_a_warehouse(workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match="run 'churnguard ingest SOURCE"):
        connect(workspace, read_only=True)


def test_ibis_tables_and_transactions(workspace: Settings) -> None:
    backend = connect(workspace)
    con = raw(backend)
    con.execute("CREATE TABLE usage (subscriber_id VARCHAR, voice_minutes DOUBLE)")
    with transaction(backend) as tx:
        tx.execute("INSERT INTO usage VALUES ('S1', 3.5), ('S2', 1.5)")
    with pytest.raises(ValueError, match="boom"), transaction(backend) as tx:
        tx.execute("INSERT INTO usage VALUES ('S3', 9)")
        raise ValueError("boom")
    assert table_exists(con, "usage") and not table_exists(con, "billing")
    backend.disconnect()
    reader = connect(workspace, read_only=True)
    expr = reader.table("usage").voice_minutes.sum()
    assert reader.execute(expr) == 5.0
    reader.disconnect()


def test_settings_tune_duckdb(tmp_path: object) -> None:
    from pathlib import Path

    from churnguard.config import load_settings

    ws = Path(str(tmp_path)) / "ws"
    settings = load_settings(
        ws, create=True, overrides={"warehouse": {"threads": 1, "memory_limit": "1GB"}}
    )
    backend = connect(settings)
    threads, memory = raw(backend).execute(
        "SELECT current_setting('threads'), current_setting('memory_limit')"
    ).fetchone() or (None, None)
    backend.disconnect()
    assert threads == 1 and str(memory).startswith(("953", "1.0", "1 GiB", "1GB"))
    # one connection's own limit (the streaming reads') instead of the workspace's
    backend = connect(settings, memory_limit="256MB")
    (memory,) = raw(backend).execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
    backend.disconnect()
    assert str(memory).startswith(("244", "256")), memory
    with pytest.raises(ConfigError, match="stream_memory_limit"):
        load_settings(ws, overrides={"warehouse": {"stream_memory_limit": "lots"}})


def test_locked_by_another_process(workspace: Settings) -> None:
    connect(workspace).disconnect()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(workspace.warehouse_path)!r})
            sys.stdout.write("ready\\n"); sys.stdout.flush()
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StateError, match="in use by another churnguard process"):
            connect(workspace)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    time.sleep(0.1)
    connect(workspace).disconnect()
