"""The hot path of score by id: the in-memory answer and the API-key cache keep every semantic."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from churnguard.config import load_settings
from churnguard.service.auth import authenticate_key, cached_key_principal, create_user, revoke_user
from churnguard.service.scoring import ScoreCache
from tests.service.conftest import AS_OF, client_for

H = dict[str, str]


@pytest.fixture(scope="module")
def client(module_ws: Path) -> Any:
    return client_for(load_settings(module_ws))


def _ids(ws: Path, *, stored: bool) -> list[str]:
    con = duckdb.connect(str(ws / "warehouse.duckdb"), read_only=True)
    try:
        cond = "IS NOT NULL" if stored else "IS NULL"
        rows = con.execute(
            f"SELECT subscriber_id FROM scores WHERE as_of = ? AND top_reasons_en {cond} "
            "ORDER BY subscriber_id LIMIT 5",
            [AS_OF],
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def test_cached_answer_equals_the_full_path(module_ws: Path) -> None:
    settings = load_settings(module_ws)
    cache = ScoreCache(settings)
    stored, bare = _ids(module_ws, stored=True), _ids(module_ws, stored=False)
    assert stored and bare
    # cold: nothing loaded, so the cached path declines instead of doing I/O
    assert cache.score_cached(stored[0], as_of=AS_OF) is None
    for sid in stored:
        full = cache.score_subscriber(sid, as_of=AS_OF)
        assert cache.score_cached(sid, as_of=AS_OF) == full
    for sid in bare:
        quick = cache.score_subscriber(sid, as_of=AS_OF, explain=False)
        assert cache.score_cached(sid, as_of=AS_OF, explain=False) == quick
        assert quick["reasons_en"] == []
        # reasons not stored and not computed yet: only the full path may compute them
        assert cache.score_cached(sid, as_of=AS_OF) is None
        explained = cache.score_subscriber(sid, as_of=AS_OF)
        assert explained["reasons_en"]
        assert cache.score_cached(sid, as_of=AS_OF) == explained
    from churnguard.errors import NotFoundError

    with pytest.raises(NotFoundError):
        cache.score_cached("S99999999", as_of=AS_OF)
    # another thread holds the cache (e.g. reloading a month): decline, never wait
    assert cache._lock.acquire()
    try:
        import threading

        got: list[Any] = []
        t = threading.Thread(target=lambda: got.append(cache.score_cached(stored[0], as_of=AS_OF)))
        t.start()
        t.join(5)
        assert got == [None]
    finally:
        cache._lock.release()


def test_api_answers_are_the_same_hot_and_cold(
    client: Any, module_ws: Path, make_user: Any
) -> None:
    h = make_user("analyst")
    stored = _ids(module_ws, stored=True)
    url = f"/api/v1/customers/{stored[0]}/score?as_of={AS_OF:%Y-%m}"
    first, second = client.get(url, headers=h), client.get(url, headers=h)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert client.get("/api/v1/customers/S99999999/score", headers=h).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer cg_nope"}).status_code == 401


def test_revoked_key_is_refused_at_once(client: Any, module_ws: Path) -> None:
    settings = load_settings(module_ws)
    _user, key = create_user(settings, "hot.revoke", role="manager")
    h = {"Authorization": f"Bearer {key}"}
    url = f"/api/v1/customers/{_ids(module_ws, stored=True)[0]}/score"
    for _ in range(3):
        assert client.get(url, headers=h).status_code == 200
    assert cached_key_principal(settings, key) is not None  # now answered without a query
    revoke_user(settings, "hot.revoke")
    assert cached_key_principal(settings, key) is None
    assert client.get(url, headers=h).status_code == 401


def test_key_cache_sees_commits_of_other_processes(module_ws: Path) -> None:
    settings = load_settings(module_ws)
    _user, key = create_user(settings, "other.process", role="analyst")
    assert authenticate_key(settings, key) is not None
    assert cached_key_principal(settings, key) is not None
    db = module_ws / "operational.db"
    # another process deactivates the user behind this process's back
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(\"UPDATE service_users SET active = 0 WHERE name = 'other.process'\"); "
        "c.commit()"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)
    assert cached_key_principal(settings, key) is None
    assert authenticate_key(settings, key) is None
    with sqlite3.connect(db) as con:  # and back: the key works again, through a query
        con.execute("UPDATE service_users SET active = 1 WHERE name = 'other.process'")
    assert authenticate_key(settings, key) is not None


def test_agents_keep_the_queue_check(client: Any, make_user: Callable[..., H]) -> None:
    from churnguard.warnings.worklist import worklist

    settings = load_settings(client.app.state.settings.workspace)
    wl = worklist(settings)
    queue_of = dict(zip(wl["subscriber_id"], wl["queue"], strict=True))
    mine = "outbound_red"
    own = next(s for s, q in queue_of.items() if q == mine)
    foreign = next(s for s, q in queue_of.items() if q != mine)
    agent = make_user("agent", queues=(mine,))
    manager = make_user("manager")
    # warm the score cache so the hot path could answer, then ask as the agent
    for sid in (own, foreign):
        assert client.get(f"/api/v1/customers/{sid}/score", headers=manager).status_code == 200
    assert client.get(f"/api/v1/customers/{own}/score", headers=agent).status_code == 200
    assert client.get(f"/api/v1/customers/{foreign}/score", headers=agent).status_code == 404


def test_heap_freeze_after_loads(module_ws: Path) -> None:
    import gc

    from churnguard.service import scoring

    stored = _ids(module_ws, stored=True)
    try:
        scoring.freeze_heap_after_loads()
        assert gc.get_freeze_count() > 0
        cache = ScoreCache(load_settings(module_ws))
        gc.unfreeze()
        cache.score_subscriber(stored[0], as_of=AS_OF)  # loads the champion and the month
        assert gc.get_freeze_count() > 0  # frozen again after the loads
        assert cache.score_cached(stored[0], as_of=AS_OF) is not None
    finally:
        scoring.freeze_heap_after_loads(False)
        gc.unfreeze()
