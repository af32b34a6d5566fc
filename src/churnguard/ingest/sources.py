"""Find the data files of a batch: one ``<table>.csv`` / ``.csv.gz`` / ``.parquet`` per table.

Files whose name is not a contract table are refused when they look like data
(``.csv``, ``.parquet``, ``.xlsx`` ...), so a misnamed export is never skipped
silently; other files (README, checksums, hidden files) and sub-folders are ignored
and listed in the report.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ..contract import TABLES
from ..errors import InputError, NotFoundError
from .mapping import ColumnMapping, normalise_name

__all__ = ["FileFormat", "SourceFile", "discover"]


class FileFormat(StrEnum):
    """The file formats ingest reads."""

    CSV = "csv"
    PARQUET = "parquet"


# Suffix (lower case, compound first) -> format.
_READABLE = {
    ".csv.gz": FileFormat.CSV,
    ".tsv.gz": FileFormat.CSV,
    ".csv": FileFormat.CSV,
    ".tsv": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}
# Suffixes of files that hold table data ingest cannot read: refused, never skipped.
_DATA_LIKE = (
    ".xlsx", ".xls", ".xlsm", ".json", ".jsonl", ".ndjson", ".orc", ".avro", ".feather",
    ".arrow", ".dta", ".sav", ".dbf", ".zip", ".7z", ".rar", ".gz", ".bz2", ".xz", ".dat",
)  # fmt: skip


@dataclass(frozen=True)
class SourceFile:
    """One data file of a batch and the contract table it feeds."""

    table: str
    path: Path
    format: FileFormat


@dataclass(frozen=True)
class Discovery:
    """The batch's data files (contract order) and the files that were ignored."""

    files: tuple[SourceFile, ...]
    ignored: tuple[str, ...]


def _split(name: str) -> tuple[str, str]:
    lower = name.lower()
    for suffix in (*_READABLE, *_DATA_LIKE):
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    dot = name.rfind(".")
    return (name, "") if dot <= 0 else (name[:dot], lower[dot:])


def discover(source: Path, *, mapping: ColumnMapping) -> Discovery:
    """List the data files of a batch folder.

    Raises
    ------
    NotFoundError
        The folder does not exist.
    InputError
        It is not a folder, holds no data file, holds a data file whose name is no
        contract table (nor mapped to one), a table's file in a format other than
        CSV/Parquet, or two files for one table.
    """
    if not source.exists():
        raise NotFoundError(
            f"source folder {source} does not exist; pass the folder holding the "
            f"<table>.csv or <table>.parquet files ({', '.join(TABLES)})"
        )
    if not source.is_dir():
        raise InputError(
            f"{source} is a file; pass the folder that holds it (one file per table, named "
            f"after the table: {', '.join(TABLES)})"
        )
    tables = list(TABLES)
    found: dict[str, SourceFile] = {}
    ignored: list[str] = []
    problems: list[str] = []
    for path in sorted(source.iterdir()):
        name = path.name
        if name.startswith(".") or not path.is_file():
            ignored.append(name + ("/" if path.is_dir() else ""))
            continue
        stem, suffix = _split(name)
        table = mapping.table_for_file(stem) or (
            normalise_name(stem) if normalise_name(stem) in TABLES else None
        )
        fmt = _READABLE.get(suffix)
        if table is None:
            if fmt is not None or suffix in _DATA_LIKE:
                near = difflib.get_close_matches(normalise_name(stem), tables, n=2, cutoff=0.5)
                hint = f" (did you mean {' or '.join(near)}?)" if near else ""
                problems.append(
                    f"{name} is not named after a contract table{hint}: rename it to "
                    f"<table>{suffix} with <table> one of {', '.join(tables)}, or map it "
                    "in the mapping file's 'files' section"
                )
            else:
                ignored.append(name)
            continue
        if fmt is None:
            problems.append(
                f"{name} is not CSV or Parquet; export the {table} table as {table}.csv "
                f"(UTF-8 or GBK) or {table}.parquet"
            )
            continue
        if table in found:
            problems.append(
                f"two files for table {table}: {found[table].path.name} and {name}; "
                "keep one per batch"
            )
            continue
        found[table] = SourceFile(table=table, path=path, format=fmt)
    if problems:
        raise InputError(f"cannot ingest {source}: " + "; ".join(problems))
    if not found:
        raise InputError(
            f"{source} holds no data file; put one file per table named "
            f"<table>.csv or <table>.parquet ({', '.join(tables)}) in it"
        )
    ordered = tuple(found[t] for t in TABLES if t in found)
    return Discovery(files=ordered, ignored=tuple(ignored))
