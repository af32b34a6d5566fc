"""Declarative table schemas: the shape every stage agrees on.

A :class:`TableSchema` lists its columns with type, requiredness, allowed values
or range, and the natural key. Ingest validates against it, features read it,
the simulator writes it and the docs are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

__all__ = ["Column", "ColumnType", "TableSchema"]


class ColumnType(StrEnum):
    """Logical column types of the contract, mapped to engine types by each stage."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"
    MONTH = "month"  # a date that must be the first day of a month
    TIMESTAMP = "timestamp"

    @property
    def sql(self) -> str:
        """The DuckDB/ANSI SQL type used to store the column."""
        return _SQL_TYPES[self]

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type of the column in files and in-memory tables."""
        return {
            ColumnType.STRING: pa.string(),
            ColumnType.INT: pa.int64(),
            ColumnType.FLOAT: pa.float64(),
            ColumnType.BOOL: pa.bool_(),
            ColumnType.DATE: pa.date32(),
            ColumnType.MONTH: pa.date32(),
            ColumnType.TIMESTAMP: pa.timestamp("us"),
        }[self]


_SQL_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INT: "BIGINT",
    ColumnType.FLOAT: "DOUBLE",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.MONTH: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    Parameters
    ----------
    name
        Canonical column name.
    type
        Logical type.
    en, zh
        Description in English and Chinese, for the reference docs and the UI.
    required
        A row missing this value is quarantined.
    minimum, maximum
        Inclusive numeric range (``None``: unbounded).
    allowed
        Allowed values for a categorical column (``None``: any).
    personal
        Personal data (phone, name, ID number): masked for roles that don't
        need it and never logged.
    unit
        Unit for the docs (``"min"``, ``"MB"``, ``"CNY"`` ...).
    """

    name: str
    type: ColumnType
    en: str
    zh: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple[str, ...] | None = None
    personal: bool = False
    unit: str = ""


@dataclass(frozen=True)
class TableSchema:
    """One table of the data contract.

    Parameters
    ----------
    name
        Table (and file) name: ``<name>.csv`` or ``<name>.parquet``.
    grain
        What one row is, in words.
    columns
        The contract's columns; extra columns in a source are kept.
    natural_key
        Columns that identify a row; duplicates on it are rejected and a later
        batch with the same key replaces the row.
    time_column
        Column that dates the row (``None`` for undated dimensions).
    references_subscribers
        Rows carry ``subscriber_id`` that must exist in ``subscribers``.
    """

    name: str
    grain: str
    en: str
    zh: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    time_column: str | None = None
    references_subscribers: bool = True
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {c.name: c for c in self.columns}
        if len(by_name) != len(self.columns):
            raise ValueError(f"table {self.name}: duplicate column names")
        missing = [k for k in self.natural_key if k not in by_name]
        if missing:
            raise ValueError(f"table {self.name}: natural key columns {missing} not declared")
        object.__setattr__(self, "_by_name", by_name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.personal)

    def column(self, name: str) -> Column:
        """The column called ``name``; raises ``KeyError`` if the contract has none."""
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return name in self._by_name
