"""Ingest: bring an operator's files into the warehouse, keeping every good row.

Reads a folder of ``<table>.csv|.parquet`` files, checks them against the data
contract inside DuckDB, sets rejected rows aside in the quarantine with every
reason that applies, and merges the rest by natural key, all in one
transaction. See docs/ingest.md.
"""

from __future__ import annotations

from .pipeline import Progress, ingest
from .quarantine import (
    QuarantineCount,
    QuarantinedRow,
    export_quarantine,
    quarantine_rows,
    quarantine_summary,
)
from .report import FileRecord, IngestReport, TableReport

__all__ = [
    "FileRecord",
    "IngestReport",
    "Progress",
    "QuarantineCount",
    "QuarantinedRow",
    "TableReport",
    "export_quarantine",
    "ingest",
    "quarantine_rows",
    "quarantine_summary",
]
