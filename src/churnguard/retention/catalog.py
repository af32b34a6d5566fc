"""The offer catalog: offers, their cost models, eligibility, channels and prior effects."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config.files import load_yaml_model

__all__ = ["Channel", "CostModel", "Eligibility", "Offer", "OfferCatalog", "load_catalog"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channel(_Model):
    """A contact channel with its cost per contact, relative effect and capacity."""

    code: str
    name_en: str
    name_zh: str
    contact_cost: float = Field(ge=0)
    effect: float = Field(gt=0, le=1, description="save effect relative to a phone call")
    capacity: int = Field(ge=0, description="contacts per working day")


class CostModel(_Model):
    """Cost of an accepted offer: fixed, a share of ARPU over months, or per month."""

    kind: Literal["fixed", "arpu_pct", "per_month"]
    amount: float = Field(ge=0)
    months: int = Field(1, ge=1)


class Eligibility(_Model):
    service_types: tuple[str, ...] = ()
    value_tiers: tuple[str, ...] = ()
    churn_types: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


class Offer(_Model):
    """A retention (or win-back, or care) offer."""

    code: str
    name_en: str
    name_zh: str
    cost: CostModel
    accept_rate: float = Field(gt=0, le=1)
    channels: tuple[str, ...] = Field(min_length=1)
    eligible: Eligibility = Eligibility()
    effect: dict[str, float]
    purpose: Literal["retention", "winback", "care"] = "retention"

    @model_validator(mode="after")
    def _effect_has_default(self) -> Offer:
        if "default" not in self.effect:
            raise ValueError(f"offer {self.code}: effect needs a 'default' entry")
        bad = {k: v for k, v in self.effect.items() if not -1 < v < 1}
        if bad:
            raise ValueError(f"offer {self.code}: effects must lie in (-1, 1), got {bad}")
        return self


class OfferCatalog(_Model):
    channels: tuple[Channel, ...] = Field(min_length=1)
    offers: tuple[Offer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> OfferCatalog:
        known = {c.code for c in self.channels}
        for o in self.offers:
            unknown = set(o.channels) - known
            if unknown:
                raise ValueError(f"offer {o.code} names unknown channels {sorted(unknown)}")
        codes = [o.code for o in self.offers]
        if len(set(codes)) != len(codes):
            raise ValueError("offer codes must be unique")
        return self

    def channel(self, code: str) -> Channel:
        for c in self.channels:
            if c.code == code:
                return c
        raise KeyError(code)

    def offer(self, code: str) -> Offer:
        for o in self.offers:
            if o.code == code:
                return o
        raise KeyError(code)


def _default_path() -> Path:
    return Path(str(resources.files("churnguard.retention") / "default_offers.yaml"))


def load_catalog(path: Path | None = None, *, workspace: Path | None = None) -> OfferCatalog:
    """The offer catalog of a workspace (``offers.yaml``, created from the defaults).

    Raises
    ------
    ConfigError
        For unreadable YAML or an invalid catalog, naming the offer and field.
    """
    return load_yaml_model(
        OfferCatalog,
        path=path,
        workspace=workspace,
        file_name="offers.yaml",
        default=_default_path(),
        what="offer catalog",
    )
