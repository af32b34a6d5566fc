"""The append-only audit log: every write and every sign-in, without personal data.

Only :func:`append` writes (an INSERT); there is no update or delete anywhere.
``details`` must hold identifiers and parameters, never names, phone numbers,
ID numbers or free text typed about a customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from ..errors import InputError
from ..warehouse.operational import open_operational
from .store import AuditEvent

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["ACTIONS", "append", "campaign_planned", "list_events"]

_A = cast(sa.Table, AuditEvent.__table__)

ACTIONS = (
    "login.success",
    "login.failure",
    "logout",
    "user.created",
    "user.revoked",
    "campaign.planned",
    "campaign.launched",
    "contact.result_recorded",
    "rule.changed",
    "model.promoted",
    "customer.viewed_clear_text",
    "warnings.viewed_clear_text",
)


def append(
    settings: Settings,
    *,
    actor: str,
    role: str | None,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event (its own transaction, so a failed write is still recorded)."""
    if action not in ACTIONS:
        raise InputError(f"unknown audit action {action!r}")
    with open_operational(settings).begin() as conn:
        conn.execute(
            sa.insert(_A).values(
                at=at or datetime.now(UTC),
                actor=actor[:64],
                role=role,
                action=action,
                target=None if target is None else str(target)[:128],
                details=details or {},
                request_id=request_id,
            )
        )


def campaign_planned(
    settings: Settings,
    *,
    actor: str,
    role: str | None,
    plan: dict[str, Any],
    params: dict[str, Any],
    request_id: str | None,
) -> None:
    """Audit a planned campaign (retention, win-back or care): its parameters and arm sizes.

    ``plan`` is the planning result's ``to_dict()`` (``campaign_id``, ``treated``,
    ``control``); ``params`` what the caller asked for (no personal data).
    """
    append(
        settings,
        actor=actor,
        role=role,
        action="campaign.planned",
        target=f"campaign:{plan['campaign_id']}",
        details={**params, "treated": plan["treated"], "control": plan["control"]},
        request_id=request_id,
    )


def list_events(
    settings: Settings,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    """Events matching the filters, newest first, with the total count before paging."""
    where = []
    if actor is not None:
        where.append(_A.c.actor == actor)
    if action is not None:
        where.append(_A.c.action == action)
    if target is not None:
        where.append(_A.c.target == target)
    if since is not None:
        where.append(_A.c.at >= since)
    if until is not None:
        where.append(_A.c.at < until)
    with open_operational(settings).connect() as conn:
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(_A).where(*where)).scalar_one()
        )
        rows = (
            conn.execute(
                sa.select(_A).where(*where).order_by(_A.c.id.desc()).limit(limit).offset(offset)
            )
            .mappings()
            .all()
        )
    events = [
        {
            "id": int(r["id"]),
            "at": r["at"].isoformat(),
            "actor": r["actor"],
            "role": r["role"],
            "action": r["action"],
            "target": r["target"],
            "details": r["details"],
            "request_id": r["request_id"],
        }
        for r in rows
    ]
    return total, events
