"""The campaign outbox: delivery, retries, failures, quiet hours, opt-outs, and a kill mid-run."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from churnguard.config import ChannelDelivery, Settings, load_settings
from churnguard.errors import ConfigError, InputError, NotFoundError, StateError
from churnguard.retention import outbox as outbox_module
from churnguard.retention.outbox import outbox_status, send_campaign
from churnguard.retention.store import Campaign, CampaignMember, OutboxMessage
from churnguard.warehouse.operational import session_scope
from churnguard.warnings.push import sign
from tests.conftest import CLI
from tests.support.servers import http_receiver, smtp_server

SECRET = "s3cret-for-tests"
CN = timezone(timedelta(hours=8))
DAYTIME = datetime(2026, 3, 2, 10, 0, tzinfo=CN)


# ---------------------------------------------------------------- fixture helpers


def sub_id(i: int) -> str:
    return f"S{i:05d}"


def msisdn(i: int) -> str:
    return f"138{i:08d}"


def email(i: int) -> str:
    return f"user{i}@example.cn"


def seed_warehouse(
    settings: Settings,
    n: int,
    *,
    opt_out: Sequence[int] = (),
    no_phone: Sequence[int] = (),
    no_email: Sequence[int] = (),
) -> None:
    """A warehouse ``subscribers`` table for subscribers 0..n-1 (phone, e-mail, opt-out)."""
    idx = range(n)
    frame = pd.DataFrame(
        {
            "subscriber_id": [sub_id(i) for i in idx],
            "msisdn": [None if i in no_phone else msisdn(i) for i in idx],
            "email": [None if i in no_email else email(i) for i in idx],
            "name": [f"张{i}" for i in idx],
            "marketing_opt_out": [i in opt_out for i in idx],
        }
    )
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    try:
        con.register("frame", frame)
        con.execute("CREATE OR REPLACE TABLE subscribers AS SELECT * FROM frame")
    finally:
        con.close()


def seed_campaign(
    settings: Settings,
    channels: Sequence[str],
    *,
    control: int = 0,
    status: str = "planned",
    offer: str = "data_gift",
) -> int:
    """A planned campaign as the planner writes it: treated members 0..k-1 (one per channel
    entry, with an outbox row keyed ``cg-<campaign>-<member>``), then ``control`` members."""
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with session_scope(settings) as s:
        camp = Campaign(
            purpose="retention",
            name="test",
            as_of=date(2026, 2, 1),
            planned_on=date(2026, 3, 1),
            budget=1000.0,
            holdout_share=0.1,
            status=status,
            effect_source="priors",
            objective=10.0,
            bound=10.0,
            expected_cost=5.0,
            treated=len(channels),
            control=control,
            observation_end=date(2026, 4, 1),
            created_by="test",
            created_at=now,
        )
        s.add(camp)
        s.flush()
        members = []
        for i, ch in enumerate(channels):
            members.append(
                CampaignMember(
                    campaign_id=camp.id,
                    subscriber_id=sub_id(i),
                    arm="treatment",
                    stratum="red|high",
                    churn_probability=0.5,
                    queue=f"q{i % 2}",
                    offer=offer,
                    channel=ch,
                    deadline=date(2026, 3, 8 + i % 3),
                    contact_status="pending",
                )
            )
        for j in range(control):
            members.append(
                CampaignMember(
                    campaign_id=camp.id,
                    subscriber_id=sub_id(len(channels) + j),
                    arm="control",
                    stratum="red|high",
                    churn_probability=0.5,
                    offer=offer,
                    channel=channels[0] if channels else "sms",
                    contact_status="none",
                )
            )
        s.add_all(members)
        s.flush()
        for m in members[: len(channels)]:
            s.add(
                OutboxMessage(
                    campaign_id=camp.id,
                    member_id=m.id,
                    channel=m.channel,
                    idempotency_key=f"cg-{camp.id}-{m.id}",
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
        return camp.id


def configure(settings: Settings, **delivery: ChannelDelivery | dict[str, Any]) -> Settings:
    """``settings`` with ``[retention.delivery]`` replaced by the given channels."""
    built = {
        k: v if isinstance(v, ChannelDelivery) else ChannelDelivery(**v)
        for k, v in delivery.items()
    }
    retention = settings.retention.model_copy(update={"delivery": built})
    return settings.model_copy(update={"retention": retention})


def webhook(url: str, **kw: Any) -> dict[str, Any]:
    return {"kind": "webhook", "url": url, "timeout_s": 5.0, "retries": 2, "backoff_s": 0.01, **kw}


def outbox(settings: Settings, campaign_id: int) -> pd.DataFrame:
    o, m = OutboxMessage, CampaignMember
    with session_scope(settings) as s:
        rows = s.execute(
            sa.select(
                o.id,
                o.member_id,
                o.channel,
                o.idempotency_key,
                o.status,
                o.attempts,
                o.last_error,
                o.not_before,
                o.delivered_at,
                m.subscriber_id,
                m.contact_status,
                m.contacted_at,
            )
            .join(m, m.id == o.member_id)
            .where(o.campaign_id == campaign_id)
            .order_by(o.id)
        ).all()
    return pd.DataFrame(rows, columns=[c for c in rows[0]._fields] if rows else None)


def campaign_status(settings: Settings, campaign_id: int) -> str:
    with session_scope(settings) as s:
        camp = s.get(Campaign, campaign_id)
        assert camp is not None
        return camp.status


def keys_of(requests: list[dict[str, Any]]) -> list[str]:
    return [r["headers"]["Idempotency-Key"] for r in requests]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CHURNGUARD_GATEWAY_SECRET", SECRET)
    return SECRET


def _naive_utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


# ---------------------------------------------------------------- delivery


def test_webhook_delivery_is_signed_keyed_and_marked(
    operational_settings: Settings, secret: str
) -> None:
    with http_receiver() as (url, got):
        settings = configure(operational_settings, sms=webhook(url), wechat=webhook(url + "/wx"))
        seed_warehouse(settings, 8)
        cid = seed_campaign(settings, ["sms", "wechat", "sms", "sms", "wechat"], control=3)
        report = send_campaign(settings, cid, now=DAYTIME, batch=2)

        assert (report.delivered, report.failed, report.deferred) == (5, 0, 0)
        assert report.by_channel == {"sms": {"delivered": 3}, "wechat": {"delivered": 2}}
        assert report.status == "sent" and report.pending == 0
        rows = outbox(settings, cid)
        assert keys_of(got.requests) == rows["idempotency_key"].tolist()  # id order
        for req in got.requests:
            h = req["headers"]
            assert h["X-Churnguard-Signature"] == sign(
                secret, h["X-Churnguard-Timestamp"], req["body"]
            )
        bodies = [json.loads(r["body"]) for r in got.requests]
        assert [b["to"] for b in bodies] == [msisdn(i) for i in range(5)]
        assert [b["channel"] for b in bodies] == ["sms", "wechat", "sms", "sms", "wechat"]
        assert [r["path"] for r in got.requests] == ["/", "/wx", "/", "/", "/wx"]
        first = bodies[0]
        assert first["idempotency_key"] == rows["idempotency_key"].iloc[0]
        assert first["offer"] == {
            "code": "data_gift",
            "name_zh": "赠送10GB流量",
            "name_en": "10 GB data gift",
        }
        assert first["deadline"] == "2026-03-08"
        assert "赠送10GB流量" in first["text_zh"] and "拒收请回复R" in first["text_zh"]
        assert "10 GB data gift" in first["text_en"] and "opt out" in first["text_en"]

        assert rows["status"].tolist() == ["delivered"] * 5
        assert rows["attempts"].tolist() == [1] * 5
        assert rows["contact_status"].tolist() == ["sent"] * 5
        assert {_naive_utc(t) for t in rows["contacted_at"]} == {_naive_utc(DAYTIME)}
        assert {_naive_utc(t) for t in rows["delivered_at"]} == {_naive_utc(DAYTIME)}
        with session_scope(settings) as s:
            control = s.scalars(
                sa.select(CampaignMember.contact_status).where(CampaignMember.arm == "control")
            ).all()
            launched = s.get(Campaign, cid).launched_at  # type: ignore[union-attr]
        assert control == ["none"] * 3
        assert launched is not None

        again = send_campaign(settings, cid, now=DAYTIME)
        assert (again.delivered, again.failed, again.status) == (0, 0, "sent")
        assert len(got.requests) == 5
        assert outbox_status(settings, cid) == {
            "campaign_id": cid,
            "status": "sent",
            "channels": {
                "sms": {"pending": 0, "delivered": 3, "failed": 0, "cancelled": 0},
                "wechat": {"pending": 0, "delivered": 2, "failed": 0, "cancelled": 0},
            },
            "total": {"pending": 0, "delivered": 5, "failed": 0, "cancelled": 0},
        }
        assert report.to_dict()["by_channel"]["sms"] == {"delivered": 3}
        json.dumps(report.to_dict())


def test_retries_on_503_with_backoff_then_succeeds(workspace: Settings, secret: str) -> None:
    waits: list[float] = []
    with http_receiver(lambda n, req: 503 if n <= 2 else 200) as (url, got):
        settings = configure(workspace, sms=webhook(url, retries=3, backoff_s=0.25))
        seed_warehouse(settings, 3)
        cid = seed_campaign(settings, ["sms", "sms"])
        report = send_campaign(settings, cid, now=DAYTIME, sleep=waits.append)
    assert report.delivered == 2
    assert waits == [0.25, 0.5]  # exponential backoff between the three attempts
    keys = keys_of(got.requests)
    assert len(keys) == 4 and keys[0] == keys[1] == keys[2]  # retried with the same key
    assert outbox(settings, cid)["attempts"].tolist() == [3, 1]


def test_permanent_failure_is_recorded_then_rerun_delivers(
    operational_settings: Settings, secret: str
) -> None:
    refuse = {"on": True}

    def respond(n: int, req: dict[str, Any]) -> int:
        return 400 if refuse["on"] and json.loads(req["body"])["member_id"] == 2 else 200

    with http_receiver(respond) as (url, got):
        settings = configure(operational_settings, sms=webhook(url))
        seed_warehouse(settings, 3)
        cid = seed_campaign(settings, ["sms", "sms", "sms"])
        first = send_campaign(settings, cid, now=DAYTIME)
        rows = outbox(settings, cid).set_index("member_id")
        assert (first.delivered, first.failed, first.status) == (2, 1, "sending")
        assert rows.loc[2, "status"] == "failed" and rows.loc[2, "contact_status"] == "failed"
        assert "HTTP 400" in rows.loc[2, "last_error"]
        assert (
            msisdn(1) not in rows.loc[2, "last_error"]
            and sub_id(1) not in rows.loc[2, "last_error"]
        )
        assert first.errors == [
            {
                "outbox_id": int(rows.loc[2, "id"]),
                "channel": "sms",
                "error": rows.loc[2, "last_error"],
            }
        ]
        assert outbox_status(settings, cid)["total"]["failed"] == 1

        refuse["on"] = False
        second = send_campaign(settings, cid, now=DAYTIME)
    rows = outbox(settings, cid).set_index("member_id")
    assert (second.delivered, second.failed, second.status) == (1, 0, "sent")
    assert rows["status"].tolist() == ["delivered"] * 3
    assert rows.loc[2, "attempts"] == 2 and pd.isna(rows.loc[2, "last_error"])
    assert rows.loc[2, "contact_status"] == "sent"
    assert Counter(keys_of(got.requests))[f"cg-{cid}-2"] == 2


def test_gateway_down_fails_after_all_retries(workspace: Settings, secret: str) -> None:
    with http_receiver() as (url, _):
        dead = url  # the port is closed once the receiver stops
    settings = configure(workspace, app_push=webhook(dead, retries=1, timeout_s=1.0))
    seed_warehouse(settings, 1)
    cid = seed_campaign(settings, ["app_push"])
    report = send_campaign(settings, cid, now=DAYTIME, sleep=lambda s: None)
    row = outbox(settings, cid).iloc[0]
    assert (report.failed, row["status"], row["attempts"]) == (1, "failed", 2)
    assert "unavailable after 2 attempts" in row["last_error"]
    assert "campaign send" in row["last_error"]


def test_missing_phone_fails_without_a_request(workspace: Settings, secret: str) -> None:
    with http_receiver() as (url, got):
        settings = configure(workspace, sms=webhook(url))
        seed_warehouse(settings, 2, no_phone=[0])
        cid = seed_campaign(settings, ["sms", "sms"])
        report = send_campaign(settings, cid, now=DAYTIME)
    rows = outbox(settings, cid)
    assert rows["status"].tolist() == ["failed", "delivered"]
    assert rows["attempts"].tolist() == [0, 1]
    assert "no phone number on file" in rows["last_error"].iloc[0]
    assert len(got.requests) == 1 and report.failed == 1


def test_quiet_hours_defer_messages_but_not_call_lists(
    operational_settings: Settings, secret: str
) -> None:
    with http_receiver() as (url, got):
        settings = configure(
            operational_settings,
            sms=webhook(url),
            phone={"kind": "call_list", "file_format": "csv"},
        )
        seed_warehouse(settings, 4)
        cid = seed_campaign(settings, ["sms", "phone", "sms", "phone"])
        late = datetime(2026, 3, 2, 22, 30, tzinfo=CN)  # quiet 21:00-08:00 by default
        report = send_campaign(settings, cid, now=late)
        resume = datetime(2026, 3, 3, 8, 0, tzinfo=CN)
        assert got.requests == []
        assert (report.delivered, report.deferred, report.status) == (2, 2, "sending")
        assert report.resume_at == resume
        assert report.by_channel == {"phone": {"delivered": 2}, "sms": {"deferred": 2}}
        rows = outbox(settings, cid).set_index("channel")
        assert {_naive_utc(t) for t in rows.loc["sms", "not_before"]} == {_naive_utc(resume)}
        assert rows.loc["sms", "status"].tolist() == ["pending"] * 2
        assert rows.loc["phone", "status"].tolist() == ["delivered"] * 2

        early = datetime(2026, 3, 3, 7, 59, tzinfo=CN)  # still quiet; same resume time
        assert send_campaign(settings, cid, now=early).deferred == 2
        # a sender whose clock is not in quiet hours still waits for not_before
        west = datetime(2026, 3, 2, 18, 30, tzinfo=timezone(timedelta(hours=-5)))  # 07:30 CN
        held = send_campaign(settings, cid, now=west)
        assert (held.delivered, held.deferred) == (0, 2) and got.requests == []

        morning = datetime(2026, 3, 3, 8, 5, tzinfo=CN)
        done = send_campaign(settings, cid, now=morning)
    assert (done.delivered, done.deferred, done.status) == (2, 0, "sent")
    assert len(got.requests) == 2


def test_opt_out_after_planning_cancels_the_contact(workspace: Settings, secret: str) -> None:
    with http_receiver() as (url, got):
        settings = configure(
            workspace, sms=webhook(url), phone={"kind": "call_list", "file_format": "csv"}
        )
        seed_warehouse(settings, 4, opt_out=[1, 3])
        cid = seed_campaign(settings, ["sms", "sms", "phone", "phone"])
        report = send_campaign(settings, cid, now=DAYTIME)
    rows = outbox(settings, cid)
    assert rows["status"].tolist() == ["delivered", "cancelled", "delivered", "cancelled"]
    assert rows["contact_status"].tolist() == ["sent", "cancelled", "sent", "cancelled"]
    assert (report.cancelled, report.delivered, report.status) == (2, 2, "sent")
    assert [json.loads(r["body"])["subscriber_id"] for r in got.requests] == [sub_id(0)]
    calls = pd.read_csv(report.call_lists[0], dtype=str, encoding="utf-8-sig")
    assert calls["subscriber_id"].tolist() == [sub_id(2)]


def test_email_over_smtp(operational_settings: Settings) -> None:
    with smtp_server() as (host, port, got):
        settings = configure(
            operational_settings,
            email={
                "kind": "smtp",
                "smtp_host": host,
                "smtp_port": port,
                "smtp_from": "retain@op.cn",
            },
        )
        seed_warehouse(settings, 3, no_email=[2])
        cid = seed_campaign(settings, ["email", "email", "email"], offer="price_discount")
        report = send_campaign(settings, cid, now=DAYTIME)
    rows = outbox(settings, cid)
    assert rows["status"].tolist() == ["delivered", "delivered", "failed"]
    assert "no e-mail address" in rows["last_error"].iloc[2]
    assert (report.delivered, report.failed) == (2, 1)
    assert [m["To"] for m in got.messages] == [email(0), email(1)]
    assert [m["Message-ID"] for m in got.messages] == [
        f"<{k}@op.cn>" for k in rows["idempotency_key"].iloc[:2]
    ]
    body = got.messages[0].get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert "6个月套餐8折优惠" in body and "20% discount for 6 months" in body
    assert "拒收请回复R" in body


# ---------------------------------------------------------------- errors


def test_unconfigured_channel_is_an_error_before_anything_is_sent(
    workspace: Settings, secret: str
) -> None:
    with http_receiver() as (url, got):
        settings = configure(workspace, sms=webhook(url), email={"kind": "smtp"})
        seed_warehouse(settings, 2)
        cid = seed_campaign(settings, ["sms", "email"])
        with pytest.raises(ConfigError, match=r"smtp_host .*\[retention\.delivery\.email\]"):
            send_campaign(settings, cid, now=DAYTIME)
        no_url = configure(
            workspace, sms={"kind": "webhook"}, email={"kind": "smtp", "smtp_host": "x"}
        )
        with pytest.raises(ConfigError, match=r"set url in \[retention\.delivery\.sms\]"):
            send_campaign(no_url, cid, now=DAYTIME)
        defaults = configure(workspace, sms=webhook(url))  # e-mail keeps its default: no host
        with pytest.raises(ConfigError, match=r"smtp_host .*\[retention\.delivery\.email\]"):
            send_campaign(defaults, cid, now=DAYTIME)
        fax = seed_campaign(settings, ["sms", "fax"])
        with pytest.raises(ConfigError, match=r"add \[retention\.delivery\.fax\]"):
            send_campaign(settings, fax, now=DAYTIME)
    assert got.requests == []
    assert outbox(settings, cid)["status"].tolist() == ["pending", "pending"]
    assert campaign_status(settings, cid) == "planned"


def test_unset_secret_is_an_error(workspace: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHURNGUARD_GATEWAY_SECRET", raising=False)
    settings = configure(workspace, sms=webhook("http://127.0.0.1:9/"))
    cid = seed_campaign(settings, ["sms"])
    with pytest.raises(ConfigError, match="CHURNGUARD_GATEWAY_SECRET"):
        send_campaign(settings, cid, now=DAYTIME)


def test_unknown_or_resolved_campaign(workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match="no campaign 99"):
        send_campaign(workspace, 99)
    with pytest.raises(NotFoundError, match="no campaign 99"):
        outbox_status(workspace, 99)
    cid = seed_campaign(workspace, ["sms"], status="resolved")
    with pytest.raises(StateError, match=f"campaign {cid} is resolved"):
        send_campaign(workspace, cid)
    with pytest.raises(InputError, match="batch"):
        send_campaign(workspace, cid, batch=0)


def test_no_warehouse_is_an_error(workspace: Settings, secret: str) -> None:
    settings = configure(workspace, sms=webhook("http://127.0.0.1:9/"))
    cid = seed_campaign(settings, ["sms"])
    with pytest.raises(NotFoundError, match="nothing has been ingested"):
        send_campaign(settings, cid, now=DAYTIME)
    assert outbox(settings, cid)["status"].tolist() == ["pending"]
    assert campaign_status(settings, cid) == "planned"


def test_a_second_sender_is_refused(workspace: Settings, secret: str) -> None:
    settings = configure(workspace, sms=webhook("http://127.0.0.1:9/"))
    seed_warehouse(settings, 1)
    cid = seed_campaign(settings, ["sms"])
    lock = settings.workspace / ".locks" / f"campaign-{cid}.send.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(StateError, match="being sent by another process"):
            send_campaign(settings, cid, now=DAYTIME)
    assert outbox(settings, cid)["status"].tolist() == ["pending"]


def test_a_sender_on_another_host_is_refused(
    fresh_postgres_url: str, tmp_path: Path, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = load_settings(
        tmp_path / "ws", create=True, overrides={"operational": {"url": fresh_postgres_url}}
    )
    settings = configure(base, sms=webhook("http://127.0.0.1:9/"))
    seed_warehouse(settings, 1)
    cid = seed_campaign(settings, ["sms"])
    monkeypatch.setattr(outbox_module, "_LOCK_WAIT_S", 0.3)
    other = sa.create_engine(fresh_postgres_url)
    try:
        with other.connect() as conn:  # another host's sender holds the advisory lock
            conn.execute(sa.text("SELECT pg_advisory_lock(:ns, :id)"), {"ns": 0x4347, "id": cid})
            with pytest.raises(StateError, match="being sent by another process"):
                send_campaign(settings, cid, now=DAYTIME)
    finally:
        other.dispose()
    assert outbox(settings, cid)["status"].tolist() == ["pending"]


def test_empty_campaign_is_sent_at_once(workspace: Settings) -> None:
    cid = seed_campaign(workspace, [], control=0)
    report = send_campaign(workspace, cid, now=DAYTIME)
    assert (report.status, report.delivered) == ("sent", 0)
    assert outbox_status(workspace, cid)["total"] == {
        "pending": 0,
        "delivered": 0,
        "failed": 0,
        "cancelled": 0,
    }


# ---------------------------------------------------------------- parallel workers


def test_parallel_workers_deliver_each_once(operational_settings: Settings, secret: str) -> None:
    with http_receiver() as (url, got), smtp_server() as (host, port, mail):
        settings = configure(
            operational_settings,
            sms=webhook(url),
            email={"kind": "smtp", "smtp_host": host, "smtp_port": port},
        )
        seed_warehouse(settings, 40)
        cid = seed_campaign(settings, ["sms", "sms", "email"] * 13 + ["sms"])
        report = send_campaign(settings, cid, now=DAYTIME, batch=16, workers=4)
    rows = outbox(settings, cid)
    assert (report.delivered, report.failed, report.status) == (40, 0, "sent")
    assert report.by_channel == {"sms": {"delivered": 27}, "email": {"delivered": 13}}
    sms_keys = rows.loc[rows["channel"] == "sms", "idempotency_key"]
    assert sorted(keys_of(got.requests)) == sorted(sms_keys)
    email_keys = rows.loc[rows["channel"] == "email", "idempotency_key"]
    assert sorted(m["X-Churnguard-Idempotency-Key"] for m in mail.messages) == sorted(email_keys)
    assert rows["status"].tolist() == ["delivered"] * 40
    with pytest.raises(InputError, match="workers"):
        send_campaign(settings, cid, workers=0)


# ---------------------------------------------------------------- kill mid-run


def _sender(workspace: Path, campaign_id: int, log: Path, workers: int) -> subprocess.Popen[bytes]:
    """The sender as its own process: the CLI command, or the library with parallel workers."""
    if workers == 1:
        cmd = [CLI, "campaign", "send", str(campaign_id), "--workspace", str(workspace), "--json"]
    else:
        code = (
            "from churnguard.config import load_settings\n"
            "from churnguard.retention.outbox import send_campaign\n"
            f"send_campaign(load_settings({str(workspace)!r}), {campaign_id}, batch=50, "
            f"workers={workers})\n"
        )
        cmd = [sys.executable, "-c", code]
    with open(log, "ab") as err:
        return subprocess.Popen(cmd, stdout=err, stderr=err)


def _kill_then_rerun(
    settings: Settings, log: Path, *, n: int, kill_at: Sequence[int], workers: int
) -> None:
    """Send ``n`` webhook contacts from a separate process, SIGKILL it once the receiver
    has seen each ``kill_at`` count of keys, rerun to completion, check exactly once."""
    channels = ["sms", "wechat", "app_push"]

    def slow(k: int, req: dict[str, Any]) -> int:
        time.sleep(0.005)
        return 200

    with http_receiver(slow) as (url, got):
        settings = configure(settings, **{c: webhook(url) for c in channels})
        # no quiet hours: the sender runs on the real clock
        quiet_off = settings.retention.model_copy(
            update={"quiet_start_hour": 0, "quiet_end_hour": 0}
        )
        settings = settings.model_copy(update={"retention": quiet_off})
        (settings.workspace / "churnguard.toml").write_text(settings.to_toml(), encoding="utf-8")
        seed_warehouse(settings, n + 20)
        cid = seed_campaign(settings, [channels[i % 3] for i in range(n)], control=20)

        for target in kill_at:
            proc = _sender(settings.workspace, cid, log, workers)
            deadline = time.monotonic() + 120
            while len(set(keys_of(got.requests))) < target:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the sender made no progress"
                time.sleep(0.002)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait() == -signal.SIGKILL
            mid = outbox_status(settings, cid)["total"]
            assert target - 1 - workers <= mid["delivered"] < n and mid["pending"] > 0
        assert campaign_status(settings, cid) == "sending"

        report = send_campaign(settings, cid, now=DAYTIME)
        keys = keys_of(got.requests)

    rows = outbox(settings, cid)
    assert report.status == "sent" and report.pending == 0 and report.failed == 0
    assert report.delivered + mid["delivered"] == n
    # every contact's key arrived; nothing else did
    assert set(keys) == set(rows["idempotency_key"]) and len(rows) == n
    # duplicates: at most the messages in flight at each kill, each the same message again
    dups = {k: c for k, c in Counter(keys).items() if c > 1}
    assert len(keys) - len(set(keys)) == sum(c - 1 for c in dups.values()) <= len(kill_at) * workers
    for key in dups:
        bodies = {r["body"] for r in got.requests if r["headers"]["Idempotency-Key"] == key}
        assert len(bodies) == 1
    # and each outbox row is delivered once in the database
    assert rows["status"].tolist() == ["delivered"] * n
    assert rows["contact_status"].tolist() == ["sent"] * n
    assert rows["delivered_at"].notna().all() and (rows["attempts"] >= 1).all()


def test_kill_mid_run_then_rerun_delivers_each_contact_once(
    operational_settings: Settings, secret: str, tmp_path: Path
) -> None:
    _kill_then_rerun(
        operational_settings, tmp_path / "sender.log", n=300, kill_at=(100, 200), workers=1
    )


def test_kill_with_parallel_workers_loses_and_repeats_nothing(
    workspace: Settings, secret: str, tmp_path: Path
) -> None:
    _kill_then_rerun(workspace, tmp_path / "sender.log", n=300, kill_at=(150,), workers=4)


def test_quiet_hours_follow_the_configured_time_zone(workspace: Settings, secret: str) -> None:
    with http_receiver() as (url, got):
        settings = configure(workspace, sms=webhook(url))
        retention = settings.retention.model_copy(update={"timezone": "Asia/Shanghai"})
        settings = settings.model_copy(update={"retention": retention})
        seed_warehouse(settings, 2)
        cid = seed_campaign(settings, ["sms", "sms"])
        # 14:30 UTC is 22:30 in Shanghai: quiet there, whatever the sender's clock says
        report = send_campaign(settings, cid, now=datetime(2026, 3, 2, 14, 30, tzinfo=UTC))
        assert (report.delivered, report.deferred) == (0, 2) and got.requests == []
        assert report.resume_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
        # 00:30 UTC is 08:30 in Shanghai: delivered
        later = send_campaign(settings, cid, now=datetime(2026, 3, 3, 0, 30, tzinfo=UTC))
        assert later.delivered == 2


def test_unknown_time_zone_is_a_clear_error(tmp_path: Path) -> None:
    from churnguard.errors import ConfigError as _ConfigError

    ws = tmp_path / "tz"
    ws.mkdir()
    (ws / "churnguard.toml").write_text(
        '[retention]\ntimezone = "Mars/Olympus"\n', encoding="utf-8"
    )
    with pytest.raises(_ConfigError, match="IANA"):
        load_settings(ws)
