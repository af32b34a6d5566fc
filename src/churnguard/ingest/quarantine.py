"""The quarantine: every rejected source row, kept whole, with its file, line and reasons.

Written by :func:`write_quarantine` inside the batch's transaction, deduplicated
by (file checksum, row) so a re-ingest adds nothing. Read by
:func:`quarantine_summary`, :func:`quarantine_rows` (personal data masked) and
:func:`export_quarantine` (raw rows + reasons, to fix and re-ingest).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from ..contract import TABLES, RejectReason
from ..errors import InputError
from ..privacy import mask_email, mask_id_number, mask_msisdn, mask_name
from ..warehouse.analytical import connect, raw, table_exists
from .readers import StagedFile, quote_ident, quote_str
from .schema_check import ColumnPlan
from .store import QUARANTINE_TABLE

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "QuarantineCount",
    "QuarantineWrite",
    "QuarantinedRow",
    "export_quarantine",
    "quarantine_rows",
    "quarantine_summary",
    "write_quarantine",
]


@dataclass(frozen=True)
class QuarantineWrite:
    """What one table of a batch put in quarantine."""

    quarantined: int  # rows of this file that are in quarantine (new or already there)
    new_entries: int  # rows added now (0 when the same file was ingested before)
    reasons: dict[str, int]


def write_quarantine(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    *,
    rejected: str,
    plan: ColumnPlan,
    batch_id: str,
    now: datetime,
) -> QuarantineWrite:
    """Copy the rejected rows of one file (and its malformed CSV lines) into quarantine."""
    sha = quote_str(staged.fingerprint.sha256)
    fname = quote_str(staged.source.path.name)
    table = quote_str(staged.source.table)
    stamp = quote_str(now.isoformat(sep=" "))
    column_map = quote_str(json.dumps({src: dst for dst, src in plan.contract.items()}))
    fresh = (
        f"NOT EXISTS (SELECT 1 FROM {QUARANTINE_TABLE} q WHERE q.file_sha256 = {sha} "
        f"AND q.source_row = {{row}})"
    )
    row = con.execute(
        f"""
        INSERT INTO {QUARANTINE_TABLE}
        SELECT {table}, {quote_str(batch_id)}, {fname}, {sha}, c._source_row, c._source_line,
               c._reasons, c._detail, c._raw_json, {column_map},
               CAST({stamp} AS TIMESTAMP)
        FROM {rejected} c
        WHERE {fresh.format(row="c._source_row")}
        """
    ).fetchone()
    new_entries = int(row[0]) if row else 0
    reasons: Counter[str] = Counter(
        dict(
            con.execute(
                f"SELECT r, count(*) FROM (SELECT unnest(_reasons) AS r FROM {rejected}) GROUP BY r"
            ).fetchall()
        )
    )
    count = con.execute(f"SELECT count(*) FROM {rejected}").fetchone()
    quarantined = int(count[0]) if count else 0
    if staged.rejects_table and staged.rejected:
        # A malformed CSV line (wrong field count, broken quoting) cannot be split
        # into values: it is kept as its text, reported as bad_type.
        code = quote_str(RejectReason.BAD_TYPE.value)
        row = con.execute(
            f"""
            INSERT INTO {QUARANTINE_TABLE}
            SELECT {table}, {quote_str(batch_id)}, {fname}, {sha}, r.line - 1, r.line,
                   [{code}], 'malformed CSV line: ' || r.message,
                   CAST(json_object('_line', r.csv_line) AS VARCHAR), '{{}}',
                   CAST({stamp} AS TIMESTAMP)
            FROM {staged.rejects_table} r
            WHERE {fresh.format(row="r.line - 1")}
            """
        ).fetchone()
        new_entries += int(row[0]) if row else 0
        quarantined += staged.rejected
        reasons[RejectReason.BAD_TYPE.value] += staged.rejected
    return QuarantineWrite(quarantined, new_entries, dict(sorted(reasons.items())))


@dataclass(frozen=True)
class QuarantineCount:
    """Number of quarantined rows for one (table, reason, batch)."""

    table: str
    reason: str
    batch_id: str
    rows: int


@dataclass(frozen=True)
class QuarantinedRow:
    """One quarantined row as shown to people: personal values masked."""

    table: str
    batch_id: str
    source_file: str
    source_row: int
    source_line: int | None
    reasons: tuple[str, ...]
    detail: str | None
    values: dict[str, Any]


def _where(table: str | None, reason: str | None, batch: str | None) -> tuple[str, list[Any]]:
    if table is not None and table not in TABLES:
        raise InputError(f"--table {table} is not a contract table; one of {', '.join(TABLES)}")
    if reason is not None and reason not in {r.value for r in RejectReason}:
        raise InputError(
            f"--reason {reason} is not a reason code; one of "
            f"{', '.join(r.value for r in RejectReason)}"
        )
    clauses, params = ["true"], []
    if table is not None:
        clauses.append("table_name = ?")
        params.append(table)
    if reason is not None:
        clauses.append("list_contains(reasons, ?)")
        params.append(reason)
    if batch is not None:
        clauses.append("batch_id = ?")
        params.append(batch)
    return " AND ".join(clauses), params


def _open(settings: Settings) -> tuple[Any, duckdb.DuckDBPyConnection, bool]:
    backend = connect(settings, read_only=True)
    con = raw(backend)
    return backend, con, table_exists(con, QUARANTINE_TABLE)


def quarantine_summary(
    settings: Settings,
    *,
    table: str | None = None,
    reason: str | None = None,
    batch: str | None = None,
) -> list[QuarantineCount]:
    """Quarantined row counts by table, reason and batch (a row counts once per reason)."""
    where, params = _where(table, reason, batch)
    backend, con, present = _open(settings)
    try:
        if not present:
            return []
        rows = con.execute(
            f"SELECT table_name, r, batch_id, count(*) FROM (SELECT table_name, batch_id, "
            f"unnest(reasons) AS r FROM {QUARANTINE_TABLE} WHERE {where}) "
            + ("WHERE r = ? " if reason is not None else "")
            + "GROUP BY ALL ORDER BY 1, 2, 3",
            params + ([reason] if reason is not None else []),
        ).fetchall()
    finally:
        backend.disconnect()
    return [QuarantineCount(str(t), str(r), str(b), int(n)) for t, r, b, n in rows]


_MASKS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "msisdn": mask_msisdn,
    "id_number": mask_id_number,
    "name": mask_name,
    "email": mask_email,
}


def _mask_rows(rows: list[QuarantinedRow], column_maps: list[dict[str, str]]) -> None:
    """Mask personal values in place, one column at a time (a page of rows, not a table)."""
    cells: dict[str, list[tuple[int, str]]] = {}
    for i, (row, cmap) in enumerate(zip(rows, column_maps, strict=True)):
        schema = TABLES[row.table]
        for col in row.values:
            target = cmap.get(col, col)
            if schema.has(target) and schema.column(target).personal:
                cells.setdefault(target, []).append((i, col))
    for target, where in cells.items():
        values = pd.Series([rows[i].values[col] for i, col in where], dtype="object")
        masker = _MASKS.get(target)
        masked = masker(values) if masker else values.where(values.isna(), "****")
        for (i, col), value in zip(where, masked.tolist(), strict=True):
            rows[i].values[col] = None if pd.isna(value) else value


def quarantine_rows(
    settings: Settings,
    *,
    table: str | None = None,
    reason: str | None = None,
    batch: str | None = None,
    limit: int = 20,
) -> list[QuarantinedRow]:
    """Quarantined rows with their reasons, oldest first; personal values masked."""
    where, params = _where(table, reason, batch)
    backend, con, present = _open(settings)
    try:
        if not present:
            return []
        rows = con.execute(
            f"SELECT table_name, batch_id, source_file, source_row, source_line, reasons, "
            f"detail, raw, column_map FROM {QUARANTINE_TABLE} WHERE {where} "
            f"ORDER BY quarantined_at, table_name, source_file, source_row LIMIT ?",
            [*params, int(limit)],
        ).fetchall()
    finally:
        backend.disconnect()
    out = [
        QuarantinedRow(
            table=str(t),
            batch_id=str(b),
            source_file=str(f),
            source_row=int(r),
            source_line=None if line is None else int(line),
            reasons=tuple(reasons),
            detail=detail,
            values=json.loads(raw_text),
        )
        for t, b, f, r, line, reasons, detail, raw_text, _cmap in rows
    ]
    _mask_rows(out, [json.loads(cmap) for *_rest, cmap in rows])
    return out


def export_quarantine(
    settings: Settings,
    out: Path,
    *,
    table: str | None = None,
    reason: str | None = None,
    batch: str | None = None,
) -> int:
    """Write quarantined rows whole to a CSV file, to be fixed and re-ingested.

    The file has the source columns as they came (clear text: it is the
    operator's own data going back to the operator), then ``_reasons``,
    ``_detail``, ``_source_file`` and ``_source_row``; ingest ignores columns
    starting with ``_``, so a fixed file can be re-ingested as it is.

    Raises
    ------
    InputError
        The selection spans several tables (pass ``table``) or is empty.
    """
    where, params = _where(table, reason, batch)
    backend, con, present = _open(settings)
    try:
        tables = (
            [str(r[0]) for r in con.execute(
                f"SELECT DISTINCT table_name FROM {QUARANTINE_TABLE} WHERE {where}", params
            ).fetchall()]
            if present
            else []
        )  # fmt: skip
        if not tables:
            raise InputError("no quarantined rows match; see 'churnguard quarantine list'")
        if len(tables) > 1:
            raise InputError(
                f"the quarantined rows span tables {', '.join(sorted(tables))}; pass --table "
                "to export one table per file"
            )
        keys: list[str] = []
        for (names,) in con.execute(
            f"SELECT json_keys(raw) FROM {QUARANTINE_TABLE} WHERE {where} "
            "GROUP BY ALL ORDER BY min(source_row)",
            params,
        ).fetchall():
            keys.extend(str(k) for k in names if k not in keys)
        cols = ", ".join(f"raw ->> {quote_str(k)} AS {quote_ident(k)}" for k in keys)
        out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"COPY (SELECT {cols}, array_to_string(reasons, ';') AS _reasons, "
            f"detail AS _detail, source_file AS _source_file, source_row AS _source_row "
            f"FROM {QUARANTINE_TABLE} WHERE {where} ORDER BY source_file, source_row) "
            f"TO {quote_str(str(out))} (FORMAT csv, HEADER true)",
            params,
        )
        count = con.execute(
            f"SELECT count(*) FROM {QUARANTINE_TABLE} WHERE {where}", params
        ).fetchone()
    finally:
        backend.disconnect()
    return int(count[0]) if count else 0
