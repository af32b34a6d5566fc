"""Win-back: candidates and segments, planning with the retention optimiser and a control,
returns detected from the data after the simulated world moves on, KPIs vs hand computation."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
import sqlalchemy as sa

from churnguard.config import Settings, load_settings
from churnguard.errors import InputError, NotFoundError
from churnguard.retention.catalog import OfferCatalog, load_catalog
from churnguard.retention.kpi import campaign_kpis, newcombe_interval
from churnguard.retention.outcomes import resolve_outcomes
from churnguard.retention.store import CampaignMember
from churnguard.retention.winback import plan_winback, value_tiers
from churnguard.warehouse.operational import session_scope
from tests.support.operator import LAST

_M = cast(sa.Table, CampaignMember.__table__)
WB_RUN = date(2024, 12, 1)


def call_lists(ws: Path) -> None:
    """No gateways in tests: every channel's contacts go to the call-centre list."""
    cfg = ws / "churnguard.toml"
    extra = "".join(
        f'\n[retention.delivery.{ch}]\nkind = "call_list"\n'
        for ch in ("sms", "wechat", "app_push", "email", "phone")
    )
    cfg.write_text(cfg.read_text(encoding="utf-8") + extra, encoding="utf-8")


def copy_operator(warned_ws: Path, dst: Path) -> tuple[Settings, Path]:
    """A writable copy of the shared workspace and its simulated world."""
    shutil.copytree(warned_ws, dst / "ws")
    shutil.copytree(warned_ws.parent / "sim", dst / "sim")
    call_lists(dst / "ws")
    return load_settings(dst / "ws"), dst / "sim"


def members(settings: Settings, campaign_id: int) -> pd.DataFrame:
    with session_scope(settings) as s:
        rows = s.execute(sa.select(_M).where(_M.c.campaign_id == campaign_id)).mappings().all()
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def loop(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Plan and send a win-back campaign, let the world live a month, ingest, resolve."""
    from churnguard.ingest import ingest
    from churnguard.retention.outbox import send_campaign
    from churnguard.simulate import step

    settings, sim = copy_operator(warned_ws, tmp_path_factory.mktemp("winback"))
    plan = plan_winback(settings, as_of=LAST, budget=4000, holdout=0.3, run_date=WB_RUN)
    cid = plan.plan.campaign_id
    waiting = resolve_outcomes(settings, campaign_id=cid).waiting
    send_campaign(settings, cid)
    m = members(settings, cid)
    sent = m[(m["arm"] == "treatment") & (m["contact_status"] == "sent")]
    wb = sent[["subscriber_id", "offer"]].rename(columns={"offer": "offer_type"})
    summary = step(sim, treatments=None, winback=wb, out=sim.parent / "step-1")
    ingest(sim.parent / "step-1", settings=settings)
    report = resolve_outcomes(settings)
    return {
        "settings": settings,
        "sim": sim,
        "plan": plan,
        "cid": cid,
        "waiting": waiting,
        "summary": summary,
        "report": report,
        "members": members(settings, cid),
    }


def test_candidates_are_recent_churners_segmented_and_reachable(loop: dict[str, Any]) -> None:
    settings, plan = loop["settings"], loop["plan"]
    subs = pd.read_parquet(loop["sim"] / "subscribers.parquet")
    m = loop["members"]
    d = plan.to_dict()
    assert d["purpose"] == "winback" and d["treated"] > 40 and d["control"] > 15
    assert d["expected_cost"] <= 4000 + 1e-6
    # every member churned in the last retention.winback_months months up to LAST
    first = pd.Timestamp(LAST) - pd.DateOffset(months=settings.retention.winback_months - 1)
    mine = subs.set_index("subscriber_id").loc[m["subscriber_id"]]
    assert (mine["status"] == "churned").all()
    assert (pd.to_datetime(mine["churn_date"]) >= first).all()
    assert (pd.to_datetime(mine["churn_date"]) < pd.Timestamp("2024-12-01")).all()
    assert not mine["marketing_opt_out"].any()
    assert d["excluded"]["opted_out"] > 0
    # reasons: ported-out customers are the competitor segment; passive churners only settle debt
    reason = m.set_index("subscriber_id")["top_category"]
    ported = mine.index[mine["churn_reason"] == "port_out"]
    assert (reason.loc[ported] == "competitor").all()
    passive = m[m["top_category"] == "passive"]
    assert len(passive) > 0 and set(passive["offer"]) == {"debt_settlement"}
    assert "debt_settlement" not in set(m.loc[m["top_category"] != "passive", "offer"])
    assert set(mine.loc[passive["subscriber_id"], "churn_reason"]) == {"arrears_disconnect"}
    seg = pd.DataFrame(d["segments"])
    assert {"competitor", "price", "passive"} <= set(seg["reason"])
    assert seg["customers"].sum() == d["candidates"] + sum(d["excluded"].values())
    assert seg.loc[seg["opted_out"], "customers"].sum() >= d["excluded"]["opted_out"]
    # the control is a random share of every stratum (reason × value tier)
    share = m.groupby("stratum")["arm"].apply(lambda a: (a == "control").mean())
    big = m.groupby("stratum").size() >= 20
    assert share[big].between(0.15, 0.45).all()
    assert (m.loc[m["arm"] == "control", "contact_status"] == "none").all()


def test_resolution_waits_for_the_observation_month(loop: dict[str, Any]) -> None:
    assert "2024-12" in loop["waiting"][loop["cid"]]


def test_returns_are_detected_from_the_data_and_match_the_truth(loop: dict[str, Any]) -> None:
    m, sim = loop["members"], loop["sim"]
    counts = loop["report"].resolved[loop["cid"]]
    assert counts["returned"] + counts["not_returned"] == len(m)
    truth = pd.read_parquet(sim / "truth" / "winback_returned.parquet")
    back_truth = set(truth["subscriber_id"]) & set(m["subscriber_id"])
    back_seen = set(m.loc[m["outcome"] == "returned", "subscriber_id"])
    assert back_seen == back_truth and len(back_seen) >= 3
    assert (m.loc[m["outcome"] == "returned", "outcome_month"] == date(2024, 12, 1)).all()
    # the same person (ID number) or number, on a new subscription
    new = pd.read_parquet(sim.parent / "step-1" / "subscribers.parquet").set_index("subscriber_id")
    old = pd.read_parquet(sim / "subscribers.parquet").set_index("subscriber_id")
    t = truth[truth["subscriber_id"].isin(back_seen)]
    assert (
        new.loc[t["new_subscriber_id"], "id_number"].to_numpy()
        == old.loc[t["subscriber_id"], "id_number"].to_numpy()
    ).all()
    ported = t[old.loc[t["subscriber_id"], "churn_reason"].to_numpy() == "port_out"]
    assert (
        new.loc[ported["new_subscriber_id"], "msisdn"].to_numpy()
        == old.loc[ported["subscriber_id"], "msisdn"].to_numpy()
    ).all()
    assert sum(v for k, v in counts.items() if k.startswith("matched_by_")) == counts["returned"]


def test_kpis_match_a_hand_computation(loop: dict[str, Any]) -> None:
    k = campaign_kpis(loop["settings"], campaign_id=loop["cid"])[0]
    m = loop["members"]
    t, c = m[m["arm"] == "treatment"], m[m["arm"] == "control"]
    tb, cb = int((t["outcome"] == "returned").sum()), int((c["outcome"] == "returned").sum())
    assert (k["returned_treated"], k["returned_control"]) == (tb, cb)
    assert k["winback_rate_treated"] == pytest.approx(tb / len(t))
    d, lo, hi = newcombe_interval(tb, len(t), cb, len(c))
    assert k["incremental_winback"] == pytest.approx(d)
    assert k["incremental_ci95"] == pytest.approx([lo, hi])
    cost = float(t["cost"].sum())
    assert k["cost"] == pytest.approx(cost)
    assert k["cost_per_returned"] == pytest.approx(cost / tb)
    assert k["value_regained"] == pytest.approx(
        float(t.loc[t["outcome"] == "returned", "clv"].sum())
    )
    assert k["incremental_value"] == pytest.approx(d * float(t["clv"].sum()))
    # the offers work in the simulated world: treated customers came back more often
    s = loop["summary"]
    assert s.winback_treated == len(t) and s.returned_incremental > 0
    assert k["winback_rate_treated"] > k["winback_rate_control"]


def test_contact_policy_is_shared_and_returned_customers_are_not_candidates_again(
    loop: dict[str, Any],
) -> None:
    settings = loop["settings"]
    again = plan_winback(settings, as_of="2024-12", budget=4000, holdout=0.3, run_date=WB_RUN)
    d = again.to_dict()
    # everyone of the first campaign who has not come back is still within the contact gap
    first = loop["members"]
    assert d["excluded"]["contacted_recently"] >= int((first["outcome"] != "returned").sum()) * 0.9
    m2 = members(settings, again.plan.campaign_id)
    assert not set(m2["subscriber_id"]) & set(loop["members"]["subscriber_id"])
    assert d["excluded"]["returned_already"] >= loop["report"].resolved[loop["cid"]]["returned"]


def test_bad_input_is_refused(loop: dict[str, Any], tmp_path: Path) -> None:
    settings = loop["settings"]
    with pytest.raises(InputError, match="budget"):
        plan_winback(settings, as_of=LAST, budget=0, run_date=WB_RUN)
    with pytest.raises(InputError, match="holdout"):
        plan_winback(settings, as_of=LAST, budget=100, holdout=1.0, run_date=WB_RUN)
    catalog = load_catalog()
    retention_only = OfferCatalog(
        channels=catalog.channels,
        offers=tuple(o for o in catalog.offers if o.purpose == "retention"),
    )
    with pytest.raises(InputError, match="win-back offers"):
        plan_winback(settings, as_of=LAST, budget=100, run_date=WB_RUN, catalog=retention_only)
    with pytest.raises(NotFoundError, match="nobody churned"):
        plan_winback(settings, as_of="2020-01", budget=100, run_date=WB_RUN)


def test_value_tiers_follow_revenue_shares() -> None:
    r = pd.Series([100.0, 50.0, 30.0, 10.0, 10.0], index=list("abcde"))
    tiers = value_tiers(r, high_share=0.5, medium_share=0.8)
    # a: first 0 % before it → high; b: 50 % before → medium; c: 75 % → medium; d, e low
    assert tiers.to_dict() == {"a": "high", "b": "medium", "c": "medium", "d": "low", "e": "low"}
    assert value_tiers(pd.Series([], dtype=float), high_share=0.5, medium_share=0.8).empty
