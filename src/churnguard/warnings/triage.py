"""Triage of a warning: guessed churn type, next step, and the queue it goes to."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config.warnings import QueueRoute

__all__ = ["CHURN_TYPES", "NEXT_STEPS", "churn_type", "next_step", "route"]

CHURN_TYPES = {
    "competitor": ("competitive churn", "竞争流失"),
    "service": ("service churn", "服务流失"),
    "price": ("price churn", "资费流失"),
    "natural": ("natural churn", "自然流失"),
    "passive": ("passive churn (arrears)", "被动流失（欠费）"),
}

# Reason category → churn type (the category names of the feature catalog).
_CATEGORY_TYPE = {
    "price_competitor": "competitor",
    "group_contagion": "competitor",
    "service_complaints": "service",
    "network_quality": "service",
    "device": "service",
    "payment_difficulty": "price",
    "contract_lifecycle": "price",
    "usage_decline": "natural",
    "engagement": "natural",
}

NEXT_STEPS = {
    "competitor": (
        "Call with a competitive retention offer (match the rival's price, renewal bonus)",
        "外呼挽留：针对竞争对手优惠提供匹配资费或续约礼包",
    ),
    "service": (
        "Fix the service problem first (network check, complaint follow-up), then a care call",
        "先解决服务问题（网络排查、投诉回访），再进行关怀回访",
    ),
    "price": (
        "Offer a plan that fits the customer's spend (plan optimisation, bill rebate)",
        "推荐更合适的套餐（套餐优化、话费返还）",
    ),
    "natural": (
        "Care call and loyalty points to re-engage the customer",
        "关怀回访并赠送积分，提升客户活跃度",
    ),
    "passive": (
        "Payment reminder and instalment plan (collections, not a retention target)",
        "欠费提醒与分期缴费（催缴处理，不纳入挽留目标）",
    ),
}


def churn_type(top_category: pd.Series, *, passive: pd.Series) -> pd.Series:
    """Guessed churn type from the top reason category; passive when heading for arrears cut-off."""
    guessed = top_category.map(_CATEGORY_TYPE).fillna("natural")
    return guessed.where(~passive.fillna(False).astype(bool), "passive")


def next_step(types: pd.Series, *, lang: str) -> pd.Series:
    """The recommended next step for each churn type, in ``zh`` or ``en``."""
    i = 1 if lang == "zh" else 0
    return types.map({k: v[i] for k, v in NEXT_STEPS.items()})


def route(frame: pd.DataFrame, *, routes: tuple[QueueRoute, ...], default: str) -> pd.Series:
    """The queue of each warning: the first route whose conditions all match."""
    queue = pd.Series(default, index=frame.index, dtype=object)
    decided = np.zeros(len(frame), dtype=bool)
    for r in routes:
        match = ~decided
        for field in ("value_tier", "customer_type", "service_type", "level", "churn_type"):
            allowed = getattr(r, field)
            if allowed is not None:
                if field not in frame.columns:
                    match &= False
                    continue
                match &= frame[field].isin(allowed).to_numpy()
        queue[match] = r.queue
        decided |= match
    return queue
