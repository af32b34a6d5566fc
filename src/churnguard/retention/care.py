"""Proactive care programs (客户关怀): contact customers before any risk shows.

A program (workspace ``care.yaml``) is a trigger, an audience, an offer or message of
the offer catalog, a channel and a holdout share:

* ``onboarding`` — customers in their first months (新客户关怀);
* ``contract_end`` — contracts ending within N days (合约到期提醒);
* ``holiday`` — greetings and loyalty points, only in the listed calendar months;
* ``detractor`` — survey answers with NPS ≤ n or CSAT ≤ c, followed up within N days.

``care run PROGRAM`` stores a campaign (purpose ``care``) in the same tables as
retention campaigns: a random holdout of each stratum (value tier × service type) is
planned but never contacted, the treated get one outbox message each (exactly-once
delivery by ``campaign send``), and the shared contact policy
(:func:`~churnguard.retention.planning.recently_contacted`) keeps anyone contacted by
any campaign within ``retention.min_days_between_contacts`` days out. Outcomes are
resolved from the churn labels like retention (``campaign resolve``), so each
program's effect is its retention rate against its holdout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config.files import load_yaml_model
from ..errors import InputError, NotFoundError
from ..months import add_months, month_start, parse_month
from .actions import offer_cost
from .catalog import OfferCatalog, load_catalog
from .planning import PlanResult, _store, draw_holdout, opted_out, recently_contacted

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "Audience",
    "CarePrograms",
    "CareRun",
    "Program",
    "Trigger",
    "care_audience",
    "load_programs",
    "run_program",
]

log = logging.getLogger(__name__)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Model):
    """Who is due: see the module docstring for the kinds and their parameters."""

    kind: Literal["onboarding", "contract_end", "holiday", "detractor"]
    months: int | tuple[int, ...] | None = None
    days_before: int | None = Field(None, ge=1, le=365)
    nps_max: int | None = Field(None, ge=0, le=10)
    csat_max: int | None = Field(None, ge=1, le=5)
    within_days: int = Field(7, ge=1, le=60)

    @model_validator(mode="after")
    def _parameters(self) -> Trigger:
        if self.kind == "onboarding" and not isinstance(self.months, int):
            raise ValueError("onboarding needs months: N (tenure up to N months)")
        if self.kind == "holiday":
            ms = self.months if isinstance(self.months, tuple) else ()
            if not ms or any(not 1 <= m <= 12 for m in ms):
                raise ValueError("holiday needs months: [calendar months 1-12]")
        if self.kind == "contract_end" and self.days_before is None:
            raise ValueError("contract_end needs days_before: N")
        if self.kind == "detractor" and self.nps_max is None and self.csat_max is None:
            raise ValueError("detractor needs nps_max and/or csat_max")
        return self


class Audience(_Model):
    service_types: tuple[str, ...] = ()
    value_tiers: tuple[str, ...] = ()
    customer_types: tuple[str, ...] = ()


class Program(_Model):
    """One care program: trigger + audience + offer/message + channel + holdout."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name_en: str
    name_zh: str
    trigger: Trigger
    audience: Audience = Audience()
    offer: str
    channel: str
    holdout: float = Field(0.2, ge=0, lt=1)
    marketing: bool = Field(True, description="false: a service contact that may reach opt-outs")
    queue: str = "care_team"


class CarePrograms(_Model):
    programs: tuple[Program, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> CarePrograms:
        codes = [p.code for p in self.programs]
        if len(set(codes)) != len(codes):
            raise ValueError("program codes must be unique")
        return self

    def program(self, code: str) -> Program:
        for p in self.programs:
            if p.code == code:
                return p
        raise NotFoundError(
            f"no care program {code!r}; the programs are {', '.join(p.code for p in self.programs)}"
            " ('churnguard care list')"
        )


def _default_path() -> Path:
    return Path(str(resources.files("churnguard.retention") / "default_care.yaml"))


def load_programs(
    settings: Settings | None = None,
    *,
    path: Path | None = None,
    catalog: OfferCatalog | None = None,
) -> CarePrograms:
    """The workspace's care programs (``care.yaml``, created from the defaults), checked
    against the offer catalog (each program's offer and channel must exist there)."""
    workspace = settings.workspace if settings is not None else None
    if settings is not None and path is None:
        path = settings.workspace / settings.retention.care_file
        if not path.exists():
            path = None
    progs = load_yaml_model(
        CarePrograms,
        path=path,
        workspace=workspace,
        file_name="care.yaml",
        default=_default_path(),
        what="care program file",
    )
    catalog = catalog or load_catalog(workspace=workspace)
    for p in progs.programs:
        try:
            offer = catalog.offer(p.offer)
        except KeyError:
            raise InputError(
                f"care program {p.code}: offer {p.offer!r} is not in the offer catalog; "
                "add it to offers.yaml or pick one of " + ", ".join(o.code for o in catalog.offers)
            ) from None
        if p.channel not in offer.channels:
            raise InputError(
                f"care program {p.code}: offer {p.offer} is not sent by {p.channel}; "
                f"use one of {', '.join(offer.channels)}"
            )
    return progs


def care_audience(
    settings: Settings, program: Program, *, as_of: date, run_date: date
) -> pd.DataFrame:
    """The active customers the program's trigger names, with value, risk and deadline."""
    from ..value.customer_value import customer_value
    from ..warehouse.analytical import connect
    from ..warehouse.analytical import raw as raw_duckdb

    tr = program.trigger
    backend = connect(settings, read_only=True)
    try:
        con = raw_duckdb(backend)
        present = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        tables = {n: backend.table(n) for n in ("subscribers", "billing", "usage") if n in present}
        risk = None
        if "scores" in present:
            rows = con.execute(
                "SELECT model_version FROM scores WHERE as_of = ? ORDER BY scored_at DESC LIMIT 1",
                [as_of],
            ).fetchall()
            if rows:
                s = backend.table("scores")
                risk = s.filter(s.as_of == as_of, s.model_version == rows[0][0]).select(
                    "subscriber_id", "churn_probability"
                )
        value = customer_value(tables, as_of=as_of, settings=settings.value, risk=risk)
        subs = backend.table("subscribers")
        base = value.join(
            subs.select("subscriber_id", "activation_date", "contract_end_date", "status"),
            "subscriber_id",
        )
        base = base.filter(base.status != "churned")
        deadline_default = run_date + timedelta(days=settings.retention.contact_days + 2)
        if tr.kind == "onboarding":
            assert isinstance(tr.months, int)
            first = add_months(as_of, 1 - tr.months)
            base = base.filter(base.activation_date >= first)
        elif tr.kind == "contract_end":
            assert tr.days_before is not None
            base = base.filter(
                base.contract_end_date >= run_date,
                base.contract_end_date <= run_date + timedelta(days=tr.days_before),
            )
        elif tr.kind == "holiday":
            months = tr.months if isinstance(tr.months, tuple) else ()
            if run_date.month not in months:
                raise InputError(
                    f"care program {program.code} runs in calendar months "
                    f"{', '.join(map(str, months))}, not on {run_date:%Y-%m-%d}; pass --run-date "
                    "in one of them or edit its trigger in care.yaml"
                )
        df: pd.DataFrame = base.execute()
        if tr.kind == "detractor":
            if "surveys" not in present:
                raise NotFoundError("no surveys in the warehouse: the detractor program needs them")
            cond = []
            if tr.nps_max is not None:
                cond.append(f"nps <= {int(tr.nps_max)}")
            if tr.csat_max is not None:
                cond.append(f"csat <= {int(tr.csat_max)}")
            surveys = con.execute(
                f"""SELECT subscriber_id, max(CAST(surveyed_at AS DATE)) AS surveyed_on
                    FROM surveys WHERE ({" OR ".join(cond)})
                      AND surveyed_at >= ? AND surveyed_at < ?
                    GROUP BY 1""",
                [as_of, add_months(as_of, 1)],
            ).df()
            df = df.merge(surveys, on="subscriber_id", how="inner")
            due = pd.to_datetime(df["surveyed_on"]).dt.date + timedelta(days=tr.within_days)
            df["deadline"] = [max(d, run_date) for d in due]
        else:
            df["deadline"] = deadline_default
    finally:
        backend.disconnect()
    a = program.audience
    for field_name, column in (
        ("service_types", "service_type"),
        ("value_tiers", "value_tier"),
        ("customer_types", "customer_type"),
    ):
        allowed = getattr(a, field_name)
        if allowed and column in df.columns:
            df = df[df[column].isin(allowed)]
    return df.reset_index(drop=True)


@dataclass
class CareRun:
    """A care program run: the campaign it stored and who was left out."""

    program: str
    plan: PlanResult
    audience: int
    excluded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "program": self.program,
            "audience": self.audience,
            **self.plan.to_dict(),
            "purpose": "care",
            "excluded": dict(self.excluded),
        }


def run_program(
    settings: Settings,
    code: str,
    *,
    as_of: date | str,
    run_date: date | None = None,
    budget: float | None = None,
    holdout: float | None = None,
    created_by: str = "cli",
) -> CareRun:
    """Plan, and store, one run of care program ``code`` for the data of ``as_of``.

    ``budget`` caps the expected cost (contact + accept rate × offer cost); when the
    audience costs more, the customers with the highest lifetime value go first.
    """
    month = month_start(parse_month(as_of))
    today = run_date or datetime.now(UTC).date()
    catalog = load_catalog(workspace=settings.workspace)
    program = load_programs(settings, catalog=catalog).program(code)
    share = program.holdout if holdout is None else holdout
    if not 0 <= share < 1:
        raise InputError(f"--holdout must be in [0, 1), got {share}")
    if budget is not None and budget <= 0:
        raise InputError(f"--budget must be positive, got {budget}")
    df = care_audience(settings, program, as_of=month, run_date=today)
    audience = len(df)
    excluded: dict[str, int] = {}
    contacted = df["subscriber_id"].isin(recently_contacted(settings, run_date=today))
    excluded["contacted_recently"] = int(contacted.sum())
    df = df[~contacted]
    if program.marketing:
        refused = df["subscriber_id"].isin(opted_out(settings))
        excluded["opted_out"] = int(refused.sum())
        df = df[~refused]
    offer = catalog.offer(program.offer)
    channel = catalog.channel(program.channel)
    arpu = df["arpu_3m"].fillna(0).to_numpy(dtype=float)
    taken = offer_cost(offer.cost.kind, offer.cost.amount, offer.cost.months, arpu)
    df = df.assign(cost=channel.contact_cost + offer.accept_rate * taken)
    clv = df["clv"] if "clv" in df.columns else df["arpu_3m"] * 0
    df = df.assign(clv=clv.fillna(0)).sort_values("clv", ascending=False, kind="stable")
    # the holdout costs nothing: the treated spend about (1 - holdout) of the budget
    if budget is not None:
        within = (df["cost"].cumsum() * (1 - share) <= budget).to_numpy()
        excluded["over_budget"] = int((~within).sum())
        df = df[within]
    if df.empty:
        raise NotFoundError(
            f"care program {code}: nobody is due for {month:%Y-%m} (audience {audience}, "
            f"left out {excluded}); try another month or run day"
        )
    p = df["churn_probability"] if "churn_probability" in df.columns else None
    chosen = pd.DataFrame(
        {
            "subscriber_id": df["subscriber_id"].astype(str),
            "level": None,
            "value_tier": df["value_tier"].astype(str),
            "churn_probability": (p.fillna(0) if p is not None else 0.0),
            "clv": df["clv"].astype(float),
            "arpu_3m": df["arpu_3m"].astype(float),
            "top_category": program.code,
            "churn_type": None,
            "service_type": df["service_type"],
            "region": df["region"],
            "queue": program.queue,
            "offer": program.offer,
            "channel": program.channel,
            "save": 0.0,
            "cost": df["cost"].astype(float),
            "value": 0.0,
            "deadline": df["deadline"],
        }
    ).reset_index(drop=True)
    strata = ("value_tier", "service_type")
    seed = settings.retention.seed + month.year * 100 + month.month + sum(map(ord, program.code))
    control = draw_holdout(chosen, share=share, seed=seed, strata=strata)
    treated = chosen[~control]
    result = PlanResult(
        campaign_id=0,
        as_of=month,
        budget=float(budget if budget is not None else chosen["cost"].sum()),
        effect_source=f"care:{program.code}",
        candidates=audience,
        excluded=excluded,
        treated=len(treated),
        control=int(control.sum()),
        objective=0.0,
        bound=0.0,
        expected_cost=float(treated["cost"].sum()),
        by_offer={program.offer: len(treated)},
        by_channel={program.channel: len(treated)},
        status="rule",
        chosen=chosen.assign(arm=np.where(control, "control", "treatment")),
    )
    result.campaign_id = _store(
        settings,
        chosen,
        control=control,
        result=result,
        share=share,
        today=today,
        name=f"care {program.code} {month:%Y-%m}",
        created_by=created_by,
        purpose="care",
        strata=strata,
    )
    log.info(
        "care program %s: campaign %d, %d treated, %d holdout",
        program.code,
        result.campaign_id,
        result.treated,
        result.control,
    )
    return CareRun(program=program.code, plan=result, audience=audience, excluded=excluded)
