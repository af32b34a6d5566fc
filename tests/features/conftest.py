"""Feature-test fixtures: seeded contract tables, a DuckDB backend, one Spark session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from churnguard.config import Settings

from .synth import load_duckdb, make_tables


@pytest.fixture(scope="session")
def synth_tables() -> dict[str, pa.Table]:
    """Seeded random contract tables, 2024-01..2024-12, 60 subscribers."""
    return make_tables(7)


@pytest.fixture
def duck(synth_tables: dict[str, pa.Table]) -> Iterator[Any]:
    backend = load_duckdb(synth_tables)
    yield backend
    backend.disconnect()


@pytest.fixture
def synth_workspace(workspace: Settings, synth_tables: dict[str, pa.Table]) -> Settings:
    """A workspace whose warehouse holds the seeded tables (as ingest would store them)."""
    backend = load_duckdb(synth_tables, str(workspace.warehouse_path))
    backend.disconnect()
    return workspace


@pytest.fixture(scope="session")
def spark_backend() -> Any:
    """One local Spark session for the whole test run (start-up takes 5-13 s)."""
    from churnguard.warehouse import spark

    return spark.connect(spark.session(partitions=2, driver_memory="1g", cores=2))
