"""Early-warning settings: levels, deadlines, routing to queues, cooldown and pushes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LevelSettings", "PushSettings", "QueueRoute", "WarningSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelSettings(_Section):
    """How model probabilities become red / orange / yellow."""

    mode: Literal["precision", "capacity"] = Field(
        "precision",
        description="precision: each level's expected precision reaches its target; "
        "capacity: each level holds what the team can contact before its deadline",
    )
    precision_red: float = Field(0.5, gt=0, lt=1, description="expected precision of red")
    precision_orange: float = Field(0.3, gt=0, lt=1, description="... of red + orange")
    precision_yellow: float = Field(0.15, gt=0, lt=1, description="... of red + orange + yellow")
    capacity_red: int = Field(200, ge=0, description="red contacts the team makes per day")
    capacity_orange: int = Field(400, ge=0, description="orange contacts per day")
    capacity_yellow: int = Field(800, ge=0, description="yellow contacts per day")
    rank_by: Literal["probability", "expected_loss"] = Field(
        "probability", description="capacity mode: rank by probability or probability × CLV"
    )

    @model_validator(mode="after")
    def _ordered(self) -> LevelSettings:
        if not self.precision_red > self.precision_orange > self.precision_yellow:
            raise ValueError("precision targets must fall from red to orange to yellow")
        return self


class QueueRoute(_Section):
    """Send warnings matching all conditions to a queue (first match wins)."""

    queue: str
    value_tier: tuple[str, ...] | None = None
    customer_type: tuple[str, ...] | None = None
    service_type: tuple[str, ...] | None = None
    level: tuple[str, ...] | None = None
    churn_type: tuple[str, ...] | None = None


class PushSettings(_Section):
    """Where new warnings are pushed; secrets come from the environment only."""

    webhook_url: str | None = Field(None, description="JSON POST of new warnings")
    webhook_secret_env: str = Field(
        "CHURNGUARD_WEBHOOK_SECRET", description="environment variable holding the HMAC secret"
    )
    webhook_retries: int = Field(4, ge=0, le=10)
    webhook_timeout_s: float = Field(10.0, gt=0)
    smtp_host: str | None = Field(None, description="SMTP server for the e-mail digest")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "churnguard@localhost"
    smtp_to: tuple[str, ...] = ()
    smtp_password_env: str = Field("CHURNGUARD_SMTP_PASSWORD")
    smtp_user: str | None = None
    smtp_starttls: bool = False
    language: Literal["zh", "en"] = "zh"


class WarningSettings(_Section):
    """Graded early warnings for the retention team."""

    rules_file: str = Field("rules.yaml", description="rule parameters, relative to the workspace")
    levels: LevelSettings = LevelSettings()
    deadline_working_days_red: int = Field(1, ge=0, description="contact within N working days")
    deadline_working_days_orange: int = Field(3, ge=0)
    deadline_working_days_yellow: int = Field(5, ge=0)
    holidays: tuple[date, ...] = Field((), description="non-working days besides weekends")
    cooldown_days: int = Field(30, ge=0, description="no repeat warning unless the level rises")
    passive_arrears_months: int = Field(
        2, ge=1, description="arrears streak that marks a customer as heading for passive churn"
    )
    top_reasons: int = Field(3, ge=1, le=10)
    routes: tuple[QueueRoute, ...] = (
        QueueRoute(queue="collections", churn_type=("passive",)),
        QueueRoute(queue="key_accounts", value_tier=("high",)),
        QueueRoute(queue="group_accounts", customer_type=("group",)),
        QueueRoute(queue="outbound_red", level=("red",)),
    )
    default_queue: str = "care_team"
    push: PushSettings = PushSettings()
