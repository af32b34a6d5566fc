"""Win-back, care programs and team performance through the API: roles, bad input, audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from churnguard.config import load_settings
from tests.service.conftest import AS_OF, PHONE, RUN, client_for

H = dict[str, str]


@pytest.fixture(scope="module")
def client(module_ws: Path) -> Any:
    return client_for(load_settings(module_ws))


def test_winback_and_care_are_planned_by_managers_and_audited(
    client: Any, make_user: Callable[..., H]
) -> None:
    manager, analyst, agent, admin = (
        make_user(r) for r in ("manager", "analyst", "agent", "admin")
    )
    body = {"as_of": "2024-11", "budget": 3000, "holdout": 0.3}
    assert client.post("/api/v1/winback", json=body).status_code == 401
    assert client.post("/api/v1/winback", json=body, headers=analyst).status_code == 403
    assert client.post("/api/v1/winback", json=body, headers=agent).status_code == 403
    bad = client.post("/api/v1/winback", json={**body, "budget": -5}, headers=manager)
    assert bad.status_code == 422 and "budget" in bad.text
    extra = client.post("/api/v1/winback", json={**body, "role": "admin"}, headers=manager)
    assert extra.status_code == 422
    r = client.post("/api/v1/winback", json=body, headers=manager)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["purpose"] == "winback" and plan["treated"] > 0 and plan["control"] > 0
    assert plan["segments"] and not PHONE.search(r.text)

    programs = client.get("/api/v1/care/programs", headers=analyst)
    assert programs.status_code == 200
    assert {p["code"] for p in programs.json()} >= {"onboarding", "renewal_reminder"}
    assert client.get("/api/v1/care/programs", headers=agent).status_code == 403
    run = {"as_of": f"{AS_OF:%Y-%m}", "run_date": RUN.isoformat()}
    path = "/api/v1/care/programs/renewal_reminder/runs"
    assert client.post(path, json=run, headers=analyst).status_code == 403
    r = client.post(path, json=run, headers=manager)
    assert r.status_code == 201, r.text
    care = r.json()
    assert care["program"] == "renewal_reminder" and care["treated"] > 0
    assert (
        client.post("/api/v1/care/programs/nope/runs", json=run, headers=manager).status_code == 404
    )
    wrong_month = {"as_of": f"{AS_OF:%Y-%m}", "run_date": "2024-11-05"}
    r = client.post("/api/v1/care/programs/holiday_loyalty/runs", json=wrong_month, headers=manager)
    assert r.status_code == 422 and "calendar months" in r.text

    log = client.get("/api/v1/audit?action=campaign.planned", headers=admin).json()
    details = {i["target"]: i["details"] for i in log["items"]}
    assert details[f"campaign:{plan['campaign_id']}"]["purpose"] == "winback"
    assert details[f"campaign:{care['campaign_id']}"]["program"] == "renewal_reminder"

    # the campaigns list carries both; the team table shows the win-back team's contacts
    kinds = {c["id"]: c["purpose"] for c in client.get("/api/v1/campaigns", headers=analyst).json()}
    assert kinds[plan["campaign_id"]] == "winback" and kinds[care["campaign_id"]] == "care"
    teams = client.get("/api/v1/kpi/teams?by=team", headers=analyst).json()["rows"]
    wb = next(t for t in teams if t["team"] == "winback_team")
    assert wb["winback_contacts"] == plan["treated"]


def test_team_kpis_need_a_reader_and_a_known_dimension(
    client: Any, make_user: Callable[..., H]
) -> None:
    analyst, agent = make_user("analyst"), make_user("agent", queues=("outbound_red",))
    assert client.get("/api/v1/kpi/teams").status_code == 401
    assert client.get("/api/v1/kpi/teams", headers=agent).status_code == 403
    assert client.get("/api/v1/kpi/teams?by=planet", headers=analyst).status_code == 422
    assert client.get("/api/v1/kpi/teams?months=0", headers=analyst).status_code == 422
    for by in ("team", "queue", "region", "agent"):
        r = client.get(f"/api/v1/kpi/teams?by={by}", headers=analyst)
        assert r.status_code == 200 and r.json()["by"] == by
        rows = r.json()["rows"]
        assert all(by in row for row in rows)
        if by == "region":
            assert rows and all("warning_accuracy" in row for row in rows)
