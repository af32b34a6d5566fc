"""Contact channels: webhook gateway, SMTP e-mail, call-centre list; contact details; config."""

from __future__ import annotations

import json
from email.header import decode_header, make_header
from typing import Any

import duckdb
import pandas as pd
import pytest

from churnguard.config import ChannelDelivery, PrivacySettings, Settings
from churnguard.errors import ConfigError, NotFoundError
from churnguard.retention.channels import (
    CONTACT_COLUMNS,
    CallListChannel,
    EmailChannel,
    WebhookChannel,
    call_list_path,
    contact_details,
    make_channel,
    offer_texts,
)
from churnguard.warnings.push import sign
from tests.retention.test_outbox import configure, email, msisdn, seed_warehouse, sub_id, webhook
from tests.support.servers import http_receiver, smtp_server


def contacts(n: int, *, channel: str = "sms", no_phone: tuple[int, ...] = ()) -> pd.DataFrame:
    """A contacts frame as the outbox hands it to a channel."""
    idx = range(n)
    return pd.DataFrame(
        {
            "outbox_id": [100 + i for i in idx],
            "idempotency_key": [f"cg-7-{10 + i}" for i in idx],
            "campaign_id": [7] * n,
            "member_id": [10 + i for i in idx],
            "subscriber_id": [sub_id(i) for i in idx],
            "channel": [channel] * n,
            "offer": ["data_gift"] * n,
            "offer_zh": ["赠送10GB流量"] * n,
            "offer_en": ["10 GB data gift"] * n,
            "deadline": [f"2026-03-{10 - i % 3:02d}" for i in idx],
            "queue": [f"q{(n - i) % 2}" for i in idx],
            "msisdn": [None if i in no_phone else msisdn(i) for i in idx],
            "email": [email(i) for i in idx],
        }
    )[list(CONTACT_COLUMNS)]


# ---------------------------------------------------------------- contact details


def test_contact_details_reads_only_the_asked_subscribers(workspace: Settings) -> None:
    seed_warehouse(workspace, 5, opt_out=[3], no_phone=[1])
    got = contact_details(workspace, [sub_id(3), sub_id(1), sub_id(0), "nobody"])
    got = got.sort_values("subscriber_id").reset_index(drop=True)
    assert got["subscriber_id"].tolist() == [sub_id(0), sub_id(1), sub_id(3)]
    assert got["msisdn"].tolist() == [msisdn(0), pd.NA, msisdn(3)]
    assert got["email"].tolist() == [email(0), email(1), email(3)]
    assert got["marketing_opt_out"].tolist() == [False, False, True]
    assert contact_details(workspace, []).empty


def test_contact_details_with_optional_columns_missing(workspace: Settings) -> None:
    con = duckdb.connect(str(workspace.warehouse_path))
    con.execute("CREATE TABLE subscribers AS SELECT 'A1' AS subscriber_id, '13900000001' AS msisdn")
    con.close()
    got = contact_details(workspace, ["A1"])
    assert got[["subscriber_id", "msisdn"]].values.tolist() == [["A1", "13900000001"]]
    assert got["email"].isna().tolist() == [True]
    assert got["marketing_opt_out"].tolist() == [False]


def test_contact_details_null_opt_out_and_numeric_ids(workspace: Settings) -> None:
    con = duckdb.connect(str(workspace.warehouse_path))
    con.execute(
        "CREATE TABLE subscribers AS SELECT * FROM (VALUES (1, '13900000001', NULL, NULL), "
        "(2, NULL, 'b@x.cn', TRUE)) t(subscriber_id, msisdn, email, marketing_opt_out)"
    )
    con.close()
    got = contact_details(workspace, ["2", "1"]).sort_values("subscriber_id")
    assert got["subscriber_id"].tolist() == ["1", "2"]
    assert got["marketing_opt_out"].tolist() == [False, True]
    assert got["email"].isna().tolist() == [True, False]


def test_contact_details_needs_subscribers(workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match="nothing has been ingested"):
        contact_details(workspace, ["A1"])
    duckdb.connect(str(workspace.warehouse_path)).close()
    with pytest.raises(NotFoundError, match="no subscribers table"):
        contact_details(workspace, ["A1"])


# ---------------------------------------------------------------- configuration


def test_make_channel_by_kind(workspace: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SECRET", "k")
    settings = configure(
        workspace,
        sms=webhook("http://gw/", secret_env="MY_SECRET"),
        email={"kind": "smtp", "smtp_host": "mail"},
        phone={"kind": "call_list", "file_format": "csv"},
    )
    assert isinstance(make_channel(settings, "sms", campaign_id=3), WebhookChannel)
    assert isinstance(make_channel(settings, "email", campaign_id=3), EmailChannel)
    calls = make_channel(settings, "phone", campaign_id=3)
    assert isinstance(calls, CallListChannel)
    assert calls.path == settings.workspace / "reports" / "campaign-3-calls.csv"
    assert calls.path == call_list_path(settings, 3, fmt="csv")
    only_sms = configure(workspace, sms=webhook("http://gw/", secret_env="MY_SECRET"))
    default_calls = make_channel(only_sms, "phone", campaign_id=3)  # the default: an xlsx list
    assert isinstance(default_calls, CallListChannel) and default_calls.fmt == "xlsx"


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        ({}, r"no delivery configured for channel 'fax': add \[retention\.delivery\.fax\]"),
        ({"sms": {"kind": "webhook"}}, r"no gateway URL: set url in \[retention\.delivery\.sms\]"),
        (
            {"sms": webhook("http://gw/", secret_env="UNSET_SECRET_X")},
            "UNSET_SECRET_X, which is not set",
        ),
        (
            {"sms": {"kind": "smtp"}},
            r"no mail server: set smtp_host .*\[retention\.delivery\.sms\]",
        ),
        (
            {
                "sms": {
                    "kind": "smtp",
                    "smtp_host": "m",
                    "smtp_user": "u",
                    "smtp_password_env": "UNSET_PW_X",
                }
            },
            "UNSET_PW_X is not set",
        ),
    ],
)
def test_make_channel_config_errors(
    workspace: Settings, delivery: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        code = "sms" if delivery else "fax"
        make_channel(configure(workspace, **delivery), code, campaign_id=1)


# ---------------------------------------------------------------- webhook


def test_offer_texts_are_bilingual_with_a_way_to_refuse() -> None:
    zh, en = offer_texts("赠送10GB流量", "10 GB data gift", "2026-03-10")
    assert zh == "尊敬的客户，您可享受专属优惠：赠送10GB流量，有效期至2026-03-10。拒收请回复R"
    assert en == (
        "Dear customer, a special offer for you: 10 GB data gift, valid until 2026-03-10. "
        "Reply R to opt out"
    )
    zh, en = offer_texts("赠送10GB流量", "10 GB data gift", "")
    assert "有效期" not in zh and "valid until" not in en


def test_webhook_channel_posts_and_reports_refusals() -> None:
    with http_receiver(lambda n, req: 200 if n == 1 else 404) as (url, got):
        ch = WebhookChannel(
            "wechat", ChannelDelivery(url=url, retries=3), secret="k", sleep=lambda s: None
        )
        results = list(ch.deliver(contacts(2, channel="wechat")))
    assert [(r.outbox_id, r.ok, r.attempts) for r in results] == [(100, True, 1), (101, False, 1)]
    assert results[1].error is not None and "HTTP 404" in results[1].error
    assert "[retention.delivery.wechat]" in results[1].error
    assert msisdn(1) not in results[1].error
    body = json.loads(got.requests[0]["body"])
    assert set(body) == {
        "idempotency_key",
        "campaign_id",
        "member_id",
        "subscriber_id",
        "channel",
        "to",
        "offer",
        "deadline",
        "text_zh",
        "text_en",
    }
    assert (body["idempotency_key"], body["member_id"], body["to"]) == ("cg-7-10", 10, msisdn(0))
    h = got.requests[0]["headers"]
    assert h["Idempotency-Key"] == "cg-7-10"
    assert h["X-Churnguard-Signature"] == sign(
        "k", h["X-Churnguard-Timestamp"], got.requests[0]["body"]
    )


# ---------------------------------------------------------------- e-mail


def test_email_channel_message_and_one_connection() -> None:
    with smtp_server() as (host, port, got):
        d = ChannelDelivery(
            kind="smtp", smtp_host=host, smtp_port=port, smtp_from="care@op.example"
        )
        ch = EmailChannel("email", d)
        results = list(ch.deliver(contacts(3, channel="email")))
    assert [r.ok for r in results] == [True, True, True]
    msg = got.messages[0]
    assert msg["Message-ID"] == "<cg-7-10@op.example>"
    assert msg["X-Churnguard-Idempotency-Key"] == "cg-7-10"
    assert msg["From"] == "care@op.example" and msg["To"] == email(0)
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == "专属优惠 / A special offer for you: 赠送10GB流量 / 10 GB data gift"
    assert ch._smtp is None  # closed after the batch


def test_email_channel_server_down_fails_after_retries() -> None:
    with smtp_server() as (host, port, _):
        pass  # closed: connections are refused
    waits: list[float] = []
    d = ChannelDelivery(
        kind="smtp", smtp_host=host, smtp_port=port, retries=2, backoff_s=0.1, timeout_s=1
    )
    results = list(
        EmailChannel("email", d, sleep=waits.append).deliver(contacts(1, channel="email"))
    )
    assert [(r.ok, r.attempts) for r in results] == [(False, 3)]
    assert results[0].error is not None and "unavailable after 3 attempts" in results[0].error
    assert email(0) not in results[0].error
    assert waits == [0.1, 0.2]


# ---------------------------------------------------------------- call list


def _calls(settings: Settings, fmt: str = "csv") -> CallListChannel:
    d = ChannelDelivery(kind="call_list", file_format=fmt)
    return CallListChannel(
        "phone",
        d,
        path=call_list_path(settings, 7, fmt=fmt),
        clear_text=settings.privacy.export_clear_text,
    )


def test_call_list_is_masked_sorted_and_replaced_atomically(workspace: Settings) -> None:
    ch = _calls(workspace)
    ch.path.parent.mkdir(parents=True, exist_ok=True)
    ch.path.write_text("old content", encoding="utf-8")
    results = list(ch.deliver(contacts(4, channel="phone", no_phone=(2,))))
    assert [(r.outbox_id, r.ok) for r in results] == [
        (100, True),
        (101, True),
        (102, False),
        (103, True),
    ]
    assert results[2].error is not None and "left off the call list" in results[2].error
    df = pd.read_csv(ch.path, dtype=str, encoding="utf-8-sig")
    assert df.columns.tolist() == [
        "subscriber_id",
        "phone",
        "offer",
        "offer_zh",
        "offer_en",
        "deadline",
        "queue",
        "campaign_id",
        "contact_key",
    ]
    # by queue, then deadline: q0 = S00000 (03-10), q1 = S00003 (03-10) after S00001 (03-09)
    assert df["subscriber_id"].tolist() == [sub_id(0), sub_id(1), sub_id(3)]
    assert df["phone"].tolist() == ["138****0000", "138****0001", "138****0003"]
    assert df["queue"].tolist() == ["q0", "q1", "q1"]
    assert df["offer_zh"].unique().tolist() == ["赠送10GB流量"]
    assert df["contact_key"].tolist() == ["cg-7-10", "cg-7-11", "cg-7-13"]
    assert not any(msisdn(i) in ch.path.read_text(encoding="utf-8-sig") for i in range(4))
    assert sorted(p.name for p in ch.path.parent.iterdir()) == ["campaign-7-calls.csv"]


def test_call_list_in_clear_text_and_xlsx(workspace: Settings) -> None:
    clear = workspace.model_copy(update={"privacy": PrivacySettings(export_clear_text=True)})
    ch = _calls(clear, fmt="xlsx")
    results = list(ch.deliver(contacts(2, channel="phone")))
    assert all(r.ok for r in results)
    df = pd.read_excel(ch.path, sheet_name="calls", dtype=str)
    assert df["phone"].tolist() == [msisdn(0), msisdn(1)]
    assert df["deadline"].str.slice(0, 10).tolist() == ["2026-03-10", "2026-03-09"]
    assert sorted(p.name for p in ch.path.parent.iterdir()) == ["campaign-7-calls.xlsx"]
