"""The data contract: table schemas shared by ingest, features, the simulator and the docs."""

from __future__ import annotations

from .reasons import RejectReason
from .schema import Column, ColumnType, TableSchema
from .tables import (
    CHURN_REASONS,
    NATURAL_CHURN_REASONS,
    PASSIVE_CHURN_REASONS,
    SERVICE_TYPES,
    TABLES,
    VOLUNTARY_CHURN_REASONS,
    table,
)

__all__ = [
    "CHURN_REASONS",
    "NATURAL_CHURN_REASONS",
    "PASSIVE_CHURN_REASONS",
    "SERVICE_TYPES",
    "TABLES",
    "VOLUNTARY_CHURN_REASONS",
    "Column",
    "ColumnType",
    "RejectReason",
    "TableSchema",
    "table",
]
