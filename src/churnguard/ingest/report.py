"""Reconciliation: what happened to every row read, per table, for one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..errors import StateError

__all__ = ["FileRecord", "IngestReport", "TableReport"]


@dataclass(frozen=True)
class FileRecord:
    """A source file of a batch: name, checksum, format, encoding and rows read."""

    table: str
    file: str
    sha256: str
    size: int
    format: str
    encoding: str | None
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class TableReport:
    """The fate of one table's rows: ``read = loaded + updated + unchanged + quarantined``.

    ``loaded`` are new natural keys, ``updated`` known keys whose values changed,
    ``unchanged`` known keys with identical values (a re-ingest), ``quarantined``
    rows set aside (``reasons`` counts each code once per row, so a row with two
    reasons counts twice there). ``new_quarantine_entries`` is how many of the
    quarantined rows were not in quarantine before.
    """

    table: str
    read: int
    loaded: int
    updated: int
    unchanged: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    new_quarantine_entries: int = 0
    ignored_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        accounted = self.loaded + self.updated + self.unchanged + self.quarantined
        if accounted != self.read:
            raise StateError(
                f"reconciliation failed for {self.table}: read {self.read} rows but loaded "
                f"{self.loaded} + updated {self.updated} + unchanged {self.unchanged} + "
                f"quarantined {self.quarantined} = {accounted}; the batch was rolled back"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "loaded": self.loaded,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
            "new_quarantine_entries": self.new_quarantine_entries,
            "extra_columns": list(self.extra_columns),
            "ignored_columns": list(self.ignored_columns),
        }


@dataclass(frozen=True)
class IngestReport:
    """The outcome of one committed batch."""

    batch_id: str
    source: str
    as_of: date
    started_at: datetime
    finished_at: datetime
    tables: dict[str, TableReport]
    files: tuple[FileRecord, ...]
    ignored_files: tuple[str, ...] = ()

    @property
    def read(self) -> int:
        return sum(t.read for t in self.tables.values())

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"batch_id", "as_of", "tables": {table: {...}}, "files", ...}``."""
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "as_of": self.as_of.strftime("%Y-%m"),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "totals": {
                "read": self.read,
                "loaded": sum(t.loaded for t in self.tables.values()),
                "updated": sum(t.updated for t in self.tables.values()),
                "unchanged": sum(t.unchanged for t in self.tables.values()),
                "quarantined": self.quarantined,
            },
            "files": [f.to_dict() for f in self.files],
            "ignored_files": list(self.ignored_files),
        }
