"""The API on a simulated operator: roles, masking, queues, scoring, campaigns, rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from churnguard.config import load_settings
from tests.service.conftest import AS_OF, PHONE, RUN, client_for

H = dict[str, str]


@pytest.fixture(scope="module")
def client(module_ws: Path) -> Any:
    return client_for(load_settings(module_ws))


@pytest.fixture(scope="module")
def queue_of(module_ws: Path) -> dict[str, str]:
    from churnguard.warnings.worklist import worklist

    wl = worklist(load_settings(module_ws))
    return dict(zip(wl["subscriber_id"], wl["queue"], strict=True))


def test_health_and_docs(client: Any) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["operational"] == "ok" and r.json()["warehouse"] == "ok"
    assert "/api/v1/customers/{subscriber_id}/score" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_agent_sees_only_own_queue_and_masked_data(
    client: Any,
    make_user: Callable[..., H],
    queue_of: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    queues = sorted(set(queue_of.values()))
    mine, other = "outbound_red", next(q for q in queues if q != "outbound_red")
    agent = make_user("agent", queues=(mine,))
    manager = make_user("manager")
    seen: list[str] = []

    r = client.get("/api/v1/warnings?limit=500", headers=agent)
    assert r.status_code == 200
    body = r.json()
    seen.append(r.text)
    expected = sum(1 for q in queue_of.values() if q == mine)
    assert body["total"] == expected > 0
    assert {w["queue"] for w in body["items"]} == {mine}
    assert all("****" in w["msisdn"] for w in body["items"] if w["msisdn"])
    # the manager sees every queue; asking for the agent's queue gives the same total
    r = client.get(f"/api/v1/warnings?queue={mine}", headers=manager)
    assert r.json()["total"] == expected
    assert client.get("/api/v1/warnings", headers=manager).json()["total"] == len(queue_of)
    assert client.get(f"/api/v1/warnings?queue={other}", headers=agent).status_code == 403

    own = next(s for s, q in queue_of.items() if q == mine)
    foreign = next(s for s, q in queue_of.items() if q == other)
    for path in (f"/api/v1/customers/{own}", f"/api/v1/customers/{own}/score"):
        r = client.get(path, headers=agent)
        assert r.status_code == 200
        seen.append(r.text)
    view = client.get(f"/api/v1/customers/{own}", headers=agent).json()
    assert "****" in view["profile"]["msisdn"] and view["profile"]["name"].endswith("*")
    assert len(view["trend"]) == 6 and view["warnings"][0]["queue"] == mine
    # another queue's customer and an unknown one look the same: 404
    a = client.get(f"/api/v1/customers/{foreign}", headers=agent)
    b = client.get("/api/v1/customers/S99999999", headers=agent)
    assert a.status_code == b.status_code == 404
    assert a.json()["error"].replace(foreign, "X") == b.json()["error"].replace("S99999999", "X")
    assert client.get(f"/api/v1/customers/{foreign}/score", headers=agent).status_code == 404
    # agents may not read KPIs, models or the audit log, nor plan
    for path in ("/api/v1/kpi", "/api/v1/models", "/api/v1/audit"):
        assert client.get(path, headers=agent).status_code == 403
    r = client.post("/api/v1/campaigns", json={"as_of": "2024-09", "budget": 10}, headers=agent)
    assert r.status_code == 403
    seen.append(client.get("/api/v1/campaigns", headers=agent).text)
    for text in seen:
        assert not PHONE.search(text), "an agent saw an unmasked phone number"
    # nothing personal reached the log, though the customers were read in clear internally
    admin_view = client.get(f"/api/v1/customers/{own}", headers=make_user("admin")).json()
    assert (
        admin_view["profile"]["msisdn"]
        in client.get(f"/api/v1/customers/{own}", headers=make_user("admin")).text
    )
    for secret in (
        admin_view["profile"]["msisdn"],
        admin_view["profile"]["name"],
        admin_view["profile"]["id_number"],
    ):
        assert secret not in caplog.text
    assert not PHONE.search(caplog.text)
    assert f"/api/v1/customers/{own}" in caplog.text  # the access log did run


def test_clear_text_only_for_configured_roles(
    module_ws: Path, client: Any, make_user: Callable[..., H], queue_of: dict[str, str]
) -> None:
    sid = next(iter(queue_of))
    manager, admin = make_user("manager"), make_user("admin")
    masked = client.get(f"/api/v1/customers/{sid}", headers=manager).json()["profile"]
    clear = client.get(f"/api/v1/customers/{sid}", headers=admin).json()["profile"]
    assert PHONE.fullmatch(clear["msisdn"]) and "****" in masked["msisdn"]
    assert masked["msisdn"] == clear["msisdn"][:3] + "****" + clear["msisdn"][-4:]
    assert masked["id_number"] != clear["id_number"] and "*" in masked["id_number"]
    # configure managers as clear-text readers: now they see it, and the read is audited
    s2 = load_settings(module_ws, overrides={"privacy": {"clear_text_roles": ["admin", "manager"]}})
    c2 = client_for(s2)
    query = f"/api/v1/audit?action=customer.viewed_clear_text&target={sid}"
    before = c2.get(query, headers=admin).json()["total"]
    assert before >= 1  # the admin's read above
    got = c2.get(f"/api/v1/customers/{sid}", headers=manager).json()["profile"]
    assert got["msisdn"] == clear["msisdn"]
    audit = c2.get(query, headers=admin)
    assert audit.json()["total"] == before + 1
    assert audit.json()["items"][0]["role"] == "manager"
    assert clear["msisdn"] not in audit.text


def test_pagination_and_filters(client: Any, make_user: Callable[..., H]) -> None:
    h = make_user("analyst")
    full = client.get("/api/v1/warnings?limit=500", headers=h).json()
    total = full["total"]
    pages = [
        client.get(f"/api/v1/warnings?limit=100&offset={o}", headers=h).json()
        for o in range(0, total, 100)
    ]
    assert all(p["total"] == total for p in pages)
    ids = [w["id"] for p in pages for w in p["items"]]
    assert len(ids) == len(set(ids)) == total
    assert ids == [w["id"] for w in full["items"]][: len(ids)]
    levels = [w["level"] for w in full["items"]]
    order = {"red": 0, "orange": 1, "yellow": 2}
    assert [order[x] for x in levels] == sorted(order[x] for x in levels)
    red = client.get("/api/v1/warnings?level=red&limit=1", headers=h).json()
    assert red["total"] == levels.count("red") and len(red["items"]) == 1
    by_rule = client.get("/api/v1/warnings?reason=W006&limit=500", headers=h).json()
    assert by_rule["total"] == sum("W006" in w["rule_codes"] for w in full["items"])
    seg = client.get("/api/v1/warnings?segment=high&limit=500", headers=h).json()
    assert seg["total"] == sum(w["value_tier"] == "high" for w in full["items"])
    day = RUN.isoformat()
    assert (
        client.get(f"/api/v1/warnings?raised_from={day}&raised_to={day}", headers=h).json()["total"]
        == total
    )
    assert client.get("/api/v1/warnings?raised_from=2030-01-01", headers=h).json()["total"] == 0
    # bad input: 422 with a plain message per field
    r = client.get("/api/v1/warnings?limit=0&level=purple&raised_from=yesterday", headers=h)
    assert r.status_code == 422
    fields = r.json()["fields"]
    assert set(fields) == {"limit", "level", "raised_from"}
    assert "red" in fields["level"] and "greater than or equal to 1" in fields["limit"]


def test_score_by_id_equals_the_stored_score(
    module_ws: Path, client: Any, make_user: Callable[..., H]
) -> None:
    h = make_user("analyst")
    settings = load_settings(module_ws)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    rows = con.execute(
        "SELECT subscriber_id, churn_probability, model_version FROM scores WHERE as_of = ? "
        "ORDER BY churn_probability DESC LIMIT 3",
        [AS_OF],
    ).fetchall()
    con.close()
    for sid, p, version in rows:
        r = client.get(f"/api/v1/customers/{sid}/score?as_of=2024-09", headers=h)
        assert r.status_code == 200
        d = r.json()
        assert d["churn_probability"] == pytest.approx(p, abs=1e-12)
        assert d["model_version"] == version and d["source"] == "stored"
        assert d["level"] in ("red", "orange", "yellow") and d["reasons_zh"] and d["reasons_en"]
    # the level agrees with the model level the month's warnings were graded with
    import sqlalchemy as sa

    from churnguard.warehouse.operational import open_operational

    with open_operational(settings).connect() as c:
        graded = c.execute(
            sa.text("SELECT subscriber_id, model_level FROM warnings ORDER BY id LIMIT 40")
        ).all()
    for sid, model_level in graded:
        got = client.get(f"/api/v1/customers/{sid}/score?explain=false", headers=h).json()
        assert got["level"] == model_level
    # a customer whose reasons were not stored: none with explain=false, computed otherwise
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    (bare,) = con.execute(
        "SELECT subscriber_id FROM scores WHERE as_of = ? AND top_reasons_en IS NULL "
        "ORDER BY subscriber_id LIMIT 1",
        [AS_OF],
    ).fetchone() or ("",)
    con.close()
    quick = client.get(f"/api/v1/customers/{bare}/score?explain=false", headers=h).json()
    assert quick["source"] == "stored" and quick["reasons_en"] == []
    full = client.get(f"/api/v1/customers/{bare}/score", headers=h).json()
    assert full["churn_probability"] == quick["churn_probability"]
    assert full["categories"] == [] or full["reasons_en"]
    assert client.get("/api/v1/customers/S99999999/score", headers=h).status_code == 404
    r = client.get("/api/v1/customers/X/score?as_of=2024-13", headers=h)
    assert r.status_code == 422 and "as_of" in r.json()["fields"]


def test_posted_payload_equals_model_predict(
    module_ws: Path, client: Any, make_user: Callable[..., H]
) -> None:
    from churnguard.features import load_snapshot
    from churnguard.models.scoring import load_registered

    settings = load_settings(module_ws)
    _row, model = load_registered(settings)
    snap = load_snapshot(settings, as_of=AS_OF).head(5)
    expected = model.predict(snap)
    h = make_user("analyst")
    for i in range(len(snap)):
        row = snap.iloc[[i]]
        payload = json.loads(row[list(model.plan.features)].to_json(orient="records"))[0]
        r = client.post("/api/v1/score", json=payload, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["churn_probability"] == pytest.approx(float(expected[i]), abs=1e-9)
        assert r.json()["missing_features"] == []
    num = model.plan.numeric[0]
    r = client.post("/api/v1/score", json={num: "lots", "favourite_colour": "red"}, headers=h)
    assert r.status_code == 422
    assert set(r.json()["fields"]) == {num, "favourite_colour"}
    assert "number" in r.json()["fields"][num]
    assert client.post("/api/v1/score", json=[1, 2], headers=h).status_code == 422
    # a partial row is scored with the rest missing
    r = client.post("/api/v1/score", json={num: 1.0}, headers=h)
    assert r.status_code == 200 and 0 <= r.json()["churn_probability"] <= 1
    assert np.isclose(len(r.json()["missing_features"]), len(model.plan.features) - 1)


def test_campaign_plan_result_and_audit(
    module_ws: Path, client: Any, make_user: Callable[..., H], queue_of: dict[str, str]
) -> None:
    manager, analyst = make_user("manager"), make_user("analyst")
    body = {"as_of": "2024-09", "budget": 3000, "holdout": 0.2}
    assert client.post("/api/v1/campaigns", json=body, headers=analyst).status_code == 403
    bad = client.post(
        "/api/v1/campaigns", json={**body, "budget": -1, "role": "admin"}, headers=manager
    )
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"budget", "role"}
    assert bad.json()["fields"]["role"] == "is not an accepted field"
    r = client.post("/api/v1/campaigns", json=body, headers=manager)
    assert r.status_code == 201, r.text
    cid = r.json()["campaign_id"]
    detail = client.get(f"/api/v1/campaigns/{cid}", headers=manager).json()
    treated = [m for m in detail["members"] if m["arm"] == "treatment"]
    member = treated[0]
    queue = member["queue"]
    agent = make_user("agent", queues=(queue,))
    stranger = make_user("agent", queues=("no_such_queue",))
    payload = {
        "subscriber_id": member["subscriber_id"],
        "result": "accepted",
        "note": "call back on 13912345678",
    }
    r = client.post(f"/api/v1/campaigns/{cid}/results", json=payload, headers=stranger)
    assert r.status_code == 404
    r = client.post(f"/api/v1/campaigns/{cid}/results", json=payload, headers=agent)
    assert r.status_code == 201, r.text
    assert r.json()["agent"].startswith("agent")
    r = client.post(
        f"/api/v1/campaigns/{cid}/results", json={**payload, "result": "maybe"}, headers=agent
    )
    assert r.status_code == 422 and "reached" in r.json()["fields"]["result"]
    # the result is on the member, and in the agent's view only their queue's members show
    mine = client.get(f"/api/v1/campaigns/{cid}", headers=agent).json()
    assert {m["queue"] for m in mine["members"]} == {queue}
    got = next(m for m in mine["members"] if m["subscriber_id"] == member["subscriber_id"])
    assert got["result"] == "accepted"
    view = client.get(f"/api/v1/customers/{member['subscriber_id']}", headers=manager).json()
    assert view["contacts"]["results"][0]["result"] == "accepted"
    assert "139****5678" in view["contacts"]["results"][0]["note"]  # notes are scrubbed
    assert view["recommended_offer"]["source"] == "campaign"
    assert view["recommended_offer"]["offer"] == member["offer"]
    # the audit log has the plan and the result, without the note
    log = client.get("/api/v1/audit?limit=500", headers=manager).json()["items"]
    actions = [(e["action"], e["target"]) for e in log]
    assert ("campaign.planned", f"campaign:{cid}") in actions
    rec = next(e for e in log if e["action"] == "contact.result_recorded")
    assert rec["target"] == f"campaign:{cid}/subscriber:{member['subscriber_id']}"
    assert rec["details"]["result"] == "accepted" and "13912345678" not in json.dumps(log)
    # launch: managers only; every channel delivered as a call list here
    assert client.post(f"/api/v1/campaigns/{cid}/launch", headers=agent).status_code == 403
    calls = {
        c: {"kind": "call_list", "file_format": "csv"}
        for c in ("sms", "wechat", "app_push", "email", "phone")
    }
    c2 = client_for(load_settings(module_ws, overrides={"retention": {"delivery": calls}}))
    r = c2.post(f"/api/v1/campaigns/{cid}/launch", headers=manager)
    assert r.status_code == 200, r.text
    assert r.json()["delivered"] + r.json()["pending"] >= len(treated) - 1
    assert (
        client.get(
            f"/api/v1/audit?action=campaign.launched&target=campaign:{cid}", headers=manager
        ).json()["total"]
        == 1
    )
    kpi = client.get(f"/api/v1/campaigns/{cid}/kpi", headers=analyst)
    assert kpi.status_code == 200 and kpi.json()["campaigns"]
    assert client.get("/api/v1/campaigns/99999/kpi", headers=analyst).status_code == 404
    assert client.get("/api/v1/kpi?by=queue", headers=analyst).status_code == 200
    assert client.get("/api/v1/kpi?by=planet", headers=analyst).status_code == 422
    # an uncovered customer gets the best prior action
    other = next(s for s in queue_of if s not in {m["subscriber_id"] for m in detail["members"]})
    rec_offer = client.get(f"/api/v1/customers/{other}", headers=manager).json()[
        "recommended_offer"
    ]
    assert rec_offer is None or rec_offer["source"] == "priors"


def test_models_and_promotion(client: Any, make_user: Callable[..., H]) -> None:
    analyst, admin = make_user("analyst"), make_user("admin")
    models = client.get("/api/v1/models", headers=analyst).json()
    champ = next(m for m in models if m["status"] == "champion")
    one = client.get(f"/api/v1/models/{champ['version']}", headers=analyst).json()
    assert one["metrics"] == champ["metrics"]
    feats = client.get("/api/v1/models/champion", headers=analyst).json()["features"]
    assert feats["numeric"]
    assert client.get("/api/v1/models/nope", headers=analyst).status_code == 404
    assert (
        client.post(f"/api/v1/models/{champ['version']}/promote", headers=analyst).status_code
        == 403
    )
    r = client.post(f"/api/v1/models/{champ['version']}/promote", headers=admin)
    assert r.status_code == 409 and "already the champion" in r.json()["error"]


def test_rule_changes_are_validated_and_audited(
    module_ws: Path, client: Any, make_user: Callable[..., H]
) -> None:
    from churnguard.warnings.rules import load_rules

    admin, manager = make_user("admin"), make_user("manager")
    assert (
        client.put("/api/v1/rules/W002", json={"muted": True}, headers=manager).status_code == 403
    )
    r = client.put("/api/v1/rules/W002", json={"muted": True}, headers=admin)
    assert r.status_code == 200 and r.json()["after"] == {"muted": True}
    r = client.put(
        "/api/v1/rules/W006", json={"conditions": [{"index": 0, "value": 4}]}, headers=admin
    )
    assert r.status_code == 200 and r.json()["after"] == {"conditions.0.value": 4}
    rules = load_rules(workspace=module_ws)
    assert rules.by_code("W002").muted
    assert rules.by_code("W006").when[0].value == 4  # type: ignore[attr-defined]
    assert client.put("/api/v1/rules/W999", json={"muted": True}, headers=admin).status_code == 404
    assert (
        client.put("/api/v1/rules/W002", json={"severity": "pink"}, headers=admin).status_code
        == 422
    )
    assert client.put("/api/v1/rules/W002", json={}, headers=admin).status_code == 422
    r = client.put(
        "/api/v1/rules/W002", json={"conditions": [{"index": 0, "value": 1}]}, headers=admin
    )
    assert r.status_code == 422 and "no value" in r.json()["error"]
    assert client.put("/api/v1/rules/w2", json={"muted": True}, headers=admin).status_code == 422
    log = client.get("/api/v1/audit?action=rule.changed", headers=admin).json()
    assert log["total"] == 2


def test_unscored_month_is_scored_from_the_snapshot(
    module_ws: Path, client: Any, make_user: Callable[..., H]
) -> None:
    from churnguard.features import load_snapshot
    from churnguard.models.scoring import load_registered

    settings = load_settings(module_ws)
    _row, model = load_registered(settings)
    snap = load_snapshot(settings, as_of="2024-08").head(2)
    h = make_user("analyst")
    for i, sid in enumerate(snap["subscriber_id"]):
        r = client.get(f"/api/v1/customers/{sid}/score?as_of=2024-08", headers=h)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["source"] == "computed" and d["as_of"] == "2024-08"
        assert d["churn_probability"] == pytest.approx(float(model.predict(snap)[i]), abs=1e-12)
        assert d["level"] in (None, "red", "orange", "yellow")
    assert client.get("/api/v1/customers/S1/score?as_of=2020-01", headers=h).status_code == 404


def test_score_cache_follows_the_warehouse(
    module_ws: Path, client: Any, make_user: Callable[..., H]
) -> None:
    h = make_user("analyst")
    path = str(load_settings(module_ws).warehouse_path)
    con = duckdb.connect(path, read_only=True)
    sid, p = con.execute(
        "SELECT subscriber_id, churn_probability FROM scores WHERE as_of = ? "
        "ORDER BY churn_probability LIMIT 1",
        [AS_OF],
    ).fetchone() or ("", 0.0)
    con.close()
    url = f"/api/v1/customers/{sid}/score?explain=false"
    before = client.get(url, headers=h).json()
    assert before["churn_probability"] == pytest.approx(p) and before["level"] is None
    # the nightly batch rescored the month: the service notices without a restart
    con = duckdb.connect(path)
    con.execute(
        "UPDATE scores SET churn_probability = 0.999 WHERE subscriber_id = ? AND as_of = ?",
        [sid, AS_OF],
    )
    con.close()
    after = client.get(url, headers=h).json()
    assert after["churn_probability"] == pytest.approx(0.999) and after["level"] == "red"


def test_warning_summary(
    client: Any, make_user: Callable[..., H], queue_of: dict[str, str]
) -> None:
    manager = make_user("manager")
    full = client.get("/api/v1/warnings?limit=500", headers=manager).json()["items"]
    summary = client.get("/api/v1/warnings/summary", headers=manager).json()
    assert summary["total"] == len(full) == sum(summary["by_level"].values())
    for level in ("red", "orange", "yellow"):
        assert summary["by_level"].get(level, 0) == sum(w["level"] == level for w in full)
    cells = summary["value_tier_x_level"]
    assert sum(c["warnings"] for c in cells) == len(full)
    high_red = sum(w["value_tier"] == "high" and w["level"] == "red" for w in full)
    assert (
        sum(c["warnings"] for c in cells if c["value_tier"] == "high" and c["level"] == "red")
        == high_red
    )
    agent = make_user("agent", queues=("outbound_red",))
    mine = client.get("/api/v1/warnings/summary", headers=agent).json()
    assert mine["by_queue"] == {"outbound_red": sum(q == "outbound_red" for q in queue_of.values())}
