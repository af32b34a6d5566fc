"""Contact channels behind one small interface: webhook gateways, SMTP e-mail, call lists.

A channel takes a frame of contacts (one row per outbox message, personal data
already joined) and yields one :class:`DeliveryResult` per contact as soon as the
far side acknowledged it, so the outbox can commit each delivery at once:

- :class:`WebhookChannel` (SMS, WeChat, app push): a signed JSON POST per contact
  through :func:`churnguard.warnings.push.send_webhook` (timeouts, retries with
  backoff on 429/5xx, ``Idempotency-Key`` = the outbox key).
- :class:`EmailChannel`: one bilingual e-mail per contact over SMTP; its
  ``Message-ID`` is derived from the outbox key, so a re-sent message is
  recognisable as the same one.
- :class:`CallListChannel` (outbound calls): the campaign's call-centre worklist
  ``reports/campaign-<id>-calls.<csv|xlsx>``, replaced atomically (temp file +
  rename); its contacts count as delivered once the file is in place.

Phone numbers and e-mail addresses are read from the warehouse's ``subscribers``
table (:func:`contact_details`), used only to address the contact, and never
logged or written to an error message.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import duckdb
import pandas as pd

from ..config import RetentionSettings
from ..errors import ConfigError, NotFoundError, StateError
from ..privacy import mask_msisdn
from ..warehouse.analytical import connect, raw, table_exists
from ..warnings.push import PushError, send_webhook

if TYPE_CHECKING:
    from ..config import ChannelDelivery, Settings

__all__ = [
    "CONTACT_COLUMNS",
    "CallListChannel",
    "Channel",
    "DeliveryResult",
    "EmailChannel",
    "WebhookChannel",
    "call_list_path",
    "contact_details",
    "make_channel",
    "offer_texts",
]

log = logging.getLogger(__name__)

CONTACT_COLUMNS = (
    "outbox_id",
    "idempotency_key",
    "campaign_id",
    "member_id",
    "subscriber_id",
    "channel",
    "offer",
    "offer_zh",
    "offer_en",
    "deadline",
    "queue",
    "msisdn",
    "email",
)
"""Columns of the contacts frame a channel delivers (``msisdn``/``email`` may be missing)."""

CALL_LIST_COLUMNS = (
    "subscriber_id",
    "phone",
    "offer",
    "offer_zh",
    "offer_en",
    "deadline",
    "queue",
    "campaign_id",
    "contact_key",
)

_DEFAULT_DELIVERY = RetentionSettings().delivery

_OPT_OUT_ZH = "拒收请回复R"
_OPT_OUT_EN = "Reply R to opt out"


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one outbox message.

    ``error`` never contains personal data: it names the channel, the gateway's
    answer and what to do next.
    """

    outbox_id: int
    ok: bool
    attempts: int
    error: str | None = None


class Channel(Protocol):
    """A way to reach customers: deliver each contact, yield its result once acknowledged."""

    code: str
    kind: str

    def deliver(self, contacts: pd.DataFrame) -> Iterator[DeliveryResult]:
        """Deliver every row of ``contacts`` (columns :data:`CONTACT_COLUMNS`)."""
        ...


def offer_texts(offer_zh: str, offer_en: str, deadline: str) -> tuple[str, str]:
    """The Chinese and English message text of an offer, with the way to refuse."""
    until_zh = f"，有效期至{deadline}" if deadline else ""
    until_en = f", valid until {deadline}" if deadline else ""
    zh = f"尊敬的客户，您可享受专属优惠：{offer_zh}{until_zh}。{_OPT_OUT_ZH}"
    en = f"Dear customer, a special offer for you: {offer_en}{until_en}. {_OPT_OUT_EN}"
    return zh, en


def _text(value: object) -> str:
    """A frame cell as text ('' for missing values)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value)


def _missing(value: object) -> bool:
    return _text(value).strip() == ""


class WebhookChannel:
    """SMS / WeChat / app push through an HTTP gateway: one signed JSON POST per contact.

    Payload fields: ``idempotency_key``, ``campaign_id``, ``member_id``,
    ``subscriber_id``, ``channel``, ``to`` (the phone number), ``offer``
    (``code``, ``name_zh``, ``name_en``), ``deadline``, ``text_zh``, ``text_en``.
    """

    kind: ClassVar[str] = "webhook"

    def __init__(
        self,
        code: str,
        delivery: ChannelDelivery,
        *,
        secret: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not delivery.url:
            raise ConfigError(
                f"channel '{code}' has no gateway URL: set url in [retention.delivery.{code}] "
                'of churnguard.toml (e.g. url = "https://sms-gateway.example/send")'
            )
        self.code = code
        self.url = delivery.url
        self._delivery = delivery
        self._secret = secret
        self._sleep = sleep

    def payload(self, row: Any) -> dict[str, Any]:
        """The JSON body for one contact (a row of the contacts frame)."""
        deadline = _text(row.deadline)
        zh, en = offer_texts(_text(row.offer_zh), _text(row.offer_en), deadline)
        return {
            "idempotency_key": row.idempotency_key,
            "campaign_id": int(row.campaign_id),
            "member_id": int(row.member_id),
            "subscriber_id": _text(row.subscriber_id),
            "channel": self.code,
            "to": _text(row.msisdn),
            "offer": {
                "code": _text(row.offer),
                "name_zh": _text(row.offer_zh),
                "name_en": _text(row.offer_en),
            },
            "deadline": deadline or None,
            "text_zh": zh,
            "text_en": en,
        }

    def deliver(self, contacts: pd.DataFrame) -> Iterator[DeliveryResult]:
        """POST each contact; a contact without a phone number fails without a request."""
        d = self._delivery
        for row in contacts.itertuples(index=False):
            oid = int(row.outbox_id)
            if _missing(getattr(row, "msisdn", None)):
                yield DeliveryResult(
                    oid,
                    ok=False,
                    attempts=0,
                    error=f"{self.code}: no phone number on file (subscribers.msisdn); "
                    "complete the subscriber's data, then rerun 'churnguard campaign send'",
                )
                continue
            try:
                res = send_webhook(
                    self.url,
                    self.payload(row),
                    secret=self._secret,
                    idempotency_key=str(row.idempotency_key),
                    retries=d.retries,
                    timeout_s=d.timeout_s,
                    backoff_s=d.backoff_s,
                    sleep=self._sleep,
                )
            except PushError as exc:
                yield DeliveryResult(
                    oid, ok=False, **_webhook_failure(self.code, str(exc), d.retries)
                )
                continue
            yield DeliveryResult(oid, ok=True, attempts=res.attempts)


def _webhook_failure(code: str, message: str, retries: int) -> dict[str, Any]:
    """Attempts and a neutral error text from a :class:`PushError` message."""
    status = re.search(r"HTTP (\d{3})", message)
    after = re.search(r"after (\d+) attempts \(last: ([^)]*)\)", message)
    if after:
        return {
            "attempts": int(after.group(1)),
            "error": f"{code}: gateway unavailable after {after.group(1)} attempts "
            f"(last: {after.group(2)}); rerun 'churnguard campaign send' once it is up",
        }
    answer = f"HTTP {status.group(1)}" if status else "refused"
    return {
        "attempts": 1,
        "error": f"{code}: gateway refused the message ({answer}); check url and the "
        f"shared secret in [retention.delivery.{code}], then rerun 'churnguard campaign send'",
    }


class EmailChannel:
    """One bilingual e-mail per contact over one SMTP connection (reconnected on failure)."""

    kind: ClassVar[str] = "smtp"

    def __init__(
        self,
        code: str,
        delivery: ChannelDelivery,
        *,
        password: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not delivery.smtp_host:
            raise ConfigError(
                f"channel '{code}' has no mail server: set smtp_host (and smtp_port, smtp_from) "
                f"in [retention.delivery.{code}] of churnguard.toml"
            )
        self.code = code
        self.host = delivery.smtp_host
        self._delivery = delivery
        self._password = password
        self._sleep = sleep
        self._smtp: smtplib.SMTP | None = None

    def message(self, row: Any) -> EmailMessage:
        """The e-mail for one contact; ``Message-ID`` is derived from the idempotency key."""
        d = self._delivery
        deadline = _text(row.deadline)
        zh, en = offer_texts(_text(row.offer_zh), _text(row.offer_en), deadline)
        domain = d.smtp_from.rsplit("@", 1)[-1] if "@" in d.smtp_from else "churnguard.local"
        msg = EmailMessage()
        msg["From"] = d.smtp_from
        msg["To"] = _text(row.email)
        msg["Subject"] = (
            f"专属优惠 / A special offer for you: {_text(row.offer_zh)} / {_text(row.offer_en)}"
        )
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = f"<{row.idempotency_key}@{domain}>"
        msg["X-Churnguard-Idempotency-Key"] = str(row.idempotency_key)
        msg.set_content(f"{zh}\n\n{en}\n", charset="utf-8")
        return msg

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is None:
            d = self._delivery
            smtp = smtplib.SMTP(self.host, d.smtp_port, timeout=d.timeout_s)
            try:
                if d.smtp_starttls:
                    smtp.starttls()
                if d.smtp_user and self._password:
                    smtp.login(d.smtp_user, self._password)
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        """Close the SMTP connection (if open)."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def _send(self, msg: EmailMessage) -> DeliveryResult | int:
        """Send with retries; the number of attempts on success, a failure otherwise."""
        d = self._delivery
        last = ""
        for attempt in range(1, d.retries + 2):
            try:
                self._connect().send_message(msg)
                return attempt
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
                code = getattr(exc, "smtp_code", None) or "refused"
                return DeliveryResult(
                    0,
                    ok=False,
                    attempts=attempt,
                    error=f"{self.code}: the mail server refused the message ({code}); "
                    f"check smtp_from in [retention.delivery.{self.code}] and the address on file",
                )
            except (OSError, smtplib.SMTPException) as exc:
                last = type(exc).__name__
                if self._smtp is not None:
                    self._smtp.close()
                    self._smtp = None
            log.warning("%s: e-mail attempt %d failed (%s)", self.code, attempt, last)
            if attempt <= d.retries:
                self._sleep(d.backoff_s * 2 ** (attempt - 1))
        return DeliveryResult(
            0,
            ok=False,
            attempts=d.retries + 1,
            error=f"{self.code}: mail server {self.host}:{d.smtp_port} unavailable after "
            f"{d.retries + 1} attempts (last: {last}); "
            "rerun 'churnguard campaign send' once it is up",
        )

    def deliver(self, contacts: pd.DataFrame) -> Iterator[DeliveryResult]:
        """Send each contact its e-mail; a contact without an address fails without sending."""
        try:
            for row in contacts.itertuples(index=False):
                oid = int(row.outbox_id)
                if _missing(getattr(row, "email", None)):
                    yield DeliveryResult(
                        oid,
                        ok=False,
                        attempts=0,
                        error=f"{self.code}: no e-mail address on file (subscribers.email); "
                        "complete the subscriber's data, then rerun 'churnguard campaign send'",
                    )
                    continue
                out = self._send(self.message(row))
                if isinstance(out, int):
                    yield DeliveryResult(oid, ok=True, attempts=out)
                else:
                    yield DeliveryResult(oid, ok=False, attempts=out.attempts, error=out.error)
        finally:
            self.close()


def call_list_path(settings: Settings, campaign_id: int, *, fmt: str) -> Path:
    """Where the call-centre list of a campaign is written."""
    return settings.reports_dir / f"campaign-{campaign_id}-calls.{fmt}"


class CallListChannel:
    """Outbound calls: the campaign's call-centre worklist, rewritten atomically.

    ``deliver`` expects *all* of the campaign's contacts on this channel (delivered
    before or not), so a rerun rewrites the same list instead of appending to it.
    Phone numbers are masked unless ``privacy.export_clear_text`` is on.
    """

    kind: ClassVar[str] = "call_list"

    def __init__(
        self, code: str, delivery: ChannelDelivery, *, path: Path, clear_text: bool
    ) -> None:
        self.code = code
        self.path = path
        self.fmt = delivery.file_format
        self.clear_text = clear_text

    def worklist(self, contacts: pd.DataFrame) -> pd.DataFrame:
        """The rows of the call list: one per contact with a phone number, by queue and deadline."""
        has_phone = contacts["msisdn"].astype("string").str.strip().fillna("").ne("")
        c = contacts[has_phone]
        phone = c["msisdn"].astype("string")
        out = pd.DataFrame(
            {
                "subscriber_id": c["subscriber_id"].astype("string"),
                "phone": phone if self.clear_text else mask_msisdn(phone),
                "offer": c["offer"].astype("string"),
                "offer_zh": c["offer_zh"].astype("string"),
                "offer_en": c["offer_en"].astype("string"),
                "deadline": pd.to_datetime(c["deadline"]).dt.date,
                "queue": c["queue"].astype("string"),
                "campaign_id": c["campaign_id"].astype("int64"),
                "contact_key": c["idempotency_key"].astype("string"),
            }
        )
        return out.sort_values(
            ["queue", "deadline", "subscriber_id"], na_position="last"
        ).reset_index(drop=True)

    def write(self, rows: pd.DataFrame) -> Path:
        """Write the list to a temporary file beside the target, then rename it into place."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            if self.fmt == "csv":
                rows.to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
                    rows.to_excel(xl, index=False, sheet_name="calls")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        return self.path

    def deliver(self, contacts: pd.DataFrame) -> Iterator[DeliveryResult]:
        """Write the list; every listed contact is delivered, one without a phone fails."""
        rows = self.worklist(contacts)
        self.write(rows)
        listed = contacts["msisdn"].astype("string").str.strip().fillna("").ne("")
        for oid, ok in zip(contacts["outbox_id"].astype(int), listed, strict=True):
            if ok:
                yield DeliveryResult(int(oid), ok=True, attempts=1)
            else:
                yield DeliveryResult(
                    int(oid),
                    ok=False,
                    attempts=1,
                    error=f"{self.code}: no phone number on file (subscribers.msisdn), left off "
                    "the call list; complete the data, then rerun 'churnguard campaign send'",
                )


def make_channel(
    settings: Settings,
    code: str,
    *,
    campaign_id: int,
    sleep: Callable[[float], None] = time.sleep,
) -> WebhookChannel | EmailChannel | CallListChannel:
    """The channel that delivers contacts of ``code`` as configured in ``[retention.delivery]``.

    Raises
    ------
    ConfigError
        The channel has no ``[retention.delivery.<code>]`` entry (and no default:
        sms, wechat, app_push, email and phone have one), no gateway URL,
        no mail server, or its signing secret is not in the environment.
    """
    # A workspace that configures only some channels keeps the defaults of the others.
    delivery = settings.retention.delivery.get(code) or _DEFAULT_DELIVERY.get(code)
    if delivery is None:
        raise ConfigError(
            f"no delivery configured for channel '{code}': add [retention.delivery.{code}] to "
            'churnguard.toml with kind = "webhook" (and url), "smtp" (and smtp_host) '
            'or "call_list"'
        )
    if delivery.kind == "webhook":
        secret = os.environ.get(delivery.secret_env, "")
        if delivery.url and not secret:
            raise ConfigError(
                f"channel '{code}' signs its requests with the secret in the environment variable "
                f"{delivery.secret_env}, which is not set; export it (or name another variable "
                f"with secret_env in [retention.delivery.{code}])"
            )
        return WebhookChannel(code, delivery, secret=secret, sleep=sleep)
    if delivery.kind == "smtp":
        password = os.environ.get(delivery.smtp_password_env) if delivery.smtp_user else None
        if delivery.smtp_user and not password:
            raise ConfigError(
                f"channel '{code}' logs in as smtp_user but {delivery.smtp_password_env} is not "
                f"set; export it (or name another variable with smtp_password_env in "
                f"[retention.delivery.{code}])"
            )
        return EmailChannel(code, delivery, password=password, sleep=sleep)
    return CallListChannel(
        code,
        delivery,
        path=call_list_path(settings, campaign_id, fmt=delivery.file_format),
        clear_text=settings.privacy.export_clear_text,
    )


_DETAIL_COLUMNS = ("msisdn", "email", "marketing_opt_out")


def contact_details(settings: Settings, subscriber_ids: Sequence[str]) -> pd.DataFrame:
    """Phone, e-mail and marketing opt-out of the given subscribers, in one warehouse query.

    Returns a frame with ``subscriber_id``, ``msisdn``, ``email`` and
    ``marketing_opt_out`` (columns the warehouse lacks come back empty / False).
    The values are personal data: use them to address contacts, never log them.

    Raises
    ------
    NotFoundError
        No warehouse or no ``subscribers`` table in the workspace.
    """
    empty = pd.DataFrame(
        {
            "subscriber_id": pd.Series(dtype="string"),
            "msisdn": pd.Series(dtype="string"),
            "email": pd.Series(dtype="string"),
            "marketing_opt_out": pd.Series(dtype="bool"),
        }
    )
    ids = sorted({str(i) for i in subscriber_ids})
    if not ids:
        return empty
    backend = connect(settings, read_only=True)
    try:
        con = raw(backend)
        if not table_exists(con, "subscribers"):
            raise NotFoundError(
                f"the warehouse {settings.warehouse_path} has no subscribers table, so contacts "
                "cannot be addressed; ingest the subscribers first ('churnguard ingest SOURCE')"
            )
        present = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'subscribers' AND table_schema = 'main' "
                "AND table_catalog = current_database()"
            ).fetchall()
        }
        select = ", ".join(
            (
                f's."{c}"'
                if c in present
                else "FALSE"
                if c == "marketing_opt_out"
                else "CAST(NULL AS VARCHAR)"
            )
            + f' AS "{c}"'
            for c in _DETAIL_COLUMNS
        )
        # fetch to the end: DuckDB 2 blocks the connection on an unfinished result
        found = con.execute(
            f"SELECT CAST(s.subscriber_id AS VARCHAR) AS subscriber_id, {select} "
            "FROM subscribers s WHERE CAST(s.subscriber_id AS VARCHAR) IN "
            "(SELECT unnest(CAST(? AS VARCHAR[])))",
            [ids],
        ).fetch_df()
    except duckdb.Error as exc:
        raise StateError(
            f"reading contact details from the warehouse failed ({type(exc).__name__}); "
            "check that no other process is writing to it and retry"
        ) from None
    finally:
        backend.disconnect()
    out = found.drop_duplicates("subscriber_id")
    return pd.DataFrame(
        {
            "subscriber_id": out["subscriber_id"].astype("string"),
            "msisdn": out["msisdn"].astype("string"),
            "email": out["email"].astype("string"),
            "marketing_opt_out": out["marketing_opt_out"]
            .astype("boolean")
            .fillna(False)
            .astype(bool),
        }
    )
