"""Lifecycle and profile indicators: tenure, contract end, and the categorical profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from .catalog import Family, FeatureDef, FeatureExpr, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["CATEGORICALS", "FAMILY", "population"]

_L = ReasonCategory.CONTRACT_LIFECYCLE

# Profile columns used as categorical model inputs: (column, en, zh).
CATEGORICALS = (
    ("service_type", "Service type (mobile / broadband / tv)", "业务类型（移动/宽带/电视）"),
    ("payment_type", "Prepaid or postpaid", "付费方式（预付费/后付费）"),
    ("customer_type", "Individual or group (corporate) customer", "客户类型（个人/集团）"),
    ("region", "Region", "地市/区域"),
    ("acquisition_channel", "Channel the customer joined through", "入网渠道"),
    ("gender", "Gender", "性别"),
)


def population(src: Sources, asof: AsOf) -> ir.Table:
    """Subscribers active at the end of M: activated by then and not churned by then.

    A churn dated after M is unknown at M, so such a subscriber is active here.
    Status, churn date and reason are never read beyond this test.
    """
    s = src["subscribers"]
    active = (s.activation_date < asof.next_start) & (
        s.churn_date.isnull() | (s.churn_date >= asof.next_start)
    )
    return s.filter(active).select(
        "subscriber_id",
        *[c for c, _, _ in CATEGORICALS],
        "age",
        "activation_date",
        "contract_end_date",
        "group_id",
    )


def _profile_frame(src: Sources, asof: AsOf, pop: ir.Table) -> ir.Table:
    return pop


def _tenure(t: ir.Table, a: AsOf) -> ir.Value:
    return a.offset(t.activation_date).cast("float64")


def _months_to_end(t: ir.Table, a: AsOf) -> ir.Value:
    end = t.contract_end_date
    return (end.year() * 12 + end.month() - a.index).cast("float64")


def _to_contract_end(t: ir.Table, a: AsOf) -> ir.Value:
    # NULL once expired: "ends in -5 months" reads wrong; months_out_of_contract says it
    months = _months_to_end(t, a)
    return ibis.cases((months >= 0, months), else_=ibis.null("float64"))


def _out_of_contract(t: ir.Table, a: AsOf) -> ir.Value:
    months = _months_to_end(t, a)
    return ibis.cases((months < 0, -months), else_=ibis.null("float64"))


def _age(t: ir.Table, a: AsOf) -> ir.Value:
    return t.age.cast("float64")


def _column(name: str) -> FeatureExpr:
    def expr(t: ir.Table, a: AsOf) -> ir.Value:
        return t[name].cast("string")

    return expr


FEATURES: tuple[FeatureDef, ...] = (
    *[
        FeatureDef(
            name=name,
            family="lifecycle",
            category=_L,
            unit="category",
            expr=_column(name),
            risk_direction=0,
            categorical=True,
            en=en,
            zh=zh,
        )
        for name, en, zh in CATEGORICALS
    ],
    FeatureDef(
        name="tenure_months",
        family="lifecycle",
        category=_L,
        unit="months",
        expr=_tenure,
        risk_direction=-1,
        en="Months since activation (0: activated in the as-of month)",
        zh="在网时长（月）",
        reason_en="only {value} months with us",
        reason_zh="在网仅 {value} 个月",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="months_to_contract_end",
        family="lifecycle",
        category=_L,
        unit="months",
        expr=_to_contract_end,
        risk_direction=-1,
        en="Months from the as-of month to the contract end (empty once expired)",
        zh="距合约到期月数（已到期为空）",
        reason_en="contract ends in {value} months",
        reason_zh="合约 {value} 个月后到期",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="months_out_of_contract",
        family="lifecycle",
        category=_L,
        unit="months",
        expr=_out_of_contract,
        risk_direction=1,
        en="Months since the contract expired (empty while under contract)",
        zh="合约已到期月数（合约期内为空）",
        reason_en="out of contract for {value} months",
        reason_zh="合约已到期 {value} 个月",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="age",
        family="lifecycle",
        category=_L,
        unit="years",
        expr=_age,
        risk_direction=0,
        en="Customer age",
        zh="客户年龄",
    ),
)

FAMILY = Family(
    name="lifecycle", frame="profile", build=_profile_frame, features=FEATURES, aggregate=False
)
