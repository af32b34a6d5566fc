"""The operational database: migrations on open, sessions, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from churnguard.config import Settings, load_settings
from churnguard.errors import ConfigError, StateError
from churnguard.models.registry import ModelVersion
from churnguard.warehouse.operational import (
    Base,
    current_revision,
    head_revision,
    make_engine,
    open_operational,
    session_scope,
    table_names,
    upgrade,
)


def _row(version: str, status: str = "challenger") -> ModelVersion:
    now = datetime.now(UTC)
    return ModelVersion(
        version=version,
        run_id=1,
        family="logistic",
        target="voluntary",
        status=status,
        as_of=date(2025, 5, 1),
        train_start=date(2024, 10, 1),
        train_end=date(2025, 2, 1),
        validation_month=date(2025, 3, 1),
        rows_train=10,
        rows_validation=5,
        features=["a", "b"],
        catalog_version="x",
        metrics={"roc_auc": 0.8},
        calibration="isotonic",
        artifact_path="models/v",
        checksum="0" * 64,
        created_at=now,
    )


def test_open_migrates_sqlite_to_head_once(workspace: Settings) -> None:
    engine = open_operational(workspace)
    assert head_revision() is not None  # later stages chain their revisions after 0001
    assert current_revision(engine) == head_revision()
    assert {"alembic_version", "model_versions"} <= set(table_names(engine))
    upgrade(engine)  # idempotent
    assert current_revision(engine) == head_revision()
    assert (workspace.workspace / "operational.db").is_file()
    assert "model_versions" in Base.metadata.tables


def test_session_scope_commits_or_rolls_back(workspace: Settings) -> None:
    with session_scope(workspace) as s:
        s.add(_row("v1"))
    with pytest.raises(RuntimeError), session_scope(workspace) as s:
        s.add(_row("v2"))
        raise RuntimeError("boom")
    with session_scope(workspace) as s:
        assert s.scalars(select(ModelVersion.version)).all() == ["v1"]


def test_status_is_checked_by_the_database(workspace: Settings) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), session_scope(workspace) as s:
        s.add(_row("bad", status="deployed"))


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="operational database URL"):
        make_engine("nosuchdialect://x")


def test_unreachable_server_is_a_state_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        tmp_path / "ws",
        create=True,
        overrides={
            "operational": {"url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"}
        },
    )
    with pytest.raises(StateError, match="cannot open the operational database"):
        open_operational(settings)


def test_postgresql(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        tmp_path / "ws", create=True, overrides={"operational": {"url": postgres_url}}
    )
    engine = open_operational(settings)
    assert current_revision(engine) == head_revision()
    with session_scope(settings) as s:
        s.add(_row("pg1", status="champion"))
    with session_scope(settings) as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.version == "pg1"))
        assert row is not None and row.metrics == {"roc_auc": 0.8} and row.features == ["a", "b"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM model_versions")).scalar() == 1
