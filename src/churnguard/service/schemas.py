"""Request and response bodies of the API (unknown fields in a request are refused)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CampaignPlanIn",
    "CareRunIn",
    "ConditionChange",
    "ContactResultIn",
    "Health",
    "Me",
    "Page",
    "RuleChangeIn",
    "ScoreOut",
    "ScorePayloadOut",
    "WinbackPlanIn",
]

_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignPlanIn(_In):
    """Plan a retention campaign for the warnings of a month."""

    as_of: str = Field(pattern=_MONTH, description="the warnings' month, YYYY-MM")
    budget: float = Field(gt=0, description="total expected cost allowed")
    holdout: float | None = Field(None, ge=0, lt=1, description="control group share")
    explore: float = Field(0.0, ge=0, le=1, description="test-and-learn share")
    name: str | None = Field(None, max_length=128)


class WinbackPlanIn(_In):
    """Plan a win-back campaign for customers who churned up to a month."""

    as_of: str = Field(pattern=_MONTH, description="last month of churn considered, YYYY-MM")
    budget: float = Field(gt=0, description="total expected cost allowed")
    holdout: float | None = Field(None, ge=0, lt=1, description="control group share")
    name: str | None = Field(None, max_length=128)


class CareRunIn(_In):
    """Run a care program for the data of a month."""

    as_of: str = Field(pattern=_MONTH, description="month of the data, YYYY-MM")
    run_date: date | None = Field(None, description="the run day [default: today]")
    budget: float | None = Field(None, gt=0, description="cap on the expected cost")
    holdout: float | None = Field(None, ge=0, lt=1, description="holdout share")


class ContactResultIn(_In):
    """The outcome of one contact with a customer of a campaign."""

    subscriber_id: str = Field(min_length=1, max_length=64)
    result: Literal["reached", "accepted", "declined", "unreachable"]
    note: str | None = Field(None, max_length=1000)


class ConditionChange(_In):
    """New threshold (``value``) or ``factor`` of a rule's condition, by position (0-based)."""

    index: int = Field(ge=0)
    value: float | None = None
    factor: float | None = None


class RuleChangeIn(_In):
    """Mute/unmute a warning rule or change its parameters."""

    muted: bool | None = None
    severity: Literal["red", "orange", "yellow"] | None = None
    min_members: int | None = Field(None, ge=1)
    conditions: list[ConditionChange] | None = None


class ScoreOut(BaseModel):
    """One subscriber's churn risk now."""

    subscriber_id: str
    as_of: str
    model_version: str
    churn_probability: float
    level: str | None
    source: Literal["stored", "computed"]
    categories: list[str]
    reasons_zh: list[str]
    reasons_en: list[str]


class ScorePayloadOut(BaseModel):
    """Churn risk of a posted feature row."""

    model_version: str
    churn_probability: float
    categories: list[str]
    reasons_zh: list[str]
    reasons_en: list[str]
    missing_features: list[str]


class Page(BaseModel):
    """One page of a list: ``total`` matching items, ``items`` from ``offset``."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class Health(BaseModel):
    """Whether the service can reach both databases."""

    status: Literal["ok", "degraded"]
    operational: str
    warehouse: str
    version: str


class Me(BaseModel):
    """The signed-in user."""

    name: str
    role: str
    queues: list[str]
    via: str
    clear_text: bool
