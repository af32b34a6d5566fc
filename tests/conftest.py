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
def warned_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated operator (2,500 subscribers) with a LightGBM champion and warnings, built
    once per session for the service and dashboard tests (~30 s); copy it before writing."""
    from tests.support.operator import build_warned_workspace

    return build_warned_workspace(tmp_path_factory.mktemp("warned"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server started for this test session (SQLAlchemy URL)."""
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's PostgreSQL server."""
    import uuid

    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def operational_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Workspace settings whose operational database is SQLite, then a real PostgreSQL."""
    overrides = None
    if request.param == "postgresql":
        url = request.getfixturevalue("fresh_postgres_url")
        overrides = {"operational": {"url": url}}
    return load_settings(tmp_path / "ws", create=True, overrides=overrides)
