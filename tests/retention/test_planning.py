"""Campaign planning, control groups, results, outcomes and KPIs on a small simulated operator."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from churnguard.config import Settings, load_settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.retention.kpi import campaign_kpis, kpi_report, newcombe_interval, wilson_interval
from churnguard.retention.outcomes import record_result, resolve_outcomes
from churnguard.retention.planning import add_test_cells, draw_holdout, plan_campaign
from churnguard.retention.store import Campaign, CampaignMember, OutboxMessage
from churnguard.warehouse.operational import session_scope
from tests.conftest import CLI

# labels of AS_OF (2024-09) are known with data through LAST (2024-11)
from tests.support.operator import AS_OF, LAST, RUN

_M = cast(sa.Table, CampaignMember.__table__)
_O = cast(sa.Table, OutboxMessage.__table__)
_C = cast(sa.Table, Campaign.__table__)


@pytest.fixture(scope="module")
def warned(warned_ws: Path) -> Path:
    """A workspace with a champion model and the warnings of AS_OF (the session's shared
    simulated operator; every test works on a copy)."""
    return warned_ws


def _copy(ws: Path, tmp_path: Path) -> Settings:
    import shutil

    dst = tmp_path / "ws"
    shutil.copytree(ws, dst)
    return load_settings(dst)


def _members(settings: Settings, campaign_id: int) -> pd.DataFrame:
    with session_scope(settings) as s:
        rows = s.execute(sa.select(_M).where(_M.c.campaign_id == campaign_id)).mappings().all()
    return pd.DataFrame(rows)


def test_plan_holds_out_a_stratified_control_and_respects_budget(
    warned: Path, tmp_path: Path
) -> None:
    settings = _copy(warned, tmp_path)
    plan = plan_campaign(settings, as_of=AS_OF, budget=2000, holdout=0.2, run_date=RUN, explore=0.6)
    m = _members(settings, plan.campaign_id)
    assert len(m) == plan.treated + plan.control and plan.treated > 50
    assert 0 < plan.explored < len(m)
    assert plan.expected_cost <= 2000 + 1e-6
    assert m.loc[m["arm"] == "treatment", "expected_cost"].sum() == pytest.approx(
        plan.expected_cost
    )
    # every stratum keeps about 20 % as control (rounded per stratum)
    for _, part in m.groupby("stratum"):
        n_control = int((part["arm"] == "control").sum())
        assert abs(n_control - 0.2 * len(part)) < 1 + 1e-9
    # controls are never contacted; treated customers wait in the outbox, once each
    assert set(m.loc[m["arm"] == "control", "contact_status"]) == {"none"}
    with session_scope(settings) as s:
        out = pd.DataFrame(
            s.execute(sa.select(_O).where(_O.c.campaign_id == plan.campaign_id)).mappings().all()
        )
    treated_ids = set(m.loc[m["arm"] == "treatment", "id"])
    assert set(out["member_id"]) == treated_ids
    assert out["idempotency_key"].is_unique
    assert (
        out["idempotency_key"] == "cg-" + str(plan.campaign_id) + "-" + out["member_id"].astype(str)
    ).all()
    # no passive churner and no opted-out customer is a target
    assert plan.excluded["passive_churn"] > 0
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    opted = {
        r[0]
        for r in con.execute(
            "SELECT subscriber_id FROM subscribers WHERE marketing_opt_out"
        ).fetchall()
    }
    con.close()
    assert not (set(m["subscriber_id"]) & opted)
    # contact policy: planning again right away leaves out everyone already in a campaign
    again = plan_campaign(settings, as_of=AS_OF, budget=2000, holdout=0.2, run_date=RUN)
    assert again.excluded["contacted_recently"] == len(m)
    m2 = _members(settings, again.campaign_id)
    assert len(m2) == again.treated + again.control
    if len(m2):
        assert not (set(m2["subscriber_id"]) & set(m["subscriber_id"]))


def test_plan_rejects_bad_input(warned: Path, tmp_path: Path) -> None:
    settings = _copy(warned, tmp_path)
    with pytest.raises(InputError, match="budget"):
        plan_campaign(settings, as_of=AS_OF, budget=0)
    with pytest.raises(InputError, match="holdout"):
        plan_campaign(settings, as_of=AS_OF, budget=100, holdout=1.5)
    with pytest.raises(NotFoundError, match="churnguard warn"):
        plan_campaign(settings, as_of=date(2024, 3, 1), budget=100)


def test_draw_holdout_is_stratified_and_seeded() -> None:
    rng = np.random.default_rng(0)
    chosen = pd.DataFrame(
        {
            "level": rng.choice(["red", "orange", "yellow"], 5000),
            "value_tier": rng.choice(["high", "medium", "low"], 5000),
        }
    )
    a = draw_holdout(chosen, share=0.1, seed=1)
    b = draw_holdout(chosen, share=0.1, seed=1)
    c = draw_holdout(chosen, share=0.1, seed=2)
    assert (a == b).all() and not (a == c).all()
    for _, idx in chosen.groupby(["level", "value_tier"]).groups.items():
        n = len(idx)
        assert abs(a[chosen.index.get_indexer(idx)].sum() - 0.1 * n) < 1
    assert not draw_holdout(chosen, share=0.0, seed=1).any()


def test_cells_are_random_leftovers_within_budget_and_capacity() -> None:
    actions = pd.DataFrame(
        {
            "subscriber_id": np.repeat([f"S{i}" for i in range(400)], 3),
            "offer": np.tile(["a", "b", "c"], 400),
            "channel": np.tile(["sms", "sms", "phone"], 400),
            "cost": np.tile([1.0, 2.0, 5.0], 400),
            "value": np.tile([3.0, -1.0, -0.5], 400),
        }
    )
    chosen = actions[(actions["offer"] == "a")].head(100).reset_index(drop=True)
    out = add_test_cells(
        chosen, actions, share=0.5, budget_left=400.0, capacity_left={"phone": 20}, seed=3
    )
    cells = out[out["explored"]]
    assert out["subscriber_id"].is_unique
    assert not cells["subscriber_id"].isin(chosen["subscriber_id"]).any()
    assert cells["cost"].sum() <= 400.0 and (cells["channel"] == "phone").sum() <= 20
    assert set(cells["offer"]) == {"a", "b", "c"}  # random, not only the best offer
    assert 60 < len(cells) <= 150
    none = add_test_cells(chosen, actions, share=0.5, budget_left=0.0, capacity_left={}, seed=3)
    assert not none["explored"].any()


def test_results_outcomes_and_kpis(warned: Path, tmp_path: Path) -> None:
    settings = _copy(warned, tmp_path)
    plan = plan_campaign(settings, as_of=AS_OF, budget=2000, holdout=0.3, run_date=RUN, explore=0.6)
    m = _members(settings, plan.campaign_id)
    t = m[m["arm"] == "treatment"]
    c = m[m["arm"] == "control"]
    sid = str(t["subscriber_id"].iloc[0])
    # nothing sent or recorded yet: every cost is empty, nothing is charged (and no warning)
    fresh = campaign_kpis(settings, campaign_id=plan.campaign_id)[0]
    assert fresh["cost"] == 0 and fresh["contacted"] == 0
    got = record_result(
        settings, campaign_id=plan.campaign_id, subscriber_id=sid, result="accepted", agent="a1"
    )
    assert got["cost"] > 0
    with pytest.raises(InputError, match="unknown result"):
        record_result(settings, campaign_id=plan.campaign_id, subscriber_id=sid, result="maybe")
    with pytest.raises(StateError, match="control"):
        record_result(
            settings,
            campaign_id=plan.campaign_id,
            subscriber_id=str(c["subscriber_id"].iloc[0]),
            result="reached",
        )
    with pytest.raises(NotFoundError, match="not in campaign"):
        record_result(
            settings, campaign_id=plan.campaign_id, subscriber_id="S99999999", result="reached"
        )
    with pytest.raises(NotFoundError, match="no campaign"):
        record_result(settings, campaign_id=999, subscriber_id=sid, result="reached")

    from churnguard.warnings.run import raise_warnings

    raise_warnings(settings, as_of=LAST, run_date=date(2024, 12, 2), push=False)
    late = plan_campaign(settings, as_of=LAST, budget=500, holdout=0.2, run_date=date(2024, 12, 2))
    report = resolve_outcomes(settings)
    assert plan.campaign_id in report.resolved and late.campaign_id in report.waiting
    m = _members(settings, plan.campaign_id)
    assert m["outcome"].notna().all()
    # outcomes agree with the labels the model learns
    from churnguard.features import build_labels

    lab = build_labels(settings, as_of=AS_OF).set_index("subscriber_id")
    vol = m["subscriber_id"].map(lab["label_voluntary"]) == 1
    assert ((m["outcome"] == "churned_voluntary") == vol).all()
    assert vol.sum() > 0

    kpis = campaign_kpis(settings, campaign_id=plan.campaign_id)[0]
    tr = m[m["arm"] == "treatment"]
    co = m[m["arm"] == "control"]
    kept_t = int((tr["outcome"] == "retained").sum())
    kept_c = int((co["outcome"] == "retained").sum())
    d, lo, hi = newcombe_interval(kept_t, len(tr), kept_c, len(co))
    assert kpis["incremental_retention"] == pytest.approx(d)
    assert kpis["incremental_ci95"] == pytest.approx([lo, hi])
    assert kpis["retention_rate_treated"] == pytest.approx(kept_t / len(tr))
    assert kpis["acceptance_rate"] == pytest.approx(1.0)  # the one answered contact accepted
    assert kpis["cost"] > 0

    full = kpi_report(settings)
    acc = {r["as_of"]: r for r in full["warning_accuracy"]}
    assert "2024-09" in acc and 0 < acc["2024-09"]["accuracy"] <= 1
    assert any(r["by"] == "service_type" for r in full["churn_rates"])


def test_newcombe_and_wilson_match_published_values() -> None:
    # Newcombe (1998), example (a): 56/70 vs 48/80 -> 0.2000 (0.0524, 0.3339)
    d, lo, hi = newcombe_interval(56, 70, 48, 80)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)
    assert tuple(round(x, 4) for x in wilson_interval(0, 10)) == (0.0, 0.2775)
    assert np.isnan(newcombe_interval(1, 0, 1, 2)[0])


def test_cli_plan_show_kpi(warned: Path, tmp_path: Path) -> None:
    settings = _copy(warned, tmp_path)
    ws = str(settings.workspace)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args, "--workspace", ws],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    out = run(
        "campaign",
        "plan",
        "--as-of",
        "2024-09",
        "--budget",
        "1500",
        "--run-date",
        "2024-10-01",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["treated"] > 0 and plan["expected_cost"] <= 1500
    shown = json.loads(run("campaign", "show", str(plan["campaign_id"]), "--json").stdout)
    assert shown["delivery"] == {"pending": plan["treated"]}
    listed = json.loads(run("campaign", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [plan["campaign_id"]]
    bad = run("campaign", "show", "77")
    assert bad.returncode == 1 and "no campaign 77" in bad.stderr
    kpi = json.loads(run("kpi", "--campaign", str(plan["campaign_id"]), "--json").stdout)
    assert kpi["campaigns"][0]["treated"] == plan["treated"]
