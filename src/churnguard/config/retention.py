"""Retention settings: campaigns, control groups, contact policy and channel delivery."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ChannelDelivery", "RetentionSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelDelivery(_Section):
    """How contacts of one channel are delivered.

    ``kind = "webhook"``: a JSON POST per contact to a gateway (SMS, WeChat, app push);
    ``"smtp"``: one e-mail per contact; ``"call_list"``: rows of a call-centre
    worklist file (CSV/XLSX) under the workspace's ``reports/`` folder.
    """

    kind: str = Field("webhook", pattern="^(webhook|smtp|call_list)$")
    url: str | None = Field(None, description="webhook: the gateway's URL")
    secret_env: str = Field(
        "CHURNGUARD_GATEWAY_SECRET", description="environment variable with the HMAC secret"
    )
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(4, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)
    smtp_host: str | None = None
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "retention@localhost"
    smtp_user: str | None = None
    smtp_password_env: str = "CHURNGUARD_SMTP_PASSWORD"
    smtp_starttls: bool = False
    file_format: str = Field("xlsx", pattern="^(csv|xlsx)$", description="call_list file format")


def _default_delivery() -> dict[str, ChannelDelivery]:
    return {
        "sms": ChannelDelivery(kind="webhook"),
        "wechat": ChannelDelivery(kind="webhook"),
        "app_push": ChannelDelivery(kind="webhook"),
        "email": ChannelDelivery(kind="smtp"),
        "phone": ChannelDelivery(kind="call_list"),
    }


class RetentionSettings(_Section):
    """Campaign planning, control groups, the contact policy and delivery."""

    offers_file: str = Field("offers.yaml", description="offer catalog, relative to the workspace")
    holdout_share: float = Field(
        0.1, ge=0, lt=1, description="share of each stratum kept as an uncontacted control group"
    )
    min_days_between_contacts: int = Field(
        30, ge=0, description="no customer is contacted twice within N days (all campaigns)"
    )
    quiet_start_hour: int = Field(
        21, ge=0, le=23, description="no messages from this hour (local time) ..."
    )
    quiet_end_hour: int = Field(
        8, ge=0, le=23, description="... until this hour; equal hours: no quiet hours"
    )
    timezone: str | None = Field(
        None,
        description="IANA time zone of the customers for quiet hours, e.g. Asia/Shanghai "
        "[default: the machine's]",
    )
    contact_days: int = Field(
        5, ge=1, le=60, description="working days a campaign's contacts are spread over"
    )
    observation_months: int = Field(
        1, ge=1, le=6, description="months after the campaign in which a churn counts against it"
    )
    seed: int = Field(20241, description="seed of the random control-group draw")
    min_uplift_campaigns: int = Field(
        1, ge=1, description="campaigns with resolved outcomes needed before the uplift model"
    )
    min_uplift_rows: int = Field(
        2000, ge=100, description="resolved treated + control customers needed for the uplift model"
    )
    delivery: dict[str, ChannelDelivery] = Field(default_factory=_default_delivery)
    # win-back (挽回) of customers who already left
    winback_months: int = Field(
        6, ge=1, le=36, description="win back customers who churned in the last N months"
    )
    winback_observation_months: int = Field(
        1, ge=1, le=6, description="months after the campaign in which a return counts for it"
    )
    winback_queue: str = Field("winback_team", description="queue that works win-back contacts")
    care_file: str = Field(
        "care.yaml", description="proactive care programs (客户关怀), relative to the workspace"
    )
    teams: dict[str, str] = Field(
        default_factory=lambda: {
            "key_accounts": "key_account_team",
            "group_accounts": "key_account_team",
            "outbound_red": "outbound_team",
            "care_team": "care_team",
            "collections": "collections_team",
            "winback_team": "winback_team",
        },
        description="team of each queue, for team performance KPIs (unlisted queues: own team)",
    )

    @model_validator(mode="after")
    def _channels(self) -> RetentionSettings:
        if self.timezone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {self.timezone!r}; use an IANA name like Asia/Shanghai"
                ) from None
        for code, d in self.delivery.items():
            if d.kind == "smtp" and d.smtp_port <= 0:
                raise ValueError(f"delivery.{code}: smtp_port must be positive")
        return self

    def in_quiet_hours(self, hour: int) -> bool:
        """True when messages must wait (equal start and end hours: no quiet hours)."""
        s, e = self.quiet_start_hour, self.quiet_end_hour
        if s == e:
            return False
        return (s <= hour or hour < e) if s > e else (s <= hour < e)
