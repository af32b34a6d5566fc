"""The dashboard in a real browser: `churnguard serve` on a free loopback port, headless
Debian Chromium driven by Playwright (never `playwright install`: no browser download).

One browser per session, one server per module, on a copy of the simulated operator
with a planned campaign and users who sign in with passwords.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from churnguard.config import load_settings
from tests.conftest import CLI

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery 42"
# an unmasked mainland mobile number anywhere in a text
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@dataclass(frozen=True)
class Dashboard:
    """The running dashboard and what the tests know about its data."""

    url: str
    workspace: Path
    campaign_id: int
    agent_queue: str
    own_customer: str  # treated in the campaign, warned into the agent's queue
    foreign_customer: str  # warned into another queue
    users: dict[str, str]  # role → user name (all with PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _prepare(ws: Path) -> dict[str, Any]:
    """Plan a campaign and create one user per role; returns the facts the tests use."""
    import sqlalchemy as sa

    from churnguard.retention.planning import plan_campaign
    from churnguard.retention.views import show_campaign
    from churnguard.service.auth import create_user
    from churnguard.warehouse.operational import open_operational
    from churnguard.warnings.store import CustomerWarning

    settings = load_settings(ws)
    plan = plan_campaign(settings, as_of="2024-09", budget=3000, holdout=0.2, created_by="test")
    members = show_campaign(settings, plan.campaign_id)["members"]
    w = CustomerWarning.__table__
    with open_operational(settings).connect() as conn:
        queue_of = dict(
            conn.execute(sa.select(w.c.subscriber_id, w.c.queue).where(w.c.status == "open")).all()
        )
    treated = next(
        m for m in members if m["arm"] == "treatment" and queue_of.get(m["subscriber_id"])
    )
    queue = queue_of[treated["subscriber_id"]]
    foreign = next(s for s, q in queue_of.items() if q != queue)
    users = {}
    for role in ("admin", "manager", "analyst", "agent"):
        name = f"web_{role}"
        queues = (queue,) if role == "agent" else ()
        create_user(settings, name, role=role, queues=queues, password=PASSWORD)
        users[role] = name
    return {
        "campaign_id": plan.campaign_id,
        "agent_queue": queue,
        "own_customer": treated["subscriber_id"],
        "foreign_customer": foreign,
        "users": users,
    }


@pytest.fixture(scope="module")
def dashboard(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """`churnguard serve` on a copy of the warned workspace, until the module ends."""
    ws = tmp_path_factory.mktemp("web") / "ws"
    shutil.copytree(warned_ws, ws)
    facts = _prepare(ws)
    port = _free_port()
    log = ws.parent / "serve.log"
    env = {**os.environ, "CHURNGUARD_SESSION_SECRET": "web-tests-session-secret-0123456789"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [CLI, "serve", "--workspace", str(ws), "--port", str(port), "--log-level", "warning"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Dashboard(url=url, workspace=ws, **facts)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # the server must not have logged a traceback (bugs answer 500 with a log line)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) for the whole session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any, dashboard: Dashboard) -> Iterator[Callable[..., Any]]:
    """``open_page(locale="en-US")``: a page in a fresh browser context (own cookies)."""
    contexts = []

    def make(locale: str = "en-US") -> Any:
        ctx = browser.new_context(
            locale=locale, viewport={"width": 1360, "height": 900}, base_url=dashboard.url
        )
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page: Any, user: str, password: str = PASSWORD, *, goto: str = "/ui/") -> None:
    """Sign in through the login page (redirected there from ``goto``)."""
    page.goto(goto)
    assert "/ui/login" in page.url
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/ui/login" not in u)


def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG under tests/artifacts/screenshots/ (charts drawn first)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_charts(page: Any, *names: str) -> None:
    """Each named chart has been drawn by plotly.js (an svg inside its figure)."""
    for name in names:
        page.wait_for_selector(f"#chart-{name} svg.main-svg", state="attached")
