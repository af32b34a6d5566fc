"""Deliver a campaign's contacts through its outbox, so a crash and a rerun send each once.

Planning writes one ``contact_outbox`` row per treated customer (status
``pending``, a unique idempotency key). :func:`send_campaign` walks the open rows
(``pending`` or ``failed``) in id order and hands them to their channel; each
message is marked ``delivered`` in its own short transaction right after the
gateway acknowledged it. A process killed mid-run therefore loses at most the
message in flight: the rerun sends it again with the same idempotency key, and
the receiver drops the duplicate (at-least-once delivery + deduplication by key =
each contact delivered once). One sender per campaign runs at a time (a lock
file in the workspace, plus an advisory lock on PostgreSQL).

Quiet hours hold messages (webhook and e-mail channels) until the quiet period
ends (``not_before``); call lists are for agents' working hours and are not held.
A customer who opted out of marketing after planning is not contacted: the row is
``cancelled``.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from ..errors import InputError, NotFoundError, StateError
from ..warehouse.operational import open_operational, session_scope
from .catalog import load_catalog
from .channels import (
    CallListChannel,
    DeliveryResult,
    EmailChannel,
    WebhookChannel,
    contact_details,
    make_channel,
)
from .store import Campaign, CampaignMember, OutboxMessage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..config import Settings

__all__ = [
    "OUTBOX_STATUSES",
    "SENDABLE_CAMPAIGN_STATUSES",
    "SendReport",
    "outbox_status",
    "send_campaign",
]

log = logging.getLogger(__name__)

OUTBOX_STATUSES = ("pending", "delivered", "failed", "cancelled")
SENDABLE_CAMPAIGN_STATUSES = ("planned", "sending", "sent")
_OPEN = ("pending", "failed")
_LOCK_NAMESPACE = 0x4347  # "CG": first key of the PostgreSQL advisory lock
_LOCK_WAIT_S = 3.0

_COLUMNS = (
    "outbox_id",
    "idempotency_key",
    "campaign_id",
    "member_id",
    "subscriber_id",
    "channel",
    "status",
    "offer",
    "deadline",
    "queue",
)


@dataclass
class SendReport:
    """What one ``campaign send`` run did.

    ``delivered`` / ``failed`` / ``cancelled`` count this run's outcomes;
    ``deferred`` the messages held by quiet hours (``resume_at``: when they may
    go); ``pending`` and ``open_failed`` what is still open after the run.
    """

    campaign_id: int
    status: str
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0
    pending: int = 0
    open_failed: int = 0
    resume_at: datetime | None = None
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    call_lists: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def count(self, channel: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` to this run's ``outcome`` count of ``channel``."""
        per = self.by_channel.setdefault(channel, {})
        per[outcome] = per.get(outcome, 0) + n
        setattr(self, outcome, getattr(self, outcome) + n)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO text)."""
        out = asdict(self)
        out["resume_at"] = self.resume_at.isoformat() if self.resume_at else None
        return out


# ---------------------------------------------------------------- helpers


def _local_now(now: datetime | None, timezone: str | None = None) -> datetime:
    """``now`` as an aware datetime in the customers' zone (``retention.timezone``).

    Without a configured zone: aware values keep theirs; naive values and the
    default are read in this machine's zone.
    """
    current = datetime.now().astimezone() if now is None else now
    if current.tzinfo is None:
        current = current.astimezone()
    if timezone is not None:
        from zoneinfo import ZoneInfo

        current = current.astimezone(ZoneInfo(timezone))
    return current


def _quiet_end(local_now: datetime, end_hour: int) -> datetime:
    """The first ``end_hour``:00 after ``local_now``, in its time zone."""
    end = local_now.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    return end if end > local_now else end + timedelta(days=1)


def _campaign(session: Session, campaign_id: int) -> Campaign:
    camp = session.get(Campaign, campaign_id)
    if camp is None:
        raise NotFoundError(
            f"no campaign {campaign_id}; list the campaigns with 'churnguard campaign list'"
        )
    return camp


@contextmanager
def _sender_lock(settings: Settings, campaign_id: int) -> Iterator[None]:
    """Hold the campaign's sender lock (released by the OS if the process dies)."""
    lock_dir = settings.workspace / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    busy = StateError(
        f"campaign {campaign_id} is being sent by another process; wait for it to finish "
        "(or stop it) and rerun 'churnguard campaign send'"
    )
    with open(lock_dir / f"campaign-{campaign_id}.send.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        engine = open_operational(settings)
        if engine.dialect.name != "postgresql":
            yield
            return
        # Senders on other hosts share the database, not the lock file.
        with engine.connect() as conn:
            args = {"ns": _LOCK_NAMESPACE, "id": campaign_id}
            # A killed sender's server session ends a moment after the process: wait briefly.
            deadline = time.monotonic() + _LOCK_WAIT_S
            while True:
                got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :id)"), args).scalar()
                conn.commit()
                if got:
                    break
                if time.monotonic() >= deadline:
                    raise busy
                time.sleep(0.1)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :id)"), args)
                conn.commit()


def _offer_names(settings: Settings) -> pd.DataFrame:
    path = settings.workspace / settings.retention.offers_file
    catalog = load_catalog(path if path.exists() else None, workspace=settings.workspace)
    return pd.DataFrame(
        {
            "offer": [o.code for o in catalog.offers],
            "offer_zh": [o.name_zh for o in catalog.offers],
            "offer_en": [o.name_en for o in catalog.offers],
        }
    )


def _rows(session: Session, *conditions: Any, limit: int | None = None) -> pd.DataFrame:
    o, m = OutboxMessage, CampaignMember
    query = (
        sa.select(
            o.id,
            o.idempotency_key,
            o.campaign_id,
            o.member_id,
            m.subscriber_id,
            o.channel,
            o.status,
            m.offer,
            m.deadline,
            m.queue,
        )
        .join(m, m.id == o.member_id)
        .where(*conditions)
        .order_by(o.id)
        .limit(limit)
    )
    return pd.DataFrame(session.execute(query).all(), columns=list(_COLUMNS))


def _contacts(settings: Settings, rows: pd.DataFrame, names: pd.DataFrame) -> pd.DataFrame:
    """Outbox rows with offer names and the subscribers' contact details (one query)."""
    details = contact_details(settings, rows["subscriber_id"].astype(str).tolist())
    out = rows.astype({"subscriber_id": "string", "offer": "string"}).merge(
        names.astype("string"), on="offer", how="left"
    )
    out["offer_zh"] = out["offer_zh"].fillna(out["offer"])
    out["offer_en"] = out["offer_en"].fillna(out["offer"])
    out = out.merge(details, on="subscriber_id", how="left")
    out["marketing_opt_out"] = out["marketing_opt_out"].astype("boolean").fillna(False).astype(bool)
    out["deadline"] = pd.to_datetime(out["deadline"]).dt.strftime("%Y-%m-%d")
    return out


class _Recorder:
    """Writes each outcome in its own short transaction."""

    def __init__(self, settings: Settings, report: SendReport, *, stamp: Callable[[], datetime]):
        self.settings = settings
        self.report = report
        self.stamp = stamp
        self.lock = threading.Lock()  # workers share the report

    def apply(self, session: Session, result: DeliveryResult, member_id: int, channel: str) -> None:
        o, m = OutboxMessage, CampaignMember
        when = self.stamp()
        if result.ok:
            values: dict[str, Any] = {
                "status": "delivered",
                "delivered_at": when,
                "last_error": None,
            }
            member: dict[str, Any] = {"contact_status": "sent", "contacted_at": when}
        else:
            values = {"status": "failed", "last_error": result.error}
            member = {"contact_status": "failed"}
        done = session.execute(
            sa.update(o)
            .where(o.id == result.outbox_id, o.status != "delivered")
            .values(attempts=o.attempts + result.attempts, **values)
        )
        if getattr(done, "rowcount", 1) == 0:
            return  # delivered before (a call list rewritten on a rerun)
        session.execute(sa.update(m).where(m.id == member_id).values(**member))
        with self.lock:
            self.report.count(channel, "delivered" if result.ok else "failed")
            if not result.ok and len(self.report.errors) < 100:
                self.report.errors.append(
                    {"outbox_id": result.outbox_id, "channel": channel, "error": result.error}
                )

    def one(self, result: DeliveryResult, member_id: int, channel: str) -> None:
        with session_scope(self.settings) as session:
            self.apply(session, result, member_id, channel)

    def cancel(self, rows: pd.DataFrame) -> None:
        """Cancel the open messages of customers who opted out of marketing (one transaction)."""
        if rows.empty:
            return
        o, m = OutboxMessage, CampaignMember
        ids = [int(i) for i in rows["outbox_id"]]
        with session_scope(self.settings) as session:
            session.execute(
                sa.update(o)
                .where(o.id.in_(ids), o.status.in_(_OPEN))
                .values(
                    status="cancelled",
                    last_error="customer opted out of marketing after planning; not contacted",
                )
            )
            session.execute(
                sa.update(m)
                .where(m.id.in_([int(i) for i in rows["member_id"]]))
                .values(contact_status="cancelled")
            )
        for channel, n in rows["channel"].value_counts().items():
            self.report.count(str(channel), "cancelled", int(n))


# ---------------------------------------------------------------- sending


def _send_messages(
    settings: Settings,
    campaign_id: int,
    channels: Mapping[str, Callable[[], WebhookChannel | EmailChannel | CallListChannel]],
    *,
    names: pd.DataFrame,
    now_utc: datetime,
    batch: int,
    workers: int,
    recorder: _Recorder,
) -> None:
    o = OutboxMessage
    last_id = 0
    while True:
        with session_scope(settings) as session:
            rows = _rows(
                session,
                o.campaign_id == campaign_id,
                o.status.in_(_OPEN),
                o.channel.in_(sorted(channels)),
                sa.or_(o.not_before.is_(None), o.not_before <= now_utc),
                o.id > last_id,
                limit=batch,
            )
        if rows.empty:
            return
        last_id = int(rows["outbox_id"].max())
        contacts = _contacts(settings, rows, names)
        recorder.cancel(contacts[contacts["marketing_opt_out"]])
        contacts = contacts[~contacts["marketing_opt_out"]]
        for code, group in contacts.groupby("channel", sort=False):
            members = dict(
                zip(group["outbox_id"].astype(int), group["member_id"].astype(int), strict=True)
            )

            def run(
                part: pd.DataFrame, code: str = str(code), members: dict[int, int] = members
            ) -> None:
                # a channel instance per worker: an SMTP connection is not shared
                for result in channels[code]().deliver(part):
                    recorder.one(result, members[result.outbox_id], code)

            n = min(workers, len(group))
            if n <= 1:
                run(group)
                continue
            with ThreadPoolExecutor(n, thread_name_prefix="cg-send") as pool:
                list(pool.map(run, [group.iloc[i::n] for i in range(n)]))


def _send_call_list(
    settings: Settings,
    campaign_id: int,
    channel: CallListChannel,
    *,
    names: pd.DataFrame,
    recorder: _Recorder,
) -> None:
    o = OutboxMessage
    with session_scope(settings) as session:
        rows = _rows(
            session,
            o.campaign_id == campaign_id,
            o.channel == channel.code,
            o.status.in_((*_OPEN, "delivered")),
        )
    contacts = _contacts(settings, rows, names)
    opted = contacts["marketing_opt_out"]
    recorder.cancel(contacts[opted & contacts["status"].isin(_OPEN)])
    listed = contacts[~opted]
    members = dict(
        zip(listed["outbox_id"].astype(int), listed["member_id"].astype(int), strict=True)
    )
    results = list(channel.deliver(listed))  # the file is in place once this returns
    with session_scope(settings) as session:
        for result in results:
            recorder.apply(session, result, members[result.outbox_id], channel.code)
    recorder.report.call_lists.append(str(channel.path))


def send_campaign(
    settings: Settings,
    campaign_id: int,
    *,
    now: datetime | None = None,
    batch: int = 200,
    workers: int = 1,
    sleep: Callable[[float], None] = time.sleep,
) -> SendReport:
    """Deliver the campaign's open contacts (pending, or failed before) through their channels.

    Parameters
    ----------
    settings
        Workspace settings; ``[retention.delivery.<channel>]`` says how each
        channel delivers, ``retention.quiet_start_hour/quiet_end_hour`` when
        messages wait.
    campaign_id
        The campaign (status planned, sending or sent).
    now
        The time of the run (default: now, in this machine's time zone). Quiet
        hours are judged on its hour in its own time zone; when given, it is also
        the recorded delivery time.
    batch
        Outbox rows loaded (and contact details looked up) at a time.
    workers
        Messages of a channel sent in parallel (threads). With ``w`` workers a
        crash leaves at most ``w`` messages in flight, i.e. at most ``w``
        duplicates for the receiver to drop by key.
    sleep
        Waits between retries (tests pass a no-op).

    Raises
    ------
    NotFoundError
        Unknown campaign, or no subscribers in the warehouse to address contacts.
    StateError
        The campaign is resolved (or otherwise not sendable), or another
        process is sending it.
    ConfigError
        A channel with open contacts is not configured (before anything is sent).
    """
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    if not 1 <= workers <= 64:
        raise InputError(f"workers must be between 1 and 64, got {workers}")
    local_now = _local_now(now, settings.retention.timezone)
    now_utc = local_now.astimezone(UTC)
    o = OutboxMessage

    def stamp() -> datetime:
        return now_utc if now is not None else datetime.now(UTC)

    with session_scope(settings) as session:
        camp = _campaign(session, campaign_id)
        if camp.status not in SENDABLE_CAMPAIGN_STATUSES:
            raise StateError(
                f"campaign {campaign_id} is {camp.status}; only planned campaigns (or ones "
                "whose sending was interrupted) can be sent — plan a new one with "
                "'churnguard campaign plan'"
            )
        codes = sorted(
            session.scalars(
                sa.select(o.channel)
                .where(o.campaign_id == campaign_id, o.status.in_(_OPEN))
                .distinct()
            ).all()
        )
        first = session.scalars(
            sa.select(CampaignMember.subscriber_id)
            .join(o, o.member_id == CampaignMember.id)
            .where(o.campaign_id == campaign_id, o.status.in_(_OPEN))
            .limit(1)
        ).all()
    # Everything that can be wrong with the setup fails here, before anything is sent.
    channels = {c: make_channel(settings, c, campaign_id=campaign_id, sleep=sleep) for c in codes}
    contact_details(settings, first)  # the warehouse and its subscribers table are there
    names = (
        _offer_names(settings) if codes else pd.DataFrame(columns=["offer", "offer_zh", "offer_en"])
    )
    report = SendReport(campaign_id=campaign_id, status=camp.status)
    recorder = _Recorder(settings, report, stamp=stamp)

    with _sender_lock(settings, campaign_id):
        with session_scope(settings) as session:
            camp = _campaign(session, campaign_id)
            if camp.status == "planned":
                camp.status = "sending"
                camp.launched_at = camp.launched_at or stamp()
        messages = {c: ch for c, ch in channels.items() if not isinstance(ch, CallListChannel)}
        if messages and settings.retention.in_quiet_hours(local_now.hour):
            resume = _quiet_end(local_now, settings.retention.quiet_end_hour).astimezone(UTC)
            with session_scope(settings) as session:
                session.execute(
                    sa.update(o)
                    .where(
                        o.campaign_id == campaign_id,
                        o.status.in_(_OPEN),
                        o.channel.in_(sorted(messages)),
                        sa.or_(o.not_before.is_(None), o.not_before < resume),
                    )
                    .values(not_before=resume)
                )
        elif messages:
            factories = {
                c: partial(make_channel, settings, c, campaign_id=campaign_id, sleep=sleep)
                for c in messages
            }
            _send_messages(
                settings,
                campaign_id,
                factories,
                names=names,
                now_utc=now_utc,
                batch=batch,
                workers=workers,
                recorder=recorder,
            )
        for ch in channels.values():
            if isinstance(ch, CallListChannel):
                _send_call_list(settings, campaign_id, ch, names=names, recorder=recorder)
        _finish(settings, campaign_id, report, now_utc=now_utc, messages=sorted(messages))
    log.info(
        "campaign %d: %d delivered, %d failed, %d cancelled, %d deferred",
        campaign_id,
        report.delivered,
        report.failed,
        report.cancelled,
        report.deferred,
    )
    return report


def _finish(
    settings: Settings,
    campaign_id: int,
    report: SendReport,
    *,
    now_utc: datetime,
    messages: list[str],
) -> None:
    """Count what is still open and deferred; the campaign is sent when nothing is open."""
    o = OutboxMessage
    with session_scope(settings) as session:
        open_rows = session.execute(
            sa.select(o.channel, o.status, o.not_before).where(
                o.campaign_id == campaign_id, o.status.in_(_OPEN)
            )
        ).all()
        camp = _campaign(session, campaign_id)
        if not open_rows and camp.status in ("planned", "sending"):
            camp.status = "sent"
        report.status = camp.status
    for channel, status, not_before in open_rows:
        if status == "pending":
            report.pending += 1
        else:
            report.open_failed += 1
        if not_before is None or channel not in messages:
            continue
        nb = not_before if not_before.tzinfo else not_before.replace(tzinfo=UTC)
        if nb > now_utc:
            report.deferred += 1
            report.by_channel.setdefault(channel, {})
            report.by_channel[channel]["deferred"] = (
                report.by_channel[channel].get("deferred", 0) + 1
            )
            report.resume_at = nb if report.resume_at is None else min(report.resume_at, nb)


def outbox_status(settings: Settings, campaign_id: int) -> dict[str, Any]:
    """Outbox counts of a campaign by channel × status, with the campaign's status.

    Raises
    ------
    NotFoundError
        Unknown campaign.
    """
    o = OutboxMessage
    with session_scope(settings) as session:
        camp = _campaign(session, campaign_id)
        counts = session.execute(
            sa.select(o.channel, o.status, sa.func.count())
            .where(o.campaign_id == campaign_id)
            .group_by(o.channel, o.status)
            .order_by(o.channel, o.status)
        ).all()
        status = camp.status
    channels: dict[str, dict[str, int]] = {}
    total = dict.fromkeys(OUTBOX_STATUSES, 0)
    for channel, st, n in counts:
        channels.setdefault(channel, dict.fromkeys(OUTBOX_STATUSES, 0))[st] = int(n)
        total[st] = total.get(st, 0) + int(n)
    return {"campaign_id": campaign_id, "status": status, "channels": channels, "total": total}
