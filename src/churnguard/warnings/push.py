"""Push new warnings to the retention team: a signed JSON webhook and an e-mail digest.

The webhook body is signed with HMAC-SHA256 (header ``X-Churnguard-Signature``)
over ``timestamp.body``, carries an ``Idempotency-Key`` so a receiver can drop
retried duplicates, and is retried with exponential backoff on timeouts, 429
and 5xx. Secrets come from the environment, never from the config file, and
are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from ..errors import ChurnguardError

__all__ = ["PushError", "WebhookResult", "send_digest", "send_webhook", "sign"]

log = logging.getLogger(__name__)

_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class PushError(ChurnguardError):
    """A push could not be delivered after all retries."""


@dataclass(frozen=True)
class WebhookResult:
    status: int
    attempts: int


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of ``timestamp.body`` with ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str | None,
    idempotency_key: str,
    retries: int = 4,
    timeout_s: float = 10.0,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> WebhookResult:
    """POST ``payload`` as JSON, signed, retried with backoff on transient failures.

    Raises
    ------
    PushError
        After ``retries`` retries, or at once for a non-retryable HTTP status
        (e.g. 400/401/404), with what to check next.
    """
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    last = ""
    for attempt in range(1, retries + 2):
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": idempotency_key,
            "X-Churnguard-Timestamp": ts,
        }
        if secret:
            headers["X-Churnguard-Signature"] = sign(secret, ts, body)
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                return WebhookResult(status=resp.status, attempts=attempt)
        except urllib.error.HTTPError as exc:
            if exc.code not in _RETRYABLE:
                raise PushError(
                    f"webhook {url} refused the warnings with HTTP {exc.code}; "
                    "check the URL and the shared secret (warnings.push in churnguard.toml)"
                ) from None
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last = type(exc).__name__
        log.warning("webhook attempt %d failed (%s)", attempt, last)
        if attempt <= retries:
            sleep(backoff_s * 2 ** (attempt - 1))
    raise PushError(
        f"webhook {url} failed after {retries + 1} attempts (last: {last}); "
        "the warnings are stored — push them again with 'churnguard warn-push' once it is up"
    )


def send_digest(
    *,
    host: str,
    port: int,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    user: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    timeout_s: float = 30.0,
) -> None:
    """Send one digest e-mail over SMTP.

    Raises
    ------
    PushError
        When the server cannot be reached or refuses the message.
    """
    if not recipients:
        raise PushError("no e-mail recipients: set warnings.push.smtp_to in churnguard.toml")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            if user and password:
                smtp.login(user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise PushError(
            f"could not send the warning digest through {host}:{port} ({type(exc).__name__}); "
            "check warnings.push.smtp_host/smtp_port and that the server is up"
        ) from None
