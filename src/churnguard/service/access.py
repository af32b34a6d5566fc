"""Object-level access: which customers an agent may see (those warned into their queues)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import sqlalchemy as sa

from ..errors import NotFoundError
from ..retention.store import CampaignMember
from ..warehouse.operational import open_operational
from ..warnings.store import CustomerWarning

if TYPE_CHECKING:
    from ..config import Settings
    from .auth import Principal

__all__ = ["check_customer", "check_member"]

_W = cast(sa.Table, CustomerWarning.__table__)
_M = cast(sa.Table, CampaignMember.__table__)


def _not_found(subscriber_id: str) -> NotFoundError:
    # the same answer whether the customer exists or not, so nothing leaks
    return NotFoundError(f"no customer {subscriber_id} in your queues")


def check_customer(settings: Settings, principal: Principal, subscriber_id: str) -> None:
    """Agents: the customer must have an open warning in one of their queues (else 404)."""
    if principal.role != "agent":
        return
    if not principal.queues:
        raise _not_found(subscriber_id)
    with open_operational(settings).connect() as conn:
        hit = conn.execute(
            sa.select(_W.c.id)
            .where(
                _W.c.subscriber_id == subscriber_id,
                _W.c.status == "open",
                _W.c.queue.in_(principal.queues),
            )
            .limit(1)
        ).first()
    if hit is None:
        raise _not_found(subscriber_id)


def check_member(
    settings: Settings, principal: Principal, *, campaign_id: int, subscriber_id: str
) -> None:
    """Agents: the campaign member must be in their queue, or warned into it (else 404)."""
    if principal.role != "agent":
        return
    with open_operational(settings).connect() as conn:
        queue = conn.execute(
            sa.select(_M.c.queue).where(
                _M.c.campaign_id == campaign_id, _M.c.subscriber_id == subscriber_id
            )
        ).scalar()
    if queue is not None and queue in principal.queues:
        return
    check_customer(settings, principal, subscriber_id)
