"""Campaigns in the operational database: members (treated and control), the contact
outbox, contact results, and fitted uplift models (see migration 0003_retention).

A campaign's members are written once at planning time. Each treated member gets
one outbox row with a unique idempotency key; ``campaign send`` moves outbox rows
from ``pending`` to ``delivered`` (or ``failed``), so a crashed run is simply rerun.
Agents' results go to ``contact_results`` (append-only history) and to the member's
``result``; outcomes (retained / churned) are resolved from the data afterwards.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..warehouse.operational import Base

__all__ = [
    "ARMS",
    "CONTACT_RESULTS",
    "OUTCOMES",
    "Campaign",
    "CampaignMember",
    "ContactResult",
    "OutboxMessage",
    "UpliftModel",
]

ARMS = ("treatment", "control")
CONTACT_RESULTS = ("reached", "accepted", "declined", "unreachable")
OUTCOMES = ("retained", "churned_voluntary", "churned_passive", "churned_other")


class Campaign(Base):
    """One planned campaign: who is treated with what, who is held out, at what budget."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(16))  # retention | winback | care
    name: Mapped[str] = mapped_column(String(128))
    as_of: Mapped[date] = mapped_column(Date)
    planned_on: Mapped[date] = mapped_column(Date)
    budget: Mapped[float] = mapped_column(Float)
    holdout_share: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))  # planned | sending | sent | resolved
    effect_source: Mapped[str] = mapped_column(String(64))  # "priors" or "uplift:<version>"
    model_version: Mapped[str | None] = mapped_column(String(64))
    objective: Mapped[float] = mapped_column(Float)  # expected net value of the plan
    bound: Mapped[float] = mapped_column(Float)  # solver's proven upper bound
    expected_cost: Mapped[float] = mapped_column(Float)
    treated: Mapped[int] = mapped_column(Integer)
    control: Mapped[int] = mapped_column(Integer)
    observation_end: Mapped[date] = mapped_column(Date)  # last churn month counted
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignMember(Base):
    """A customer in a campaign: treated (offer, channel, deadline) or held out as control."""

    __tablename__ = "campaign_members"
    __table_args__ = (UniqueConstraint("campaign_id", "subscriber_id", name="uq_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    subscriber_id: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(10))  # treatment | control
    stratum: Mapped[str] = mapped_column(String(64))  # e.g. "red|high"
    level: Mapped[str | None] = mapped_column(String(8))
    value_tier: Mapped[str | None] = mapped_column(String(16))
    churn_probability: Mapped[float] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    arpu_3m: Mapped[float | None] = mapped_column(Float)
    top_category: Mapped[str | None] = mapped_column(String(32))
    churn_type: Mapped[str | None] = mapped_column(String(16))
    service_type: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    # planned action (treatment arm; for control: what it would have got)
    offer: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    expected_save: Mapped[float | None] = mapped_column(Float)
    expected_cost: Mapped[float | None] = mapped_column(Float)
    expected_value: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[date | None] = mapped_column(Date)
    contact_status: Mapped[str] = mapped_column(String(16))  # none | pending | sent | failed
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[str | None] = mapped_column(String(16))  # CONTACT_RESULTS
    result_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(24))  # OUTCOMES
    outcome_month: Mapped[date | None] = mapped_column(Date)
    cost: Mapped[float | None] = mapped_column(Float)  # actual cost once the result is known


class OutboxMessage(Base):
    """One contact to deliver; its idempotency key makes retried deliveries harmless."""

    __tablename__ = "contact_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("campaign_members.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContactResult(Base):
    """Append-only history of results recorded by agents (CLI now, API later)."""

    __tablename__ = "contact_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("campaign_members.id"))
    subscriber_id: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UpliftModel(Base):
    """A multi-treatment uplift model fitted on resolved campaigns."""

    __tablename__ = "uplift_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))
    learner: Mapped[str] = mapped_column(String(32))
    campaigns: Mapped[list[int]] = mapped_column(JSON)  # campaigns it was fitted on
    rows: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, object]] = mapped_column(JSON)  # Qini / AUUC on held-out campaigns
    artifact_path: Mapped[str] = mapped_column(String(256))
    checksum: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # active | retired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
