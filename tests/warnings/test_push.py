from __future__ import annotations

import json

import pytest

from churnguard.warnings.push import PushError, send_digest, send_webhook, sign
from tests.support.servers import http_receiver, smtp_server


def test_webhook_is_signed_and_retried_until_accepted() -> None:
    statuses = {1: 503, 2: 429, 3: 200}
    sleeps: list[float] = []
    with http_receiver(lambda n, req: statuses[n]) as (url, got):
        result = send_webhook(
            url + "/hook",
            {"warnings": [{"subscriber_id": "S1", "level": "red", "reason": "通话时长下降"}]},
            secret="s3cret",
            idempotency_key="batch-1",
            retries=4,
            sleep=sleeps.append,
        )
    assert result.attempts == 3 and result.status == 200
    assert sleeps == [0.5, 1.0]  # exponential backoff
    assert len(got.requests) == 3
    last = got.requests[-1]
    headers = {k.lower(): v for k, v in last["headers"].items()}
    assert headers["idempotency-key"] == "batch-1"
    assert headers["x-churnguard-signature"] == sign(
        "s3cret", headers["x-churnguard-timestamp"], last["body"]
    )
    assert json.loads(last["body"])["warnings"][0]["reason"] == "通话时长下降"
    # every retry carries the same idempotency key, so the receiver can deduplicate
    assert {r["headers"]["Idempotency-Key"] for r in got.requests} == {"batch-1"}


def test_webhook_gives_up_and_says_what_to_do() -> None:
    with http_receiver(lambda n, req: 503) as (url, got):
        with pytest.raises(PushError, match=r"failed after 3 attempts.*warn-push"):
            send_webhook(url, {}, secret=None, idempotency_key="k", retries=2, sleep=lambda s: None)
        assert len(got.requests) == 3


def test_webhook_does_not_retry_a_refusal() -> None:
    with http_receiver(lambda n, req: 401) as (url, got):
        with pytest.raises(PushError, match="HTTP 401"):
            send_webhook(url, {}, secret="x", idempotency_key="k", sleep=lambda s: None)
        assert len(got.requests) == 1


def test_unreachable_webhook_is_retried() -> None:
    with pytest.raises(PushError, match=r"URLError|ConnectionRefused"):
        send_webhook(
            "http://127.0.0.1:9/none",
            {},
            secret=None,
            idempotency_key="k",
            retries=1,
            timeout_s=1,
            sleep=lambda s: None,
        )


def test_digest_reaches_a_local_smtp_server() -> None:
    with smtp_server() as (host, port, got):
        send_digest(
            host=host,
            port=port,
            sender="churnguard@localhost",
            recipients=["team@example.com"],
            subject="流失预警日报 2025-05",
            text="红色预警 12 人",
            html="<p>红色预警 12 人</p>",
        )
    assert len(got.messages) == 1
    msg = got.messages[0]
    assert msg["To"] == "team@example.com"
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(msg["Subject"]))) == "流失预警日报 2025-05"
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    assert "红色预警 12 人" in plain.get_payload(decode=True).decode("utf-8")


def test_digest_errors_are_clear() -> None:
    with pytest.raises(PushError, match="no e-mail recipients"):
        send_digest(host="127.0.0.1", port=9, sender="a@b", recipients=[], subject="s", text="t")
    with pytest.raises(PushError, match="smtp_host"):
        send_digest(
            host="127.0.0.1",
            port=9,
            sender="a@b",
            recipients=["x@y"],
            subject="s",
            text="t",
            timeout_s=2,
        )
