"""Churner personas: clusters of churners and high-risk customers, each with a readable profile.

Customers are described by a fixed set of interpretable indicators (tenure,
ARPU, usage change, complaints, arrears, contract, competitor signals ...),
rank-scaled so that a few extreme values do not make their own cluster, and
grouped by k-means; ``k`` is the one of ``ks`` with the best silhouette. A
profile names the indicators on which the cluster differs most from the whole
customer base (standardised mean difference), in Chinese and English.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import StateError
from .population import DEFAULT_MONTHS, data_window, high_risk_frame, labelled_frame
from .texts import Bi, label

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["PERSONA_FEATURES", "Persona", "PersonaResult", "churner_personas", "personas_from"]

PERSONA_FEATURES = (
    "tenure_months",
    "arpu_3m",
    "months_to_contract_end",
    "voice_chg",
    "data_chg",
    "viewing_chg",
    "complaints_6m",
    "complaints_network_6m",
    "dropped_call_rate_avg3",
    "arrears_months_6m",
    "late_payments_6m",
    "cancel_inquiries_3m",
    "port_out_queries_3m",
    "call_forward_offnet_3m",
    "calls_in_out_ratio_3m",
    "downgrades_6m",
    "csat_last",
    "group_churned_3m",
    "device_offline_days_avg3",
)
MIN_CUSTOMERS = 20
_TRAITS = 3


@dataclass(frozen=True)
class Trait:
    """One indicator on which a cluster stands out."""

    feature: str
    text_zh: str
    text_en: str
    cluster_mean: float
    base_mean: float
    effect: float  # standardised mean difference vs the base


@dataclass(frozen=True)
class Persona:
    """One cluster of churners / high-risk customers."""

    cluster: int
    name_zh: str
    name_en: str
    customers: int
    share: float
    churners: int
    high_risk: int
    main_service: str
    mean_arpu: float | None
    mean_tenure: float | None
    traits: list[Trait]
    profile_zh: str
    profile_en: str


@dataclass(frozen=True)
class PersonaResult:
    """The personas, largest first."""

    window: str
    customers: int
    k: int
    silhouette: float | None
    personas: list[Persona]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _describe(feature: str) -> Bi:
    from ..features import feature as feature_def

    try:
        f = feature_def(feature)
    except (KeyError, LookupError, ValueError):
        return Bi(feature, feature)
    return Bi(f.zh, f.en)


def _category(feature: str) -> Bi | None:
    from ..features import feature as feature_def

    try:
        cat = feature_def(feature).category
    except (KeyError, LookupError, ValueError):
        return None
    return Bi(cat.zh, cat.en)


def personas_from(
    people: pd.DataFrame,
    base: pd.DataFrame,
    *,
    ks: tuple[int, ...] = (3, 4, 5, 6),
    seed: int = 42,
    window: str = "",
) -> PersonaResult:
    """Cluster ``people`` (churners and high-risk rows, with ``kind`` churner|high_risk).

    ``base`` is the whole customer base the profiles compare against.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    cols = [c for c in PERSONA_FEATURES if c in people.columns and c in base.columns]
    if len(people) < MIN_CUSTOMERS or not cols:
        raise StateError(
            f"too few churners and high-risk customers to cluster ({len(people)}, need "
            f"{MIN_CUSTOMERS}); widen the window with --months or score more months"
        )
    x = people[cols].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    ref = base[cols].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    medians = ref.median().fillna(0.0)
    x = x.fillna(medians)
    ref = ref.fillna(medians)
    scaled = x.rank(pct=True).to_numpy()  # rank scaling: robust to heavy tails
    scaled = np.nan_to_num(scaled, nan=0.5)
    best: tuple[float, int, np.ndarray] | None = None
    for k in ks:
        if k >= len(people):
            continue
        labels = KMeans(n_clusters=k, n_init=5, random_state=seed).fit_predict(scaled)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(scaled, labels, random_state=seed))
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        raise StateError("the customers could not be split into clusters; widen the window")
    score, k, labels = best
    sd = ref.std(ddof=0).replace(0, np.nan)
    mean = ref.mean()
    personas = []
    for c in range(k):
        members = people[labels == c]
        xm = x[labels == c]
        effect = ((xm.mean() - mean) / sd).fillna(0.0)
        top = effect.abs().sort_values(ascending=False, kind="stable").index[:_TRAITS]
        traits = []
        for f in top:
            d = _describe(f)
            direction = Bi("偏高", "high") if effect[f] > 0 else Bi("偏低", "low")
            traits.append(
                Trait(
                    feature=f,
                    text_zh=f"{d.zh}{direction.zh}（{xm[f].mean():.2f}，全体 {mean[f]:.2f}）",
                    text_en=f"{d.en}: {direction.en} ({xm[f].mean():.2f} vs {mean[f]:.2f})",
                    cluster_mean=float(xm[f].mean()),
                    base_mean=float(mean[f]),
                    effect=float(effect[f]),
                )
            )
        service = (
            str(members["service_type"].mode().iloc[0])
            if "service_type" in members and members["service_type"].notna().any()
            else ""
        )
        svc = label("service_type", service)
        cat = _category(top[0]) if len(top) else None
        name = Bi(
            f"{svc.zh}·{cat.zh if cat else '综合'}型", f"{svc.en} · {cat.en if cat else 'mixed'}"
        )
        churners = int((members["kind"] == "churner").sum())
        arpu = float(members["arpu_3m"].mean()) if "arpu_3m" in members else None
        tenure = float(members["tenure_months"].mean()) if "tenure_months" in members else None
        zh = f"{len(members)} 名客户（已流失 {churners} 名），以{svc.zh}为主；" + "；".join(
            t.text_zh for t in traits
        )
        en = f"{len(members)} customers ({churners} churned), mostly {svc.en}; " + "; ".join(
            t.text_en for t in traits
        )
        personas.append(
            Persona(
                cluster=c,
                name_zh=name.zh,
                name_en=name.en,
                customers=len(members),
                share=len(members) / len(people),
                churners=churners,
                high_risk=len(members) - churners,
                main_service=service,
                mean_arpu=None if arpu is None or np.isnan(arpu) else arpu,
                mean_tenure=None if tenure is None or np.isnan(tenure) else tenure,
                traits=traits,
                profile_zh=zh,
                profile_en=en,
            )
        )
    personas.sort(key=lambda p: -p.customers)
    return PersonaResult(window, len(people), k, score, personas)


def people_of(labelled: pd.DataFrame, high_risk: pd.DataFrame) -> pd.DataFrame:
    """Churners of the window and high-risk customers of the newest scored month, once each."""
    churners = labelled[labelled["label"] == 1].assign(kind="churner")
    churners = churners.drop_duplicates("subscriber_id", keep="last")
    risky = high_risk.assign(kind="high_risk") if not high_risk.empty else high_risk
    if not risky.empty:
        risky = risky[~risky["subscriber_id"].isin(churners["subscriber_id"])]
    return pd.concat([churners, risky], ignore_index=True)


def churner_personas(
    settings: Settings, *, as_of: date | str, months: int = DEFAULT_MONTHS, seed: int = 42
) -> PersonaResult:
    """Personas of the window's churners and the high-risk customers at ``as_of``."""
    window = data_window(settings, as_of=as_of, months=months)
    labelled = labelled_frame(settings, window)
    risky = high_risk_frame(
        settings, as_of=window.as_of, min_probability=settings.value.risk_bands[1]
    )
    return personas_from(people_of(labelled, risky), labelled, seed=seed, window=window.label)
