"""The service on a real PostgreSQL operational database (started by the test session).

The model registry, warnings, campaigns, users, API keys and the audit log all live
in the operational database; this module runs the API's main paths with it on
PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churnguard.config import Settings, load_settings
from tests.service.conftest import AS_OF, PHONE, RUN, client_for
from tests.support.operator import LAST


@pytest.fixture(scope="module")
def pg_settings(
    warned_ws: Path, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """The simulated operator's warehouse with a new PostgreSQL operational database:
    the champion trained and the warnings raised again into it."""
    import sqlalchemy as sa

    from churnguard.models.training import train_models
    from churnguard.warnings.run import raise_warnings

    name = f"svc_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    ws = tmp_path_factory.mktemp("svcpg") / "ws"
    shutil.copytree(warned_ws, ws)
    (ws / "operational.db").unlink()
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    settings = load_settings(ws, overrides={"operational": {"url": url}})
    train_models(settings, as_of=LAST, families=["lightgbm"])
    raise_warnings(settings, as_of=AS_OF, run_date=RUN, push=False)
    yield settings
    from churnguard.warehouse.operational import open_operational

    open_operational(settings).dispose()  # close the pool before the server stops


@pytest.fixture(scope="module")
def pg_client(pg_settings: Settings) -> Any:
    return client_for(pg_settings)


def _user(settings: Settings, role: str, queues: tuple[str, ...] = ()) -> dict[str, str]:
    from churnguard.service.auth import create_user

    _u, key = create_user(settings, f"{role}_{uuid.uuid4().hex[:6]}", role=role, queues=queues)
    return {"Authorization": f"Bearer {key}"}


def test_operational_data_is_on_postgres(pg_settings: Settings) -> None:
    import sqlalchemy as sa

    from churnguard.warehouse.operational import open_operational

    engine = open_operational(pg_settings)
    assert engine.dialect.name == "postgresql"
    assert not (pg_settings.workspace / "operational.db").exists()
    with engine.connect() as c:
        warnings = c.execute(sa.text("SELECT count(*) FROM warnings")).scalar_one()
        models = c.execute(sa.text("SELECT count(*) FROM model_versions")).scalar_one()
    assert warnings > 0 and models >= 1


def test_auth_roles_masking_and_audit_on_postgres(pg_settings: Settings, pg_client: Any) -> None:
    c = pg_client
    assert c.get("/api/v1/warnings").status_code == 401
    assert c.get("/api/v1/warnings", headers={"Authorization": "Bearer cg_nope"}).status_code == 401
    manager = _user(pg_settings, "manager")
    everything = c.get("/api/v1/warnings?limit=500", headers=manager).json()
    assert everything["total"] > 0
    queue = "outbound_red"
    agent = _user(pg_settings, "agent", queues=(queue,))
    mine = c.get("/api/v1/warnings?limit=500", headers=agent)
    assert mine.status_code == 200
    expected = sum(w["queue"] == queue for w in everything["items"])
    assert mine.json()["total"] == expected > 0
    assert not PHONE.search(mine.text)
    assert c.get("/api/v1/audit", headers=agent).status_code == 403

    # plan a campaign, record an agent's outcome: both in the audit log on PostgreSQL
    r = c.post(
        "/api/v1/campaigns",
        json={"as_of": "2024-09", "budget": 2000, "holdout": 0.2},
        headers=manager,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["campaign_id"]
    members = c.get(f"/api/v1/campaigns/{cid}", headers=manager).json()["members"]
    member = next(m for m in members if m["arm"] == "treatment")
    worker = _user(pg_settings, "agent", queues=(member["queue"],))
    r = c.post(
        f"/api/v1/campaigns/{cid}/results",
        json={"subscriber_id": member["subscriber_id"], "result": "declined"},
        headers=worker,
    )
    assert r.status_code == 201, r.text
    log = c.get("/api/v1/audit?limit=500", headers=manager).json()["items"]
    actions = {(e["action"], e["target"]) for e in log}
    assert ("campaign.planned", f"campaign:{cid}") in actions
    assert (
        "contact.result_recorded",
        f"campaign:{cid}/subscriber:{member['subscriber_id']}",
    ) in actions
    # a revoked key stops working at once
    from churnguard.service.auth import revoke_user

    me = c.get("/api/v1/me", headers=worker).json()["name"]
    revoke_user(pg_settings, me)
    assert c.get("/api/v1/me", headers=worker).status_code == 401
