"""``churnguard users`` and ``churnguard serve`` as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from churnguard.config import load_settings
from tests.service.conftest import client_for

# Runs the CLI with the serve/users commands registered (also before the lead lists
# serve_cmd in cli/__init__.py).
_RUN = (
    "import sys; from churnguard.cli import app, main, serve_cmd, _COMMAND_MODULES;"
    "'serve_cmd' in _COMMAND_MODULES or serve_cmd.register(app); sys.argv[0]='churnguard'; main()"
)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_users_create_prints_a_working_key(module_ws: Path) -> None:
    ws = str(module_ws)
    r = _cli("users", "create", "crm.bot", "--role", "analyst", "--workspace", ws)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("cg_") and r.stdout.count(key) == 1 and key not in r.stderr
    client = client_for(load_settings(module_ws))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json() == {
        "name": "crm.bot",
        "role": "analyst",
        "queues": [],
        "via": "key",
        "clear_text": False,
    }
    env = {**os.environ, "CG_TEST_PW": "a-long-password"}
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN,
            "users",
            "create",
            "lead",
            "--role",
            "agent",
            "--queue",
            "care_team",
            "--password-env",
            "CG_TEST_PW",
            "--workspace",
            ws,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert client.post("/login", data={"user": "lead", "password": "a-long-password"}).json() == {
        "name": "lead",
        "role": "agent",
    }
    r = _cli("users", "create", "bad", "--role", "boss", "--workspace", ws)
    assert r.returncode == 1 and "unknown role" in r.stderr
    listed = _cli("users", "list", "--json", "--workspace", ws)
    assert '"crm.bot"' in listed.stdout and key not in listed.stdout
    r = _cli("users", "revoke", "crm.bot", "--workspace", ws)
    assert r.returncode == 0
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    actions = [
        e["action"]
        for e in client.get(
            "/api/v1/audit?limit=50", headers={"Authorization": "Bearer " + _admin_key(ws)}
        ).json()["items"]
    ]
    assert actions.count("user.created") >= 2 and "user.revoked" in actions


def _admin_key(ws: str) -> str:
    r = _cli("users", "create", "root", "--role", "admin", "--workspace", ws)
    return r.stdout.strip().splitlines()[-1]


def test_serve_answers_health(module_ws: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, "serve", "--workspace", str(module_ws), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                body = r.json()
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.3)
        assert body is not None and body["status"] == "ok"
        secret = "cg_this-key-must-never-be-logged-0123456789"
        r = httpx.get(
            f"http://127.0.0.1:{port}/api/warnings",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=5,
        )
        assert r.status_code == 401 and r.headers["x-request-id"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    # the access log names the request, never the key
    assert "GET /api/warnings 401" in err and r.headers["x-request-id"] in err
    assert secret not in err
