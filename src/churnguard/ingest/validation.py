"""Validation inside DuckDB: every contract rule is a SQL predicate over the staged rows.

One query per table types every value (``TRY_CAST`` and date parsing) and
collects, per row, every reason code that applies with a readable detail; a
second pass finds exact and conflicting duplicates on the natural key. Nothing
loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from ..contract import Column, ColumnType, RejectReason, TableSchema
from .readers import StagedFile, quote_ident, quote_str
from .schema_check import ColumnPlan

__all__ = ["KNOWN_SUBSCRIBERS", "CheckedTable", "check_table", "month_end"]

KNOWN_SUBSCRIBERS = "_known_subscribers"
# Dates outside these years are typos (e.g. 0024 for 2024), reported as bad_date.
_MIN_DATE, _MAX_DATE = "1900-01-01", "2200-01-01"
_DATE_FORMATS = "['%Y/%m/%d', '%Y%m%d', '%Y.%m.%d', '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M']"
_MONTH_FORMATS = "['%Y-%m', '%Y%m', '%Y/%m', '%Y.%m']"
_TS_FORMATS = (
    "['%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y%m%d%H%M%S', '%Y%m%d %H:%M:%S', "
    "'%Y/%m/%d', '%Y%m%d']"
)
_TRUE = "('true', 't', '1', 'yes', 'y', '是')"
_FALSE = "('false', 'f', '0', 'no', 'n', '否')"
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT")  # fmt: skip
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
            "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")  # fmt: skip


@dataclass(frozen=True)
class CheckedTable:
    """One validated table: its typed rows (a view) and its rejected rows (a small table).

    ``typed`` has ``_source_row``, ``_source_line``, every contract column in its
    SQL type (NULL when the file lacks it) and the extras as text; ``rejected``
    has ``_source_row``, ``_source_line``, ``_reasons`` (sorted codes) and
    ``_detail`` for each row that must not load. Clean rows are the rows of
    ``typed`` absent from ``rejected``.
    """

    table: str
    typed: str
    rejected: str
    loaded_columns: tuple[str, ...]  # contract columns the file has, then extras


def month_end(as_of: date) -> date:
    """The last day of the as-of month."""
    nxt = date(as_of.year + (as_of.month == 12), as_of.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def _is_numeric(t: str) -> bool:
    return t.upper().startswith(_NUMERIC)


def _value_expr(src: str, src_type: str, col: Column) -> tuple[str, str | None]:
    """The source value, trimmed text with '' as NULL unless it already has a fitting type.

    Returns the expression and the source type when it was kept (``None``: text).
    """
    t = src_type.upper()
    kind = col.type
    native = (
        (kind in (ColumnType.INT, ColumnType.FLOAT) and _is_numeric(t))
        or (kind is ColumnType.BOOL and t == "BOOLEAN")
        or (kind in (ColumnType.DATE, ColumnType.MONTH, ColumnType.TIMESTAMP)
            and (t == "DATE" or t.startswith("TIMESTAMP")))
    )  # fmt: skip
    if native:
        return src, t
    text = src if t == "VARCHAR" else f"CAST({src} AS VARCHAR)"
    return f"NULLIF(trim({text}), '')", None


def _typed_expr(v: str, col: Column, *, native: str | None) -> str:
    """The value in the contract's type, NULL when it cannot be read as that type.

    ``native`` is the source's SQL type when ``v`` kept it (Parquet), else ``None`` (text).
    """
    text = native is None
    match col.type:
        case ColumnType.STRING:
            return v
        case ColumnType.FLOAT:
            if not text:
                return f"CASE WHEN isfinite({v}) THEN CAST({v} AS DOUBLE) END"
            d = f"TRY_CAST({v} AS DOUBLE)"
            return f"CASE WHEN isfinite({d}) THEN {d} END"
        case ColumnType.INT:
            if native is not None and native.upper().startswith(_INTEGER):
                return f"TRY_CAST({v} AS BIGINT)"
            d = f"TRY_CAST({v} AS DOUBLE)"
            return f"CASE WHEN {d} = trunc({d}) THEN TRY_CAST({d} AS BIGINT) END"
        case ColumnType.BOOL:
            if not text:
                return f"TRY_CAST({v} AS BOOLEAN)"
            return (
                f"CASE WHEN lower({v}) IN {_TRUE} THEN true "
                f"WHEN lower({v}) IN {_FALSE} THEN false END"
            )
        case ColumnType.DATE:
            if not text:
                return f"CAST({v} AS DATE)"
            return (
                f"coalesce(TRY_CAST({v} AS DATE), CAST(try_strptime({v}, {_DATE_FORMATS}) AS DATE))"
            )
        case ColumnType.MONTH:
            if not text:
                return f"CAST({v} AS DATE)"
            return (
                f"coalesce(TRY_CAST({v} AS DATE), CAST(try_strptime({v}, {_DATE_FORMATS}) "
                f"AS DATE), CAST(try_strptime({v}, {_MONTH_FORMATS}) AS DATE))"
            )
        case ColumnType.TIMESTAMP:
            if not text:
                return f"CAST({v} AS TIMESTAMP)"
            return f"coalesce(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {_TS_FORMATS}))"
    raise AssertionError(f"unhandled column type {col.type}")  # pragma: no cover


def dated_by(schema: TableSchema) -> str | None:
    """The column that dates a row for the future-date rule.

    The table's time column; for an undated table with an activation date
    (subscribers), that date: a customer cannot have joined after the batch.
    """
    if schema.time_column is not None:
        return schema.time_column
    return "activation_date" if schema.has("activation_date") else None


def _num(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


def _checks(
    col: Column, v: str, t: str, *, schema: TableSchema, as_of: date
) -> list[tuple[RejectReason, str, str]]:
    """(reason, predicate, detail expression) for one column; v raw value, t typed value."""
    name = col.name
    shown = "'***'" if col.personal else f"left(CAST({v} AS VARCHAR), 40)"
    out: list[tuple[RejectReason, str, str]] = []
    if col.required or name in schema.natural_key:
        out.append((RejectReason.MISSING_REQUIRED, f"{v} IS NULL", quote_str(f"{name}: empty")))
    dated = col.type in (ColumnType.DATE, ColumnType.MONTH, ColumnType.TIMESTAMP)
    if dated:
        sane = f"{t} >= DATE '{_MIN_DATE}' AND {t} < DATE '{_MAX_DATE}'"
        if col.type is ColumnType.MONTH:
            sane += f" AND day({t}) = 1"
        out.append((
            RejectReason.BAD_DATE,
            f"{v} IS NOT NULL AND ({t} IS NULL OR NOT ({sane}))",
            f"'{name}: ' || {shown} || ' is not a valid "
            f"{'month (first day of a month)' if col.type is ColumnType.MONTH else 'date'}'",
        ))  # fmt: skip
    elif col.type is not ColumnType.STRING:
        out.append((
            RejectReason.BAD_TYPE,
            f"{v} IS NOT NULL AND {t} IS NULL",
            f"'{name}: ' || {shown} || ' is not {col.type.value}'",
        ))  # fmt: skip
    if col.minimum is not None or col.maximum is not None:
        bounds = []
        if col.minimum is not None:
            bounds.append(f"{t} < {_num(col.minimum)}")
        if col.maximum is not None:
            bounds.append(f"{t} > {_num(col.maximum)}")
        if col.minimum is not None and col.maximum is not None:
            rule = f"must be between {_num(col.minimum)} and {_num(col.maximum)}"
        elif col.minimum is not None:
            rule = f"must be at least {_num(col.minimum)}"
        else:
            rule = f"must be at most {_num(col.maximum or 0)}"
        out.append((
            RejectReason.OUT_OF_RANGE,
            f"{t} IS NOT NULL AND ({' OR '.join(bounds)})",
            f"'{name}: ' || {shown} || ' {rule}'",
        ))  # fmt: skip
    if col.allowed is not None:
        allowed = ", ".join(quote_str(a) for a in col.allowed)
        out.append((
            RejectReason.BAD_VALUE,
            f"{v} IS NOT NULL AND {v} NOT IN ({allowed})",
            f"'{name}: ' || {shown} || ' not one of {'/'.join(col.allowed)}'",
        ))  # fmt: skip
    if name == dated_by(schema):
        end = month_end(as_of)
        limit = (
            f"{t} >= DATE '{end.isoformat()}' + INTERVAL 1 DAY"
            if col.type is ColumnType.TIMESTAMP
            else f"{t} > DATE '{end.isoformat()}'"
        )
        out.append((
            RejectReason.FUTURE_DATE,
            f"{t} IS NOT NULL AND {limit}",
            f"'{name}: ' || {shown} || ' after the batch as-of month "
            f"{as_of.strftime('%Y-%m')}'",
        ))  # fmt: skip
    return out


def check_table(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    *,
    schema: TableSchema,
    plan: ColumnPlan,
    as_of: date,
) -> CheckedTable:
    """Type and validate one staged table.

    Creates the view ``_typed_<table>`` (typed values, recomputed by each reader
    so nothing large is materialized) and the table ``_rejected_<table>`` with
    every reason of every rejected row, duplicates included.
    """
    view = staged.view
    types = staged.header.types
    cols: list[str] = ["s._source_row", "s._source_line"]
    checks: list[tuple[RejectReason, str, str]] = []
    for col in schema.columns:
        q = quote_ident(col.name)
        if col.name not in plan.contract:
            cols.append(f"CAST(NULL AS {col.type.sql}) AS {q}")
            continue
        src_name = plan.contract[col.name]
        src = f"s.{quote_ident(src_name)}"
        v_alias = quote_ident(f"_v_{col.name}")
        v, native = _value_expr(src, types.get(src_name, "VARCHAR"), col)
        cols.append(f"{v} AS {v_alias}")
        cols.append(f"{_typed_expr(v, col, native=native)} AS {q}")
        checks.extend(_checks(col, f"x.{v_alias}", f"x.{q}", schema=schema, as_of=as_of))
    for extra in plan.extras:
        q = quote_ident(extra)
        cols.append(f"CAST(s.{q} AS VARCHAR) AS {q}")
    # The whole source row: for exact-duplicate detection and, as JSON, for the
    # quarantine. Computed only for the rows that read them (flagged rows).
    cols.append(
        "row(" + ", ".join(f"s.{quote_ident(c)}" for c in plan.source_columns) + ") AS _raw"
    )
    cols.append(
        "CAST(json_object("
        + ", ".join(f"{quote_str(c)}, s.{quote_ident(c)}" for c in staged.header.columns)
        + ") AS VARCHAR) AS _raw_json"
    )
    typed = f"_typed_{schema.name}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {typed} AS SELECT {', '.join(cols)} FROM {view} s")

    join = ""
    if {"activation_date", "churn_date"} <= set(plan.contract):
        checks.append((
            RejectReason.CHURN_BEFORE_ACTIVATION,
            "x.churn_date < x.activation_date",
            "'churn_date ' || CAST(x.churn_date AS VARCHAR) || ' before activation_date ' "
            "|| CAST(x.activation_date AS VARCHAR)",
        ))  # fmt: skip
    if schema.references_subscribers and "subscriber_id" in plan.contract:
        join = f" LEFT JOIN {KNOWN_SUBSCRIBERS} k ON k.subscriber_id = x.subscriber_id"
        checks.append((
            RejectReason.UNKNOWN_SUBSCRIBER,
            "x.subscriber_id IS NOT NULL AND k.subscriber_id IS NULL",
            "'subscriber_id: ' || x.subscriber_id || ' not in subscribers'",
        ))  # fmt: skip

    keys = schema.natural_key
    key = ", ".join(quote_ident(k) for k in keys)
    x_key = ", ".join(f"x.{quote_ident(k)}" for k in keys)
    # Pass 1 (key columns only): 64-bit hashes of natural keys seen more than once.
    # A collision only makes a row a candidate; candidates are compared exactly below.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dup_hashes AS SELECT hash({key}) AS h "
        f"FROM {typed} GROUP BY h HAVING count(*) > 1"
    )
    any_bad = " OR ".join(f"coalesce({p}, false)" for _, p, _ in checks) or "false"
    codes = ", ".join(f"CASE WHEN {p} THEN '{r.value}' END" for r, p, _ in checks)
    details = ", ".join(f"CASE WHEN {p} THEN {d} END" for _, p, d in checks) or "NULL"
    # Pass 2 (all columns): every rule on every row; keep the failing rows and the
    # duplicate candidates, with their reasons and their raw values.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _flagged AS
        SELECT x._source_row, x._source_line, {x_key}, x._raw, x._raw_json,
               hash({x_key}) IN (SELECT h FROM _dup_hashes) AS _candidate,
               list_filter([{codes or "NULL"}], lambda c: c IS NOT NULL) AS _reasons,
               concat_ws('; ', {details}) AS _detail
        FROM {typed} x{join}
        WHERE ({any_bad}) OR hash({x_key}) IN (SELECT h FROM _dup_hashes)
        """
    )
    rejected = f"_rejected_{schema.name}"
    mark_duplicates(con, rejected=rejected, schema=schema)
    con.execute("DROP TABLE _flagged; DROP TABLE _dup_hashes")
    loaded = (*plan.contract, *plan.extras)
    return CheckedTable(schema.name, typed, rejected, loaded)


def mark_duplicates(con: duckdb.DuckDBPyConnection, *, rejected: str, schema: TableSchema) -> None:
    """Build ``rejected`` from ``_flagged``, adding duplicate reasons to the candidates.

    An exact copy (every source value equal) of an earlier row is a
    ``duplicate``: the first copy stays. Rows sharing a natural key but differing
    in any value are all ``conflicting_duplicate``: which one is right is the
    operator's call. Works on the flagged rows only (failing rows and rows whose
    key hash repeats), never on the whole table.
    """
    keys = schema.natural_key
    key = ", ".join(quote_ident(k) for k in keys)
    r_key = " AND ".join(f"r.{quote_ident(k)} = d.{quote_ident(k)}" for k in keys)
    key_ok = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in keys)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {rejected} AS
        WITH cand AS (
            SELECT * FROM _flagged WHERE _candidate
        ), ranked AS (
            SELECT _source_row, min(_source_row) OVER (PARTITION BY _raw) AS _first FROM cand
        ), conflicted AS (
            SELECT {key}, string_agg(_source_row::VARCHAR, ', ' ORDER BY _source_row) AS _rows
            FROM cand WHERE {key_ok} GROUP BY ALL HAVING count(DISTINCT _raw) > 1
        ), extra AS (
            SELECT _source_row, '{RejectReason.DUPLICATE.value}' AS reason,
                   'duplicate of row ' || _first AS detail
            FROM ranked WHERE _source_row > _first
            UNION ALL
            SELECT r._source_row, '{RejectReason.CONFLICTING_DUPLICATE.value}',
                   'same key as rows ' || d._rows || ' with other values'
            FROM cand r JOIN conflicted d ON {r_key}
        ), extra_by_row AS (
            SELECT _source_row, list(reason) AS reasons,
                   string_agg(detail, '; ' ORDER BY reason) AS details
            FROM extra GROUP BY _source_row
        )
        SELECT f._source_row, f._source_line,
               list_sort(list_distinct(f._reasons || coalesce(e.reasons, []))) AS _reasons,
               NULLIF(concat_ws('; ', NULLIF(f._detail, ''), e.details), '') AS _detail,
               f._raw_json
        FROM _flagged f LEFT JOIN extra_by_row e USING (_source_row)
        WHERE len(f._reasons) > 0 OR e._source_row IS NOT NULL
        """
    )
