"""GET /warnings?sort=…: the worklist's orders (the dashboard's sort menu)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from churnguard.config import load_settings
from tests.service.conftest import client_for


def test_warnings_sorted_by_each_order(
    module_ws: Path, make_user: Callable[..., dict[str, str]]
) -> None:
    client = client_for(load_settings(module_ws))
    analyst = make_user("analyst")

    def items(sort: str) -> list[dict[str, object]]:
        r = client.get(f"/api/v1/warnings?sort={sort}&limit=500", headers=analyst)
        assert r.status_code == 200, r.text
        out: list[dict[str, object]] = r.json()["items"]
        return out

    default = items("urgency")
    rank = {"red": 0, "orange": 1, "yellow": 2}
    assert [rank[str(w["level"])] for w in default] == sorted(
        rank[str(w["level"])] for w in default
    )
    probs = [float(str(w["probability"])) for w in items("probability")]
    assert probs == sorted(probs, reverse=True) and len(probs) == len(default)
    clv = [float(str(w["clv"])) for w in items("clv") if w["clv"] is not None]
    assert clv == sorted(clv, reverse=True)
    deadlines = [str(w["deadline"]) for w in items("deadline")]
    assert deadlines == sorted(deadlines)
    assert {w["id"] for w in items("raised_on")} == {w["id"] for w in default}
    r = client.get("/api/v1/warnings?sort=name", headers=analyst)
    assert r.status_code == 422 and "sort" in r.json()["fields"]
