"""Load the clean rows of a checked table into its warehouse table.

By natural key: a new key is inserted (``loaded``); a known key with the same
values is left alone (``unchanged``, e.g. a re-ingest); a known key with other
values is replaced (``updated``). Columns a later file lacks keep their stored
values, so a batch may carry only the columns it updates. Replacement is
DELETE + INSERT (never UPDATE) inside the batch's transaction. Each figure comes
from its own statement, so the reconciliation check can catch a mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..contract import TableSchema
from ..errors import StateError
from .readers import quote_ident, quote_str
from .validation import CheckedTable

__all__ = ["MergeCounts", "merge"]


@dataclass(frozen=True)
class MergeCounts:
    """What the merge did with the clean rows."""

    loaded: int
    updated: int
    unchanged: int


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def merge(
    con: duckdb.DuckDBPyConnection,
    checked: CheckedTable,
    *,
    schema: TableSchema,
    batch_id: str,
) -> MergeCounts:
    """Insert new keys, replace changed ones, count the unchanged."""
    target = quote_ident(schema.name)
    batch_cols = checked.loaded_columns
    all_cols = [*schema.column_names, *[c for c in batch_cols if not schema.has(c)]]
    key = schema.natural_key
    bid = quote_str(batch_id)
    clean = (
        f"SELECT * FROM {checked.typed} t WHERE NOT EXISTS "
        f"(SELECT 1 FROM {checked.rejected} b WHERE b._source_row = t._source_row)"
    )
    insert_cols = ", ".join(quote_ident(c) for c in [*all_cols, "_batch_id", "_source_row"])
    values = ", ".join(f"g.{quote_ident(c)}" for c in all_cols)

    if _scalar(con, f"SELECT count(*) FROM (SELECT 1 FROM {target} LIMIT 1)") == 0:
        loaded = _scalar(
            con,
            f"INSERT INTO {target} ({insert_cols}) SELECT {values}, {bid}, g._source_row "
            f"FROM ({clean}) g",
        )
        return MergeCounts(loaded=loaded, updated=0, unchanged=0)

    on = " AND ".join(f"w.{quote_ident(k)} = g.{quote_ident(k)}" for k in key)
    same = " AND ".join(
        f"g.{quote_ident(c)} IS NOT DISTINCT FROM w.{quote_ident(c)}" for c in batch_cols
    )
    # Rows whose key is already stored, and whether their values are the same.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _matched AS SELECT g._source_row, ({same}) AS _same "
        f"FROM ({clean}) g JOIN {target} w ON {on}"
    )
    unchanged = _scalar(con, "SELECT count(*) FROM _matched WHERE _same")
    # Replaced rows keep the stored values of the columns the batch lacks.
    merged = ", ".join(
        f"g.{quote_ident(c)}" if c in batch_cols else f"w.{quote_ident(c)}" for c in all_cols
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _changed AS SELECT {merged}, g._source_row "
        f"FROM ({clean}) g JOIN {target} w ON {on} "
        f"WHERE g._source_row IN (SELECT _source_row FROM _matched WHERE NOT _same)"
    )
    key_cols = ", ".join(quote_ident(k) for k in key)
    deleted = _scalar(
        con,
        f"DELETE FROM {target} w USING (SELECT {key_cols} FROM _changed) g WHERE {on}",
    )
    updated = _scalar(
        con,
        f"INSERT INTO {target} ({insert_cols}) SELECT "
        f"{', '.join(quote_ident(c) for c in all_cols)}, {bid}, _source_row FROM _changed",
    )
    loaded = _scalar(
        con,
        f"INSERT INTO {target} ({insert_cols}) SELECT {values}, {bid}, g._source_row "
        f"FROM ({clean}) g WHERE NOT EXISTS "
        f"(SELECT 1 FROM _matched m WHERE m._source_row = g._source_row)",
    )
    con.execute("DROP TABLE _matched; DROP TABLE _changed")
    if deleted != updated:
        raise StateError(
            f"{schema.name}: replaced {deleted} stored rows with {updated} corrected ones; "
            "the batch was rolled back, please report this"
        )
    return MergeCounts(loaded=loaded, updated=updated, unchanged=unchanged)
