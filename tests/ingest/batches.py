"""Hand-written batches: tiny CSV/Parquet folders with known defects, and warehouse probes."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb

from churnguard.config import Settings

AS_OF = date(2024, 6, 1)

SUBSCRIBERS = [
    ["subscriber_id", "msisdn", "name", "service_type", "activation_date", "monthly_fee", "age"],
    ["S1", "13812345678", "张三", "mobile", "2023-01-05", "58", "30"],
    ["S2", "13900001111", "李四", "broadband", "2023-02-01", "99", "41"],
    ["S3", "13700002222", "王五", "tv", "2023-03-01", "30", "52"],
]
USAGE = [
    ["subscriber_id", "month", "voice_minutes", "data_mb", "active_days"],
    ["S1", "2024-01-01", "100", "2000", "30"],
    ["S1", "2024-02-01", "120", "2100", "28"],
    ["S2", "2024-01-01", "50", "100", "10"],
    ["S3", "2024-01-01", "0", "0", "0"],
]


def write_csv(folder: Path, table: str, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    """Write ``rows`` (header first) as ``folder/<table>.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table}.csv"
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def batch(folder: Path, **tables: list[list[str]]) -> Path:
    """A batch folder with one CSV per keyword argument."""
    for name, rows in tables.items():
        write_csv(folder, name, rows)
    return folder


def query(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    """Run a read-only query on the workspace's warehouse."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def quarantined(settings: Settings, table: str) -> dict[int, list[str]]:
    """source_row -> reasons of a table's quarantined rows."""
    return {
        int(r): list(reasons)  # type: ignore[call-overload]
        for r, reasons in query(
            settings,
            f"SELECT source_row, reasons FROM quarantine WHERE table_name = '{table}'",
        )
    }
