"""Association rules among churners' attributes: "plan X ∧ ≥2 network complaints → churn".

Each snapshot row of the window becomes a transaction of readable items (plan,
service, tenure band, "≥ 2 network complaints in 6 months", ...) plus the item
``churn`` when the customer churned (voluntary label). Frequent itemsets come
from FP-growth (mlxtend) and only rules whose consequent is ``churn`` are kept:

- support = share of all rows with the antecedent *and* churn,
- confidence = churn rate among rows with the antecedent,
- lift = confidence / overall churn rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputError
from .population import DEFAULT_MONTHS, data_window, labelled_frame
from .texts import Bi, label
from .timing import CONTRACT_BANDS, TENURE_BANDS, contract_band, tenure_band

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["CHURN_ITEM", "ChurnRule", "RulesResult", "churn_rules", "items_of", "rules_from"]

CHURN_ITEM = "churn"
_CHURN_TEXT = Bi("离网", "churn")

# (item code, column, predicate, text)
_Flag = tuple[str, str, Callable[[pd.Series], pd.Series], Bi]
_FLAGS: tuple[_Flag, ...] = (
    ("net_complaints>=2", "complaints_network_6m", lambda s: s >= 2,
     Bi("近6个月网络投诉 ≥2 次", "≥2 network complaints in 6 months")),
    ("complaints_3m>=2", "complaints_3m", lambda s: s >= 2,
     Bi("近3个月投诉 ≥2 次", "≥2 complaints in 3 months")),
    ("billing_complaint", "complaints_billing_6m", lambda s: s >= 1,
     Bi("近6个月有账单投诉", "a billing complaint in 6 months")),
    ("price_complaint", "complaints_price_6m", lambda s: s >= 1,
     Bi("近6个月有资费投诉", "a price complaint in 6 months")),
    ("cancel_inquiry", "cancel_inquiries_3m", lambda s: s >= 1,
     Bi("近3个月咨询过销户", "asked about cancelling in 3 months")),
    ("port_out_query", "port_out_queries_3m", lambda s: s >= 1,
     Bi("查询过携号转网", "asked about number portability")),
    ("forward_offnet", "call_forward_offnet_3m", lambda s: s >= 1,
     Bi("有呼叫转移至异网", "calls forwarded to rival numbers")),
    ("second_sim", "calls_in_out_ratio_3m", lambda s: s >= 4,
     Bi("被叫为主叫 4 倍以上（疑似一人多卡）", "incoming ≥4× outgoing (second SIM?)")),
    ("arrears", "arrears_months_6m", lambda s: s >= 1,
     Bi("近6个月有欠费", "arrears in 6 months")),
    ("late_payer", "late_payments_6m", lambda s: s >= 2,
     Bi("近6个月逾期缴费 ≥2 次", "≥2 late payments in 6 months")),
    ("downgrade", "downgrades_6m", lambda s: s >= 1,
     Bi("近6个月套餐降档", "plan downgrade in 6 months")),
    ("voice_drop", "voice_chg", lambda s: s <= -0.3,
     Bi("通话时长下降 ≥30%", "call minutes down ≥30%")),
    ("data_drop", "data_chg", lambda s: s <= -0.3,
     Bi("流量下降 ≥30%", "data usage down ≥30%")),
    ("viewing_drop", "viewing_chg", lambda s: s <= -0.3,
     Bi("收视时长下降 ≥30%", "viewing hours down ≥30%")),
    ("device_offline", "device_offline_days_last", lambda s: s >= 5,
     Bi("机顶盒/光猫上月离线 ≥5 天", "set-top box / modem offline ≥5 days")),
    ("low_csat", "csat_last", lambda s: s <= 2,
     Bi("满意度评分 ≤2", "CSAT ≤2")),
    ("group_churn", "group_churned_3m", lambda s: s >= 1,
     Bi("所在集团近3个月有成员离网", "group members left in 3 months")),
)  # fmt: skip
_CATEGORIES = ("service_type", "payment_type", "customer_type", "plan_id")


def items_of(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Bi]]:
    """One boolean column per item (and the item texts) for each row of ``frame``."""
    cols: dict[str, pd.Series] = {}
    texts: dict[str, Bi] = {}
    for col in _CATEGORIES:
        if col not in frame.columns:
            continue
        values = frame[col].astype("string")
        for v in values.dropna().unique():
            code = f"{col}={v}"
            cols[code] = (values == v).fillna(False).astype(bool)
            text = label(col, v)
            texts[code] = Bi(f"套餐 {v}", f"plan {v}") if col == "plan_id" else text
    if "tenure_months" in frame.columns:
        band = tenure_band(frame["tenure_months"])
        for _, code, text in TENURE_BANDS:
            cols[f"tenure={code}"] = (band == code).fillna(False).astype(bool)
            texts[f"tenure={code}"] = text
    if "months_to_contract_end" in frame.columns:
        band = contract_band(frame["months_to_contract_end"], frame.get("months_out_of_contract"))
        for code, text in CONTRACT_BANDS:
            if code in ("0-1", "expired"):
                cols[f"contract={code}"] = (band == code).fillna(False).astype(bool)
                texts[f"contract={code}"] = text
    for code, col, pred, text in _FLAGS:
        if col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce")
            cols[code] = pred(values).fillna(False).astype(bool)
            texts[code] = text
    items = pd.DataFrame(cols, index=frame.index)
    return items.loc[:, items.any(axis=0)], texts


@dataclass(frozen=True)
class ChurnRule:
    """One rule ``antecedent → churn``."""

    antecedent: tuple[str, ...]
    text_zh: str
    text_en: str
    support: float
    confidence: float
    lift: float
    churners: int  # rows with the antecedent that churned
    customers: int  # rows with the antecedent


@dataclass(frozen=True)
class RulesResult:
    """Rules with ``churn`` as consequent, strongest lift first."""

    window: str
    rows: int
    churners: int
    base_rate: float
    min_support: float
    rules: list[ChurnRule]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rules_from(
    items: pd.DataFrame,
    churn: pd.Series,
    *,
    texts: dict[str, Bi],
    min_churner_share: float = 0.05,
    max_items: int = 2,
    min_lift: float = 1.2,
    top: int = 20,
    window: str = "",
) -> RulesResult:
    """Mine ``items → churn`` rules (see the module docstring).

    Parameters
    ----------
    items
        Boolean item columns, one row per customer-month.
    churn
        Whether each row churned.
    min_churner_share
        An antecedent must cover at least this share of the churners.
    max_items
        Items in an antecedent at most.
    """
    import warnings

    # mlxtend's fpcommon runs warnings.simplefilter("always", DeprecationWarning) when
    # imported, for the whole process; keep the caller's warning filters as they were.
    with warnings.catch_warnings():
        from mlxtend.frequent_patterns import association_rules, fpgrowth

    if len(items) != len(churn):
        raise InputError("items and churn labels must have one row each")
    y = churn.astype(bool).to_numpy()
    n, k = len(y), int(y.sum())
    base = k / n if n else 0.0
    min_support = min_churner_share * base
    empty = RulesResult(window, n, k, base, min_support, [])
    if n == 0 or k == 0 or items.shape[1] == 0:
        return empty
    onehot = items.astype(bool).copy()
    onehot[CHURN_ITEM] = y
    frequent = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=max_items + 1)
    if frequent.empty:
        return empty
    found = association_rules(frequent, num_itemsets=n, metric="lift", min_threshold=min_lift)
    found = found[found["consequents"] == frozenset({CHURN_ITEM})]
    found = found.sort_values(["lift", "support"], ascending=False, kind="stable").head(top)
    out = []
    for rec in found.to_dict("records"):
        ante = tuple(sorted(rec["antecedents"]))
        covered = round(float(rec["antecedent support"]) * n)
        zh = " ∧ ".join(texts[i].zh for i in ante) + f" → {_CHURN_TEXT.zh}"
        en = " ∧ ".join(texts[i].en for i in ante) + f" → {_CHURN_TEXT.en}"
        out.append(
            ChurnRule(
                antecedent=ante,
                text_zh=zh,
                text_en=en,
                support=float(rec["support"]),
                confidence=float(rec["confidence"]),
                lift=float(rec["lift"]),
                churners=round(float(rec["support"]) * n),
                customers=covered,
            )
        )
    return RulesResult(window, n, k, base, min_support, out)


def rules_for_frame(frame: pd.DataFrame, *, window: str = "", **kwargs: Any) -> RulesResult:
    """:func:`rules_from` on a labelled frame (its ``label`` column is the churn item)."""
    items, texts = items_of(frame)
    return rules_from(items, frame["label"] == 1, texts=texts, window=window, **kwargs)


def churn_rules(
    settings: Settings,
    *,
    as_of: date | str,
    months: int = DEFAULT_MONTHS,
    min_churner_share: float = 0.05,
    min_lift: float = 1.2,
    top: int = 20,
) -> RulesResult:
    """Rules among churners' attributes over the labelled months up to ``as_of``."""
    if not 0 < min_churner_share <= 1:
        raise InputError("--min-share must be in (0, 1], e.g. 0.05 for 5 % of the churners")
    window = data_window(settings, as_of=as_of, months=months)
    frame = labelled_frame(settings, window)
    return rules_for_frame(
        frame, window=window.label, min_churner_share=min_churner_share, min_lift=min_lift, top=top
    )
