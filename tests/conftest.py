"""Shared fixtures: a fresh workspace and the path of the installed CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from churnguard.config import Settings, load_settings

CLI = str(Path(sys.executable).with_name("churnguard"))

# One thread for OpenMP libraries: the suite runs beside other processes on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def workspace(tmp_path: Path) -> Settings:
    """A new, empty workspace with default settings."""
    return load_settings(tmp_path / "ws", create=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server started for this test session (SQLAlchemy URL)."""
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url
