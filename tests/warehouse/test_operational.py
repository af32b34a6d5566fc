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


@pytest.mark.parametrize("engine_kind", ["sqlite", "postgresql"])
def test_bulk_insert_stores_what_the_orm_stores(
    engine_kind: str, tmp_path, request: pytest.FixtureRequest
) -> None:  # type: ignore[no-untyped-def]
    """Columnar inserts convert NA, numpy scalars, dates and booleans as row inserts do.

    The frame goes in slices (here of 2 rows) within the one transaction: a bad
    row in the last slice rolls the earlier slices back too.
    """
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    from churnguard.warehouse.operational import bulk_insert
    from churnguard.warnings.store import CustomerWarning

    overrides = (
        {"operational": {"url": request.getfixturevalue("postgres_url")}}
        if engine_kind == "postgresql"
        else {}
    )
    settings = load_settings(tmp_path / "ws", create=True, overrides=overrides)
    table = CustomerWarning.__table__
    now = datetime(2025, 1, 6, 8, 30, 15, 123456, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "subscriber_id": ["S1", "S2", "S3"],
            "as_of": [date(2024, 12, 1)] * 3,
            "last_seen_as_of": [date(2024, 12, 1)] * 3,
            "raised_on": [date(2025, 1, 6)] * 3,
            "level": ["red", "orange", "yellow"],
            "model_level": ["red", None, pd.NA],
            "probability": np.array([0.9, 0.5, 0.25]),
            "clv": [1200.5, np.nan, 3.0],
            "rule_codes": ["W001,W008", "", "W002"],
            "reasons_zh": ["欠费 2 个月", "", "通话下降"],
            "reasons_en": ["arrears 2 months", "", "calls down"],
            "churn_type": ["passive", "competitor", "service"],
            "next_step_zh": ["催缴", "挽留", "关怀"],
            "next_step_en": ["collect", "retain", "care"],
            "passive": np.array([True, False, False]),
            "retention_target": [False, True, True],
            "queue": ["collections", "account_managers", "telesales"],
            "deadline": [date(2025, 1, 8), date(2025, 1, 10), date(2025, 1, 13)],
            "status": "open",
            "created_at": now,
        }
    )
    with session_scope(settings) as s:
        assert bulk_insert(s, table, frame, rows=2) == 3
        records = frame.assign(subscriber_id=frame["subscriber_id"] + "-orm")
        records = records.astype(object).where(records.notna(), None)
        s.execute(
            sa.insert(table),
            [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                for r in records.to_dict("records")
            ],
        )
    with session_scope(settings) as s:
        got = pd.DataFrame(
            s.execute(sa.select(table).order_by(table.c.subscriber_id)).mappings().all()
        )
    bulk = got[~got["subscriber_id"].str.endswith("-orm")].drop(columns="id")
    orm = got[got["subscriber_id"].str.endswith("-orm")].drop(columns="id")
    orm = orm.assign(subscriber_id=orm["subscriber_id"].str.removesuffix("-orm"))
    pd.testing.assert_frame_equal(bulk.reset_index(drop=True), orm.reset_index(drop=True))
    assert bulk["model_level"].tolist() == ["red", None, None]
    assert bulk["passive"].tolist() == [True, False, False]
    assert bulk["deadline"].tolist() == [date(2025, 1, 8), date(2025, 1, 10), date(2025, 1, 13)]
    assert bulk["clv"].isna().tolist() == [False, True, False]
    with session_scope(settings) as s, pytest.raises(ValueError, match="no column"):
        bulk_insert(s, table, frame.assign(nonsense=1))
    bad = pd.concat([frame.assign(subscriber_id=["B1", "B2", "B3"])] * 2, ignore_index=True)
    bad.loc[5, "subscriber_id"] = None  # NOT NULL: the third slice fails
    with pytest.raises(sa.exc.IntegrityError), session_scope(settings) as s:
        bulk_insert(s, table, bad, rows=2)
    with session_scope(settings) as s:
        stored = s.scalar(sa.select(sa.func.count()).select_from(table))
    assert stored == 6  # the 3 + 3 rows above; none of the failed batch
