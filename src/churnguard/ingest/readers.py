"""Read source files into DuckDB staging relations, all values kept as read.

CSV is read by DuckDB's own reader with every column as text and no sniffing
(the header is parsed here, so a malformed line can never make DuckDB guess a
different shape): structurally broken lines (too many or too few fields, an
unterminated quote) are set aside as rejects with their line number. Parquet is
read in place with its own types.

Each staged file becomes a temporary view ``_src_<table>`` with the source columns
plus ``_source_row`` (1-based data row) and ``_source_line`` (physical CSV line).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import InputError
from .encoding import Encoding, Fingerprint, detect_encoding, fingerprint, open_bytes, to_utf8
from .sources import FileFormat, SourceFile

__all__ = ["Header", "StagedFile", "quote_ident", "quote_str", "read_header", "stage", "unstage"]

log = logging.getLogger(__name__)

_DELIMITERS = (",", "\t", "|", ";")


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column name (quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_str(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Header:
    """The columns of a source file as the file names them, and how to read it."""

    columns: tuple[str, ...]
    types: dict[str, str]
    encoding: Encoding | None = None
    delimiter: str | None = None


@dataclass(frozen=True)
class StagedFile:
    """A source file staged in DuckDB, with its accounting."""

    source: SourceFile
    header: Header
    fingerprint: Fingerprint
    view: str
    rows: int
    rejects_table: str | None
    rejected: int


def _csv_header(path: Path, encoding: Encoding) -> tuple[tuple[str, ...], str]:
    codec = "gb18030" if encoding == "gbk" else "utf-8-sig"
    with open_bytes(path) as raw:
        first = raw.readline(1 << 20).decode(codec, errors="replace")
    line = first.rstrip("\r\n")
    if not line.strip():
        raise InputError(f"{path.name} is empty or starts with a blank line; a header is needed")
    counts = {d: line.count(d) for d in _DELIMITERS}
    delimiter = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    if counts[delimiter] == 0 and max(counts.values()) > 0:
        delimiter = max(counts, key=lambda d: counts[d])
    names = next(csv.reader(io.StringIO(line), delimiter=delimiter))
    cleaned = tuple(n.replace("\ufeff", "").strip() for n in names)
    empty = [i + 1 for i, n in enumerate(cleaned) if not n]
    if empty:
        raise InputError(
            f"{path.name}: header column(s) {empty} have no name; name every column "
            "in the first line"
        )
    lowered = [n.lower() for n in cleaned]
    dupes = sorted({n for n in cleaned if lowered.count(n.lower()) > 1})
    if dupes:
        raise InputError(f"{path.name}: the header repeats the column(s) {dupes}; rename them")
    return cleaned, delimiter


def read_header(con: duckdb.DuckDBPyConnection, source: SourceFile, *, encoding: str) -> Header:
    """The columns of a source file (cheap: reads the header / the Parquet schema).

    Raises
    ------
    InputError
        Not readable as the format its name says, undecodable text, a bad header.
    """
    path = source.path
    if source.format is FileFormat.PARQUET:
        try:
            desc = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({quote_str(str(path))})"
            ).fetchall()
        except duckdb.Error as exc:
            raise InputError(
                f"{path.name} is not a readable Parquet file ({str(exc).splitlines()[0]}); "
                "re-export it, or export as CSV"
            ) from None
        cols = tuple(str(r[0]) for r in desc)
        return Header(columns=cols, types={str(r[0]): str(r[1]) for r in desc})
    enc = detect_encoding(path, requested=encoding)
    cols, delimiter = _csv_header(path, enc)
    return Header(
        columns=cols, types=dict.fromkeys(cols, "VARCHAR"), encoding=enc, delimiter=delimiter
    )


def stage(
    con: duckdb.DuckDBPyConnection,
    source: SourceFile,
    *,
    header: Header,
    tmp_dir: Path,
    encoding_requested: str,
) -> StagedFile:
    """Stage one file as the temporary view ``_src_<table>``.

    Raises
    ------
    InputError
        The file cannot be decoded with the chosen encoding.
    """
    path = source.path
    view = f"_src_{source.table}"
    is_csv = source.format is FileFormat.CSV
    fp = fingerprint(path, count_newlines=is_csv)
    if not is_csv:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT file_row_number + 1 AS _source_row, "
            f"CAST(NULL AS BIGINT) AS _source_line, * EXCLUDE (file_row_number) "
            f"FROM read_parquet({quote_str(str(path))}, file_row_number = true)"
        )
        rows = _count(con, view)
        return StagedFile(source, header, fp, view, rows, None, 0)

    encoding = header.encoding or "utf-8"
    read_path = path
    if encoding == "gbk":
        read_path = to_utf8(path, tmp_dir / f"{source.table}.utf8.csv")
    table, rej, scans = f"_stg_{source.table}", f"_rej_{source.table}", f"_rejscan_{source.table}"
    columns = "{" + ", ".join(f"{quote_str(c)}: 'VARCHAR'" for c in header.columns) + "}"
    delim = quote_str(header.delimiter or ",")
    con.execute(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {scans}")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_csv("
            f"{quote_str(str(read_path))}, columns = {columns}, auto_detect = false, "
            f"header = true, delim = {delim}, quote = '\"', escape = '\"', "
            f"compression = 'auto', store_rejects = true, rejects_table = '{rej}', "
            f"rejects_scan = '{scans}')"
        )
    except duckdb.Error as exc:
        raise InputError(
            f"{path.name} cannot be read as CSV ({str(exc).splitlines()[0]}); "
            "check it is a comma/tab separated text export"
        ) from None
    bad_unicode = con.execute(
        f"SELECT min(line) FROM {rej} WHERE error_type = 'INVALID ENCODING'"
    ).fetchone()
    if bad_unicode and bad_unicode[0] is not None:
        if encoding_requested == "auto" and encoding == "utf-8":
            log.info("%s: not UTF-8 after the first megabyte; reading as GBK", path.name)
            gbk_header = Header(header.columns, header.types, "gbk", header.delimiter)
            return stage(con, source, header=gbk_header, tmp_dir=tmp_dir, encoding_requested="gbk")
        raise InputError(
            f"{path.name} line {bad_unicode[0]} is not valid {encoding.upper()} text; "
            "pass the right --encoding (utf-8 or gbk) or re-export the file"
        )
    # One line may fail for several reasons: keep one reject per line.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {rej}_lines AS SELECT line, "
        f"string_agg(DISTINCT error_type || ': ' || error_message, '; ') AS message, "
        f"any_value(csv_line) AS csv_line FROM {rej} GROUP BY line"
    )
    con.execute(f"DROP TABLE {rej}; DROP TABLE {scans}")
    rejects = f"{rej}_lines"
    rejected = _count(con, rejects)
    rows = _count(con, table)
    records = rows + rejected
    # Line feeds beyond header + records mean values spanning lines (or blank lines).
    multiline = fp.newlines > records + 1
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS "
        + _positions_sql(table, rejects, header.columns, rejected > 0, multiline)
    )
    return StagedFile(source, header, fp, view, rows, rejects, rejected)


def _positions_sql(
    table: str, rejects: str, columns: tuple[str, ...], has_rejects: bool, multiline: bool
) -> str:
    """SQL giving each staged row its data-row position and physical line.

    Good rows fill the positions the rejects do not take (DuckDB reports a
    reject's physical line): good row g sits at g + (rejects before it). The
    line adds the line feeds inside earlier values.
    """
    cols = ", ".join(f"s.{quote_ident(c)}" for c in columns)
    base = f"SELECT rowid + 1 AS _g, * FROM {table}"
    if has_rejects:
        pos = (
            f"SELECT b.*, b._g + coalesce(r._n, 0) AS _p FROM ({base}) b ASOF LEFT JOIN "
            f"(SELECT line - 1 - row_number() OVER (ORDER BY line) AS _s, "
            f"row_number() OVER (ORDER BY line) AS _n FROM {rejects}) r ON b._g > r._s"
        )
    else:
        pos = f"SELECT *, _g AS _p FROM ({base})"
    if not multiline:
        return f"SELECT s._p AS _source_row, s._p + 1 AS _source_line, {cols} FROM ({pos}) s"
    feeds = " + ".join(
        f"coalesce(length({quote_ident(c)}) - length(replace({quote_ident(c)}, chr(10), '')), 0)"
        for c in columns
    )
    return (
        f"SELECT s._p AS _source_row, s._p + 1 + coalesce(m._before, 0) AS _source_line, "
        f"{cols} FROM ({pos}) s ASOF LEFT JOIN (SELECT _p, sum(_nl) OVER (ORDER BY _p) AS "
        f"_before FROM (SELECT _p, {feeds} AS _nl FROM ({pos})) WHERE _nl > 0) m "
        f"ON s._p > m._p"
    )


def unstage(con: duckdb.DuckDBPyConnection, staged: StagedFile) -> None:
    """Drop a file's staging relations (frees the memory of a staged CSV)."""
    con.execute(f"DROP VIEW IF EXISTS {staged.view}")
    con.execute(f"DROP TABLE IF EXISTS _stg_{staged.source.table}")
    if staged.rejects_table:
        con.execute(f"DROP TABLE IF EXISTS {staged.rejects_table}")


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(row[0]) if row else 0
