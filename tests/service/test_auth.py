"""Users, API keys, sessions and the audit log — on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import logging
import stat

import pytest
import sqlalchemy as sa

from churnguard.config import Settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.service.audit import append, list_events
from churnguard.service.auth import (
    SESSION_COOKIE,
    authenticate_key,
    create_user,
    hash_password,
    list_users,
    revoke_user,
    verify_password,
)
from churnguard.service.store import AuditEvent
from churnguard.warehouse.operational import open_operational
from tests.service.conftest import client_for


def _audit_count(settings: Settings) -> int:
    with open_operational(settings).connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one())


def test_passwords_are_salted_scrypt() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("correct horse", a)
    assert not verify_password("wrong horse", a)
    assert not verify_password("x", None) and not verify_password("x", "garbage")


def test_keys_are_hashed_and_revocable(operational_settings: Settings) -> None:
    s = operational_settings
    user, key = create_user(s, "ops.agent", role="agent", queues=["care_team", "care_team"])
    assert user["queues"] == ["care_team"]
    assert key.startswith("cg_") and len(key) > 40
    p = authenticate_key(s, key)
    assert p is not None and p.role == "agent" and p.queues == ("care_team",)
    assert authenticate_key(s, key + "x") is None
    with open_operational(s).connect() as c:
        stored = c.execute(sa.text("SELECT prefix, key_hash FROM service_api_keys")).all()
    assert len(stored) == 1 and key not in stored[0] and key[:9] == stored[0][0]
    listed = list_users(s)
    assert listed[0]["keys"] == [key[:9] + "…"] and not listed[0]["has_password"]
    assert revoke_user(s, "ops.agent")["keys_revoked"] == 1
    assert authenticate_key(s, key) is None
    with pytest.raises(StateError, match="exists already"):
        create_user(s, "ops.agent", role="agent")
    with pytest.raises(InputError, match="unknown role"):
        create_user(s, "x", role="boss")
    with pytest.raises(InputError, match="only agents"):
        create_user(s, "y", role="manager", queues=["q"])
    with pytest.raises(InputError, match="not valid"):
        create_user(s, "bad name!", role="analyst")
    with pytest.raises(NotFoundError):
        revoke_user(s, "nobody")


def test_api_auth_session_and_audit(
    operational_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    s = operational_settings
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Passw0rd"
    _u, key = create_user(s, "mgr", role="manager", password=password)
    client = client_for(s)
    before = _audit_count(s)

    # 401: nothing, a wrong scheme, a wrong key; the versionless alias too
    for headers in ({}, {"Authorization": f"Basic {key}"}, {"Authorization": "Bearer cg_nope"}):
        r = client.get("/api/v1/me", headers=headers)
        assert r.status_code == 401 and "error" in r.json()
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/warnings").status_code == 401
    assert client.get("/openapi.json").status_code == 200

    r = client.get("/api/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["role"] == "manager" and r.json()["via"] == "key"
    # 403: a manager may not promote models or change rules
    r = client.post("/api/v1/models/v1/promote", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403 and "manager" in r.json()["error"]

    # web login: wrong password → 401 and audited; right one → signed HttpOnly Lax cookie
    r = client.post("/login", data={"user": "mgr", "password": "wrong-password"})
    assert r.status_code == 401
    r = client.post("/login", data={"user": "mgr", "password": password})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    r = client.get("/api/v1/me")
    assert r.status_code == 200 and r.json()["via"] == "session"
    r = client.post(
        "/login",
        data={"user": "mgr", "password": password, "next": "/worklist"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/worklist"
    r = client.post("/login", data={"user": "mgr", "password": password, "next": "//evil.example"})
    assert r.status_code == 200  # no open redirect
    # a write with the cookie from a foreign page is refused (CSRF); from our own, accepted
    evil = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-site" in evil.json()["error"]
    assert client.post("/logout", headers={"Origin": "http://testserver"}).status_code == 200
    client.post("/login", data={"user": "mgr", "password": password})
    assert client.post("/logout").status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/me").status_code == 401
    # a forged cookie is refused
    client.cookies.set(SESSION_COOKIE, "eyJ1aWQiOjF9.forged.sig")
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()

    # the audit log recorded the sign-ins, and only grew
    total, events = list_events(s, action="login.failure")
    assert total == 1 and events[0]["actor"] == "mgr" and events[0]["request_id"]
    assert list_events(s, action="login.success")[0] == 4
    r = client.get("/api/v1/audit?action=logout", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["total"] == 2
    assert _audit_count(s) == before + 7

    # secrets never reach the log
    text = caplog.text
    assert key not in text and password not in text and "wrong-password" not in text
    assert "mgr" in text  # the access log names the user


def test_audit_is_append_only(operational_settings: Settings) -> None:
    s = operational_settings
    client = client_for(s)
    counts = [_audit_count(s)]
    for i in range(3):
        append(s, actor=f"t{i}", role="admin", action="rule.changed", target=f"rule:W00{i}")
        counts.append(_audit_count(s))
    assert counts == sorted(counts) and counts[-1] == counts[0] + 3
    with pytest.raises(InputError):
        append(s, actor="t", role=None, action="audit.deleted")
    # the API offers no way to change or delete events
    paths = client.app.openapi()["paths"]
    assert {p: set(ops) for p, ops in paths.items() if "audit" in p} == {"/api/v1/audit": {"get"}}
    _u, key = create_user(s, "adm", role="admin")
    h = {"Authorization": f"Bearer {key}"}
    for method in ("DELETE", "PUT", "PATCH", "POST"):
        assert client.request(method, "/api/v1/audit", headers=h).status_code == 405
    assert _audit_count(s) == counts[-1]


def test_session_secret_file_is_private(
    operational_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churnguard.service.auth import SESSION_SECRET_ENV, session_secret

    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)
    s = operational_settings
    first = session_secret(s)
    path = s.workspace / ".session_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(s) == first and len(first) >= 32
    monkeypatch.setenv(SESSION_SECRET_ENV, "x" * 20)
    assert session_secret(s) == "x" * 20
    monkeypatch.setenv(SESSION_SECRET_ENV, "short")
    with pytest.raises(InputError):
        session_secret(s)


def test_repeated_failed_sign_ins_are_throttled(operational_settings: Settings) -> None:
    s = operational_settings
    create_user(s, "target", role="analyst", password="the-right-one")
    client = client_for(s)
    for _ in range(5):
        r = client.post("/login", data={"user": "target", "password": "guess-guess"})
        assert r.status_code == 401
    r = client.post("/login", data={"user": "target", "password": "the-right-one"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "try again" in r.json()["error"]
    # other users are not affected
    create_user(s, "other", role="analyst", password="another-one")
    assert (
        client.post("/login", data={"user": "other", "password": "another-one"}).status_code == 200
    )
    assert list_events(s, action="login.failure")[0] == 5


def test_migration_0004_goes_down_and_up(workspace: Settings) -> None:
    from alembic import command

    from churnguard.warehouse.operational import _alembic_config, current_revision, table_names

    engine = open_operational(workspace)
    ours = {"service_users", "service_api_keys", "audit_events"}
    assert ours <= set(table_names(engine))
    command.downgrade(_alembic_config(engine), "0003_retention")
    assert current_revision(engine) == "0003_retention"
    assert not ours & set(table_names(engine))
    command.upgrade(_alembic_config(engine), "head")
    assert ours <= set(table_names(engine)) and current_revision(engine) == "0004_service"
