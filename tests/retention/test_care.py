"""Care programs and team performance on the shared simulated operator: audiences by
trigger, holdouts, the shared contact policy, outcomes vs holdout, team KPI table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
import sqlalchemy as sa

from churnguard.config import Settings
from churnguard.errors import ConfigError, InputError, NotFoundError
from churnguard.retention.care import load_programs, run_program
from churnguard.retention.kpi import campaign_kpis, newcombe_interval, warning_accuracy
from churnguard.retention.outbox import send_campaign
from churnguard.retention.outcomes import record_result, resolve_outcomes
from churnguard.retention.planning import plan_campaign
from churnguard.retention.store import OutboxMessage
from churnguard.retention.team_kpi import team_kpi_rows, team_kpis
from churnguard.warehouse.analytical import connect
from churnguard.warehouse.analytical import raw as raw_duckdb
from churnguard.warehouse.operational import session_scope
from tests.retention.test_winback import copy_operator, members
from tests.support.operator import AS_OF, RUN

_O = cast(sa.Table, OutboxMessage.__table__)


def _warehouse(settings: Settings, sql: str) -> pd.DataFrame:
    backend = connect(settings, read_only=True)
    try:
        return raw_duckdb(backend).execute(sql).df()
    finally:
        backend.disconnect()


@pytest.fixture(scope="module")
def ops(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A retention campaign worked by two agents, then care programs the same day."""
    settings, _sim = copy_operator(warned_ws, tmp_path_factory.mktemp("care"))
    plan = plan_campaign(settings, as_of=AS_OF, budget=2500, holdout=0.2, run_date=RUN)
    send_campaign(settings, plan.campaign_id)
    ret = members(settings, plan.campaign_id)
    treated = ret[ret["arm"] == "treatment"].sort_values("subscriber_id")
    for i, sid in enumerate(treated["subscriber_id"].head(40)):
        record_result(
            settings,
            campaign_id=plan.campaign_id,
            subscriber_id=sid,
            result="accepted" if i % 3 else "declined",
            agent="a1" if i % 2 else "a2",
            # the calls were made in the campaign's first days (the call list went out then)
            at=datetime(2024, 10, 2 + i % 6, 15, tzinfo=UTC),
        )
    renewal = run_program(settings, "renewal_reminder", as_of=AS_OF, run_date=RUN)
    detractor = run_program(settings, "detractor_followup", as_of=AS_OF, run_date=RUN)
    resolved = resolve_outcomes(settings)
    return {
        "settings": settings,
        "retention": plan.campaign_id,
        "renewal": renewal,
        "detractor": detractor,
        "resolved": resolved,
    }


def test_renewal_audience_holdout_and_shared_contact_policy(ops: dict[str, Any]) -> None:
    settings, run = ops["settings"], ops["renewal"]
    m = members(settings, run.plan.campaign_id)
    subs = _warehouse(
        settings,
        "SELECT subscriber_id, contract_end_date, marketing_opt_out, status FROM subscribers",
    )
    end = pd.to_datetime(subs["contract_end_date"]).dt.date
    due = subs[(end >= RUN) & (end <= RUN + timedelta(days=60)) & (subs["status"] != "churned")]
    assert run.audience == len(due) > 20
    assert set(m["subscriber_id"]) <= set(due["subscriber_id"])
    assert len(m) + sum(run.excluded.values()) == run.audience
    opted = set(subs.loc[subs["marketing_opt_out"].fillna(False), "subscriber_id"])
    assert not set(m["subscriber_id"]) & opted and run.excluded["opted_out"] > 0
    # the retention campaign planned the same day keeps its customers out of care
    ret = members(settings, ops["retention"])
    overlap = set(due["subscriber_id"]) & set(ret["subscriber_id"])
    assert run.excluded["contacted_recently"] == len(overlap) > 0
    assert not set(m["subscriber_id"]) & set(ret["subscriber_id"])
    # holdout: the program's share, never contacted; one outbox row per treated customer
    assert (m["arm"] == "control").mean() == pytest.approx(0.3, abs=0.08)
    assert set(m["offer"]) == {"renewal_bonus"} and set(m["channel"]) == {"sms"}
    with session_scope(settings) as s:
        out = pd.DataFrame(
            s.execute(sa.select(_O.c.member_id).where(_O.c.campaign_id == run.plan.campaign_id))
        )
    assert len(out) == int((m["arm"] == "treatment").sum())
    assert set(out["member_id"]) == set(m.loc[m["arm"] == "treatment", "id"])


def test_detractors_are_followed_up_within_the_days(ops: dict[str, Any]) -> None:
    settings, run = ops["settings"], ops["detractor"]
    m = members(settings, run.plan.campaign_id)
    surveys = _warehouse(
        settings,
        "SELECT subscriber_id, CAST(surveyed_at AS DATE) AS day, nps, csat FROM surveys "
        "WHERE surveyed_at >= DATE '2024-09-01' AND surveyed_at < DATE '2024-10-01' "
        "AND (nps <= 6 OR csat <= 2)",
    )
    assert 0 < run.audience <= surveys["subscriber_id"].nunique()
    assert set(m["subscriber_id"]) <= set(surveys["subscriber_id"])
    last = pd.to_datetime(surveys.groupby("subscriber_id")["day"].max()).dt.date
    expected = last.loc[m["subscriber_id"]].map(lambda d: max(d + timedelta(days=7), RUN))
    assert (m["deadline"].to_numpy() == expected.to_numpy()).all()
    assert "opted_out" not in run.excluded  # a service follow-up, not marketing


def test_care_outcomes_are_measured_against_the_holdout(ops: dict[str, Any]) -> None:
    settings, run = ops["settings"], ops["renewal"]
    cid = run.plan.campaign_id
    assert cid in ops["resolved"].resolved
    k = campaign_kpis(settings, campaign_id=cid)[0]
    m = members(settings, cid)
    t, c = m[m["arm"] == "treatment"], m[m["arm"] == "control"]
    kt, kc = int((t["outcome"] == "retained").sum()), int((c["outcome"] == "retained").sum())
    d, lo, hi = newcombe_interval(kt, len(t), kc, len(c))
    assert k["purpose"] == "care" and k["incremental_retention"] == pytest.approx(d)
    assert k["incremental_ci95"] == pytest.approx([lo, hi])


def test_team_kpis_match_hand_computation(ops: dict[str, Any]) -> None:
    settings = ops["settings"]
    from churnguard.warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    with session_scope(settings) as s:
        warns = pd.DataFrame(s.execute(sa.select(w)).mappings().all())
    ret = members(settings, ops["retention"])
    # care campaigns are planned but not sent here: the retention contacts work the warnings
    contacts = ret[(ret["arm"] == "treatment") & ret["contacted_at"].notna()]
    stamps = pd.concat(
        [
            pd.to_datetime(contacts["contacted_at"], utc=True),
            pd.to_datetime(contacts["result_at"], utc=True),
        ],
        axis=1,
    )
    day = stamps.min(axis=1).dt.date
    first = pd.Series(day.to_numpy(), index=contacts["subscriber_id"]).groupby(level=0).min()
    cday = warns["subscriber_id"].map(first)
    worked = cday.notna() & (cday >= warns["raised_on"])
    in_time = worked & (cday <= warns["deadline"])
    by_queue = team_kpis(settings, by="queue").set_index("queue")
    assert by_queue["warnings"].to_dict() == warns.groupby("queue").size().to_dict()
    assert (
        by_queue["worked_within_deadline"].to_dict()
        == in_time.groupby(warns["queue"]).sum().to_dict()
    )
    assert by_queue["worked_within_deadline"].sum() > 0
    # teams: queues mapped by retention.teams
    by_team = team_kpis(settings, by="team").set_index("team")
    teams = settings.retention.teams
    expect = warns["queue"].map(lambda q: teams.get(q, q)).value_counts().to_dict()
    assert by_team["warnings"].to_dict() == expect
    # agents: their treated members, against the control of the same campaigns and queues
    by_agent = team_kpis(settings, by="agent").set_index("agent")
    assert set(by_agent.index) == {"a1", "a2"}
    for agent in ("a1", "a2"):
        mine = ret[(ret["agent"] == agent)]
        ctrl = ret[(ret["arm"] == "control") & ret["queue"].isin(set(mine["queue"]))]
        st = int((mine["outcome"] == "retained").sum())
        sc = int((ctrl["outcome"] == "retained").sum())
        d, lo, hi = newcombe_interval(st, len(mine), sc, len(ctrl))
        assert by_agent.loc[agent, "retention_contacts"] == len(mine)
        assert by_agent.loc[agent, "incremental_retention"] == pytest.approx(d)
        assert by_agent.loc[agent, "incremental_retention_ci95"] == pytest.approx([lo, hi])
    # regions: warning accuracy over the same labelled months as kpi.warning_accuracy
    by_region = team_kpis(settings, by="region", months=2)
    acc = warning_accuracy(settings, months=2)
    assert by_region["churners"].sum() == sum(a["churners"] for a in acc)
    assert by_region["warned_churners"].sum() == sum(a["warned_churners"] for a in acc)
    rows = team_kpi_rows(settings, by="region", months=2)
    assert all(r["warning_accuracy"] is None or 0 <= r["warning_accuracy"] <= 1 for r in rows)


def test_bad_programs_and_input_are_refused(ops: dict[str, Any], tmp_path: Path) -> None:
    settings = ops["settings"]
    assert [p.code for p in load_programs(settings).programs] == [
        "onboarding",
        "renewal_reminder",
        "holiday_loyalty",
        "detractor_followup",
    ]
    with pytest.raises(NotFoundError, match="renewal_reminder"):
        run_program(settings, "nope", as_of=AS_OF, run_date=RUN)
    with pytest.raises(InputError, match="calendar months"):
        run_program(settings, "holiday_loyalty", as_of=AS_OF, run_date=date(2024, 11, 5))
    with pytest.raises(InputError, match="team"):
        team_kpis(settings, by="planet")
    bad = tmp_path / "care.yaml"
    bad.write_text(
        "programs:\n  - {code: x1, name_en: X, name_zh: 关怀, offer: free_beer, channel: sms,"
        " trigger: {kind: onboarding, months: 3}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="free_beer"):
        load_programs(settings, path=bad)
    bad.write_text(
        "programs:\n  - {code: x1, name_en: X, name_zh: 关怀, offer: care_greeting,"
        " channel: sms, trigger: {kind: holiday}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="holiday needs months"):
        load_programs(settings, path=bad)
