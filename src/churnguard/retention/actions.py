"""The action table: every eligible (customer, offer, channel) with expected value and cost.

``value = P(save | action) × CLV − expected cost``, where ``P(save | action)``
comes from the catalog's priors (churn probability × prior effect of the offer
for the customer's top reason × channel effect) or from a fitted uplift model.
Built with one cross join and column operations — no loop over customers.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import InputError
from .catalog import OfferCatalog

__all__ = ["EffectModel", "build_actions", "offer_cost", "offer_pairs"]

_NEED = ("subscriber_id", "churn_probability", "clv", "arpu_3m")


class EffectModel(Protocol):
    """Predicts the incremental save probability of an action (uplift), per customer."""

    def predict(self, customers: pd.DataFrame, *, offer: str) -> np.ndarray:
        """Reduction of churn probability if the customer gets ``offer`` (can be negative)."""
        ...


def offer_cost(kind: Any, amount: Any, months: Any, arpu: np.ndarray) -> np.ndarray:
    """Cost of accepted offers: ``fixed`` amount, ``arpu_pct`` × ARPU × months, or per month."""
    kind_a = np.asarray(kind, dtype=object)
    amount_a = np.asarray(amount, dtype=float)
    months_a = np.asarray(months, dtype=float)
    out: np.ndarray = np.select(
        [kind_a == "fixed", kind_a == "arpu_pct"],
        [amount_a + 0 * arpu, amount_a * np.clip(arpu, 0, None) * months_a],
        default=amount_a * months_a + 0 * arpu,
    )
    return out


def offer_pairs(catalog: OfferCatalog, *, purpose: str = "retention") -> pd.DataFrame:
    """One row per (offer, channel) of the catalog with its cost and effect parameters."""
    rows = []
    for o in catalog.offers:
        if o.purpose != purpose:
            continue
        for ch in o.channels:
            c = catalog.channel(ch)
            rows.append(
                {
                    "offer": o.code,
                    "channel": ch,
                    "cost_kind": o.cost.kind,
                    "cost_amount": o.cost.amount,
                    "cost_months": o.cost.months,
                    "accept_rate": o.accept_rate,
                    "contact_cost": c.contact_cost,
                    "channel_effect": c.effect,
                }
            )
    return pd.DataFrame(rows)


def _eligible(df: pd.DataFrame, catalog: OfferCatalog) -> np.ndarray:
    ok = np.ones(len(df), dtype=bool)
    for o in catalog.offers:
        rows = (df["offer"] == o.code).to_numpy()
        if not rows.any():
            continue
        cond = np.ones(len(df), dtype=bool)
        for field, column in (
            ("service_types", "service_type"),
            ("value_tiers", "value_tier"),
            ("churn_types", "churn_type"),
            ("segments", "segment"),
        ):
            allowed = getattr(o.eligible, field)
            if allowed and column in df.columns:
                cond &= df[column].isin(allowed).to_numpy()
        ok &= ~rows | cond
    return ok


def build_actions(
    customers: pd.DataFrame,
    *,
    catalog: OfferCatalog,
    effect_model: EffectModel | None = None,
    purpose: str = "retention",
) -> pd.DataFrame:
    """All eligible actions with ``value`` and ``cost`` for the optimiser.

    Parameters
    ----------
    customers
        One row per candidate: ``subscriber_id``, ``churn_probability``, ``clv``,
        ``arpu_3m``, and optionally ``top_category``, ``churn_type``,
        ``service_type``, ``value_tier``, ``segment``.
    catalog
        Offers and channels.
    effect_model
        When given, its predicted uplift replaces the catalog's priors.
    """
    missing = [c for c in _NEED if c not in customers.columns]
    if missing:
        raise InputError(f"customers for the action table lack columns {missing}")
    pairs = offer_pairs(catalog, purpose=purpose)
    if pairs.empty or customers.empty:
        return pd.DataFrame(columns=[*customers.columns, *pairs.columns, "save", "cost", "value"])
    df = customers.merge(pairs, how="cross")
    df = df[_eligible(df, catalog)].reset_index(drop=True)
    arpu = df["arpu_3m"].fillna(0).clip(lower=0).to_numpy(dtype=float)
    taken = offer_cost(df["cost_kind"], df["cost_amount"], df["cost_months"], arpu)
    df["cost"] = df["contact_cost"] + df["accept_rate"] * taken
    if effect_model is None:
        category = (
            df["top_category"]
            if "top_category" in df.columns
            else pd.Series("default", index=df.index)
        )
        prior = np.zeros(len(df))
        for o in catalog.offers:
            rows = (df["offer"] == o.code).to_numpy()
            if rows.any():
                eff = category[rows].map(o.effect).fillna(o.effect["default"])
                prior[rows] = eff.to_numpy(dtype=float)
        save = df["churn_probability"].clip(0, 1) * prior * df["channel_effect"]
    else:
        # The uplift model learned each offer's effect from outcomes of contacts made
        # through every channel (test cells draw channels at random too), so the
        # catalog's prior channel factors are not applied on top of it.
        save = pd.Series(np.zeros(len(df)), index=df.index)
        for offer, idx in df.groupby("offer").groups.items():
            part = df.loc[idx]
            save.loc[idx] = effect_model.predict(part, offer=str(offer))
    df["save"] = save
    df["value"] = df["save"] * df["clv"].fillna(0) - df["cost"]
    return df
