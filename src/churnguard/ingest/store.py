"""The warehouse tables ingest owns: contract tables, ``quarantine``, ``ingest_batches``.

Every contract table holds all contract columns in their SQL types (NULL where a
source lacked an optional column), the source's extra columns as text, and the
bookkeeping columns ``_batch_id`` and ``_source_row``.
"""

from __future__ import annotations

import duckdb

from ..contract import TableSchema
from ..warehouse.analytical import table_exists
from .readers import quote_ident

__all__ = [
    "BATCHES_TABLE",
    "BOOKKEEPING",
    "QUARANTINE_TABLE",
    "ensure_bookkeeping_tables",
    "ensure_contract_table",
]

QUARANTINE_TABLE = "quarantine"
BATCHES_TABLE = "ingest_batches"
BOOKKEEPING = ("_batch_id", "_source_row")


def ensure_bookkeeping_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``quarantine`` and ``ingest_batches`` when missing."""
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
            table_name VARCHAR NOT NULL,
            batch_id VARCHAR NOT NULL,
            source_file VARCHAR NOT NULL,
            file_sha256 VARCHAR NOT NULL,
            source_row BIGINT NOT NULL,
            source_line BIGINT,
            reasons VARCHAR[] NOT NULL,
            detail VARCHAR,
            raw VARCHAR NOT NULL,
            column_map VARCHAR NOT NULL,
            quarantined_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {BATCHES_TABLE} (
            batch_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            as_of DATE NOT NULL,
            source VARCHAR NOT NULL,
            files VARCHAR NOT NULL,
            report VARCHAR NOT NULL,
            status VARCHAR NOT NULL
        )
        """
    )


def ensure_contract_table(
    con: duckdb.DuckDBPyConnection, schema: TableSchema, *, extras: tuple[str, ...]
) -> None:
    """Create the contract table when missing and add any new extra column (as text)."""
    name = quote_ident(schema.name)
    if not table_exists(con, schema.name):
        cols = [f"{quote_ident(c.name)} {c.type.sql}" for c in schema.columns]
        cols += ["_batch_id VARCHAR NOT NULL", "_source_row BIGINT"]
        con.execute(f"CREATE TABLE {name} ({', '.join(cols)})")
    have = {
        str(r[0]).lower()
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' AND table_catalog = current_database()",
            [schema.name],
        ).fetchall()
    }
    for extra in extras:
        if extra.lower() not in have:
            con.execute(f"ALTER TABLE {name} ADD COLUMN {quote_ident(extra)} VARCHAR")
