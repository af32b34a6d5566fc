"""Billing indicators: bill and ARPU, their change, payments, lateness and arrears.

Point in time: a payment made after the as-of month (``paid_date`` in M+1 or
later) is not known at M, so it counts as unpaid here even on an older bill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from .aggregates import change_ratio, count_where, in_months, mean_in, only, safe_div, sum_in
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "billing_frame"]

_PAY = ReasonCategory.PAYMENT_DIFFICULTY
_U = ReasonCategory.USAGE_DECLINE
_P = ReasonCategory.PRICE_COMPETITOR
HISTORY_MONTHS = 6


def billing_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Bills of the last 6 months up to M, with what was known about payment at M.

    Adds ``k`` (month offset), ``paid_known`` (amount paid by the end of M),
    ``is_late`` (due by the end of M and not paid on time) and ``days_late``.
    """
    b = src["billing"]
    b = b.filter(b.month < asof.next_start, b.month >= asof.months_back(HISTORY_MONTHS - 1))
    paid_in_time_window = b.paid_date.isnull() | (b.paid_date < asof.next_start)
    paid_known = ibis.cases((paid_in_time_window, b.amount_paid), else_=0.0)
    # A payment date after M is unknown at M: treat the bill as still unpaid then.
    paid_date_known = ibis.cases(
        (b.paid_date < asof.next_start, b.paid_date.epoch_days()), else_=ibis.null("int64")
    )
    due_days = b.due_date.epoch_days()
    due_by_end = b.due_date < asof.next_start
    # Paid in full without a payment date: taken as paid on time. Otherwise a bill
    # without a payment known at M is still open at the end of M.
    paid_in_full_undated = b.paid_date.isnull() & (
        b.amount_paid.fill_null(0) >= b.amount_due.fill_null(0)
    )
    settled_days = ibis.cases(
        (paid_date_known.notnull(), paid_date_known),
        (paid_in_full_undated, due_days),
        else_=asof.next_start_days,
    )
    is_late = due_by_end & (b.amount_due > 0) & (settled_days > due_days)
    days_late = ibis.cases((is_late, (settled_days - due_days).cast("float64")), else_=0.0)
    return b.mutate(
        k=asof.offset(b.month),
        paid_known=paid_known.cast("float64"),
        is_due=due_by_end & (b.amount_due > 0),
        is_late=is_late,
        days_late=days_late,
    )


def _bill_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.amount_due, t.k, 0, 0)


def _arpu_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return mean_in(t.amount_due, t.k, 0, 2)


def _arpu_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(mean_in(t.amount_due, t.k, 0, 2), mean_in(t.amount_due, t.k, 3, 5))


def _bill_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(sum_in(t.amount_due, t.k, 0, 0), mean_in(t.amount_due, t.k, 1, 3))


def _paid_ratio_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return safe_div(sum_in(t.paid_known, t.k, 0, 2), sum_in(t.amount_due, t.k, 0, 2))


def _payments_3m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(in_months(t.k, 0, 2) & (t.paid_known > 0))


def _paid_chg(t: ir.Table, a: AsOf) -> ir.Value:
    return change_ratio(sum_in(t.paid_known, t.k, 0, 2), sum_in(t.paid_known, t.k, 3, 5))


def _late_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(t.is_late)


def _days_late_avg(t: ir.Table, a: AsOf) -> ir.Value:
    return only(t.is_due, t.days_late).mean()


def _days_late_max(t: ir.Table, a: AsOf) -> ir.Value:
    return only(t.is_due, t.days_late).max()


def _arrears_last(t: ir.Table, a: AsOf) -> ir.Value:
    return sum_in(t.arrears_balance, t.k, 0, 0)


def _arrears_streak(t: ir.Table, a: AsOf) -> ir.Value:
    # Consecutive months up to M with a balance outstanding: the offset of the most
    # recent month without arrears; when every month had arrears, all of them.
    # A month missing from billing does not break the streak.
    owing = t.arrears_balance > 0
    first_clear = only(~owing.fill_null(False), t.k).min()
    all_owing = count_where(owing)
    return ibis.cases((first_clear.notnull(), first_clear), else_=all_owing).cast("float64")


def _arrears_months_6m(t: ir.Table, a: AsOf) -> ir.Value:
    return count_where(t.arrears_balance > 0)


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="bill_last",
        family="billing",
        category=_P,
        unit="CNY",
        expr=_bill_last,
        risk_direction=0,
        en="Amount billed in the as-of month",
        zh="当月应收金额（账单）",
    ),
    FeatureDef(
        name="arpu_3m",
        family="billing",
        category=_U,
        unit="CNY",
        expr=_arpu_3m,
        risk_direction=0,
        en="ARPU: average monthly bill, last 3 months",
        zh="ARPU：近3个月月均账单金额",
    ),
    FeatureDef(
        name="arpu_chg",
        family="billing",
        category=_U,
        unit="ratio",
        expr=_arpu_chg,
        risk_direction=-1,
        en="ARPU of the last 3 months vs the 3 months before, minus 1",
        zh="近3个月ARPU较之前3个月的变化率",
        reason_en="ARPU down {value}% vs the previous 3 months",
        reason_zh="ARPU较前三个月下降 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="bill_chg",
        family="billing",
        category=_P,
        unit="ratio",
        expr=_bill_chg,
        risk_direction=1,
        en="Bill in the as-of month vs the 3-month average before, minus 1",
        zh="当月账单较前3个月均值的变化率",
        reason_en="bill up {value}% vs the 3-month average",
        reason_zh="账单较前三个月均值上涨 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="paid_ratio_3m",
        family="billing",
        category=_PAY,
        unit="share",
        expr=_paid_ratio_3m,
        risk_direction=-1,
        en="Share of the last 3 months' bills paid by the end of the as-of month",
        zh="近3个月账单在当月底前的缴费比例",
        reason_en="only {value}% of the last 3 months' bills paid",
        reason_zh="近3个月账单仅缴纳 {value}%",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
    FeatureDef(
        name="payments_3m",
        family="billing",
        category=_PAY,
        unit="months",
        expr=_payments_3m,
        risk_direction=-1,
        en="Months with a payment or top-up, last 3 months",
        zh="近3个月有缴费/充值的月数",
        reason_en="paid or topped up in only {value} of the last 3 months",
        reason_zh="近3个月仅 {value} 个月有缴费/充值",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="paid_chg",
        family="billing",
        category=_PAY,
        unit="ratio",
        expr=_paid_chg,
        risk_direction=-1,
        en="Payments and top-ups of the last 3 months vs the 3 months before, minus 1",
        zh="近3个月缴费/充值金额较之前3个月的变化率",
        reason_en="payments and top-ups down {value}%",
        reason_zh="缴费/充值金额下降 {value}%",
        reason_format=ReasonFormat.PCT_CHANGE,
    ),
    FeatureDef(
        name="late_payments_6m",
        family="billing",
        category=_PAY,
        unit="bills",
        expr=_late_6m,
        risk_direction=1,
        fill=0.0,
        en="Bills paid late or still unpaid after their due date, last 6 months",
        zh="近6个月逾期缴费（或逾期未缴）账单数",
        reason_en="{value} late payments in 6 months",
        reason_zh="近6个月逾期缴费 {value} 次",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="days_late_avg_6m",
        family="billing",
        category=_PAY,
        unit="days",
        expr=_days_late_avg,
        risk_direction=1,
        en="Average days past due of bills due by the as-of month, last 6 months",
        zh="近6个月已到期账单平均逾期天数",
        reason_en="bills paid {value} days late on average",
        reason_zh="账单平均逾期 {value} 天",
    ),
    FeatureDef(
        name="days_late_max_6m",
        family="billing",
        category=_PAY,
        unit="days",
        expr=_days_late_max,
        risk_direction=1,
        en="Most days past due of one bill, last 6 months",
        zh="近6个月单笔账单最长逾期天数",
        reason_en="a bill paid up to {value} days late",
        reason_zh="单笔账单最长逾期 {value} 天",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="arrears_last",
        family="billing",
        category=_PAY,
        unit="CNY",
        expr=_arrears_last,
        risk_direction=1,
        en="Outstanding balance at the end of the as-of month",
        zh="当月末欠费余额",
        reason_en="arrears of {value} CNY",
        reason_zh="欠费 {value} 元",
    ),
    FeatureDef(
        name="arrears_streak",
        family="billing",
        category=_PAY,
        unit="months",
        expr=_arrears_streak,
        risk_direction=1,
        en="Consecutive months in arrears up to the as-of month (at most 6)",
        zh="截至当月连续欠费月数（最多6个月）",
        reason_en="in arrears {value} months running",
        reason_zh="已连续欠费 {value} 个月",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="arrears_months_6m",
        family="billing",
        category=_PAY,
        unit="months",
        expr=_arrears_months_6m,
        risk_direction=1,
        en="Months with arrears, last 6 months",
        zh="近6个月欠费月数",
        reason_en="in arrears {value} of the last 6 months",
        reason_zh="近6个月有 {value} 个月欠费",
        reason_format=ReasonFormat.INTEGER,
    ),
)

FAMILY = Family(name="billing", frame="billing", build=billing_frame, features=FEATURES)
