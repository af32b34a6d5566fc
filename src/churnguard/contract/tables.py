"""The canonical data contract: one schema per input table (see docs/data-contract.md)."""

from __future__ import annotations

from .schema import Column, TableSchema
from .schema import ColumnType as T

__all__ = [
    "CHURN_REASONS",
    "NATURAL_CHURN_REASONS",
    "PASSIVE_CHURN_REASONS",
    "SERVICE_TYPES",
    "TABLES",
    "VOLUNTARY_CHURN_REASONS",
    "table",
]

SERVICE_TYPES = ("mobile", "broadband", "tv")
CHURN_REASONS = (
    "port_out",  # 携号转网: left for a rival keeping the number
    "voluntary_cancel",  # 主动销户
    "inactivity",  # prepaid / TV: silent, deactivated by the operator after N idle months
    "arrears_disconnect",  # 欠费停机: passive churn
    "relocation",  # natural churn
    "deceased",  # natural churn
    "other",
)
VOLUNTARY_CHURN_REASONS = ("port_out", "voluntary_cancel", "inactivity")
PASSIVE_CHURN_REASONS = ("arrears_disconnect",)
NATURAL_CHURN_REASONS = ("relocation", "deceased", "other")

_SUB = Column("subscriber_id", T.STRING, "Subscriber identifier", "用户标识", required=True)
_MONTH = Column(
    "month", T.MONTH, "Month (first day of the month)", "账期月份（月初日期）", required=True
)
_CHANNELS = ("app", "hall", "call_center", "web", "wechat", "regulator", "other")


def _count(name: str, en: str, zh: str, unit: str = "") -> Column:
    return Column(name, T.FLOAT, en, zh, minimum=0, unit=unit)


SUBSCRIBERS = TableSchema(
    name="subscribers",
    grain="one row per subscriber (a line, a broadband account or a TV account)",
    en="Customer profile from the CRM; a later batch updates status and churn.",
    zh="客户资料（来自CRM）；后续批次可更新状态与离网信息。",
    natural_key=("subscriber_id",),
    references_subscribers=False,
    columns=(
        _SUB,
        Column("msisdn", T.STRING, "Phone number", "手机号码", personal=True),
        Column("name", T.STRING, "Customer name", "客户姓名", personal=True),
        Column("id_number", T.STRING, "National ID number", "身份证号", personal=True),
        Column("email", T.STRING, "E-mail address", "电子邮箱", personal=True),
        Column(
            "service_type",
            T.STRING,
            "Service type",
            "业务类型",
            required=True,
            allowed=SERVICE_TYPES,
        ),
        Column("activation_date", T.DATE, "Activation date", "入网日期", required=True),
        Column("plan_id", T.STRING, "Current plan", "当前套餐"),
        Column(
            "monthly_fee",
            T.FLOAT,
            "Monthly fee of the plan",
            "套餐月费",
            minimum=0,
            maximum=100000,
            unit="CNY",
        ),
        Column("contract_end_date", T.DATE, "Contract end date", "合约到期日"),
        Column(
            "payment_type",
            T.STRING,
            "Prepaid or postpaid",
            "付费方式（预付费/后付费）",
            allowed=("prepaid", "postpaid"),
        ),
        Column(
            "customer_type",
            T.STRING,
            "Individual or group (corporate) customer",
            "客户类型（个人/集团）",
            allowed=("individual", "group"),
        ),
        Column("group_id", T.STRING, "Corporate group / VPMN group", "集团客户/VPMN群编号"),
        Column("region", T.STRING, "Region", "地市/区域"),
        Column("acquisition_channel", T.STRING, "Channel the customer joined through", "入网渠道"),
        Column("age", T.INT, "Age in years", "年龄", minimum=0, maximum=120, unit="years"),
        Column("gender", T.STRING, "Gender", "性别", allowed=("M", "F", "U")),
        Column(
            "status",
            T.STRING,
            "Account status",
            "账户状态",
            allowed=("active", "suspended", "churned"),
        ),
        Column("churn_date", T.DATE, "Date the subscriber left", "离网日期"),
        Column(
            "churn_reason", T.STRING, "Why the subscriber left", "离网原因", allowed=CHURN_REASONS
        ),
        Column("marketing_opt_out", T.BOOL, "Refuses marketing contacts", "拒绝营销联系"),
    ),
)

PLANS = TableSchema(
    name="plans",
    grain="one row per plan (tariff)",
    en="Plan catalogue.",
    zh="套餐目录。",
    natural_key=("plan_id",),
    references_subscribers=False,
    columns=(
        Column("plan_id", T.STRING, "Plan identifier", "套餐编号", required=True),
        Column("plan_name", T.STRING, "Plan name", "套餐名称"),
        Column(
            "service_type",
            T.STRING,
            "Service type",
            "业务类型",
            required=True,
            allowed=SERVICE_TYPES,
        ),
        Column(
            "monthly_fee",
            T.FLOAT,
            "Monthly fee",
            "月费",
            required=True,
            minimum=0,
            maximum=100000,
            unit="CNY",
        ),
        Column("data_quota_mb", T.FLOAT, "Included data", "套内流量", minimum=0, unit="MB"),
        Column(
            "voice_quota_min",
            T.FLOAT,
            "Included voice minutes",
            "套内通话分钟",
            minimum=0,
            unit="min",
        ),
    ),
)

USAGE = TableSchema(
    name="usage",
    grain="one row per subscriber and month",
    en="Monthly usage: voice, SMS, data, TV viewing and device status.",
    zh="月度使用量：通话、短信、流量、收视及终端状态。",
    natural_key=("subscriber_id", "month"),
    time_column="month",
    columns=(
        _SUB,
        _MONTH,
        _count("voice_minutes", "Call minutes", "通话时长", "min"),
        _count("calls_out", "Outgoing calls", "主叫次数", "calls"),
        _count("calls_in", "Incoming calls", "被叫次数", "calls"),
        _count("sms", "SMS sent", "短信条数", "SMS"),
        _count("data_mb", "Mobile/broadband data", "流量", "MB"),
        _count("offnet_minutes", "Minutes to other operators", "网外通话时长", "min"),
        _count(
            "call_forward_offnet",
            "Calls forwarded to other operators' numbers",
            "呼叫转移至异网号码次数",
            "calls",
        ),
        _count("roaming_minutes", "Roaming minutes", "漫游通话时长", "min"),
        Column(
            "active_days",
            T.INT,
            "Days with any activity",
            "活跃天数",
            minimum=0,
            maximum=31,
            unit="days",
        ),
        _count("viewing_hours", "TV viewing hours", "收视时长", "h"),
        Column(
            "device_offline_days",
            T.INT,
            "Set-top box / modem offline days",
            "机顶盒/光猫离线天数",
            minimum=0,
            maximum=31,
            unit="days",
        ),
    ),
)

BILLING = TableSchema(
    name="billing",
    grain="one row per subscriber and month",
    en="Monthly bills and payments (top-ups for prepaid).",
    zh="月度账单与缴费（预付费为充值）。",
    natural_key=("subscriber_id", "month"),
    time_column="month",
    columns=(
        _SUB,
        _MONTH,
        Column(
            "amount_due",
            T.FLOAT,
            "Amount billed",
            "应收金额",
            minimum=0,
            maximum=1_000_000,
            unit="CNY",
        ),
        Column(
            "amount_paid",
            T.FLOAT,
            "Amount paid (top-up for prepaid)",
            "实缴金额",
            minimum=0,
            maximum=1_000_000,
            unit="CNY",
        ),
        Column("due_date", T.DATE, "Payment due date", "缴费截止日"),
        Column("paid_date", T.DATE, "Payment date", "缴费日期"),
        Column(
            "arrears_balance",
            T.FLOAT,
            "Outstanding balance after the month",
            "欠费余额",
            minimum=0,
            maximum=1_000_000,
            unit="CNY",
        ),
    ),
)

COMPLAINTS = TableSchema(
    name="complaints",
    grain="one row per complaint",
    en="Complaints with category, text and resolution.",
    zh="投诉记录：类别、内容与处理结果。",
    natural_key=("complaint_id",),
    time_column="created_at",
    columns=(
        Column("complaint_id", T.STRING, "Complaint identifier", "投诉工单号", required=True),
        _SUB,
        Column(
            "created_at", T.TIMESTAMP, "When the complaint was filed", "投诉时间", required=True
        ),
        Column(
            "category",
            T.STRING,
            "Complaint category",
            "投诉类别",
            required=True,
            allowed=("network", "billing", "service", "price", "other"),
        ),
        Column("channel", T.STRING, "Channel of the complaint", "投诉渠道", allowed=_CHANNELS),
        Column("text", T.STRING, "Complaint text", "投诉内容"),
        Column("resolved_at", T.TIMESTAMP, "When it was resolved (empty: open)", "办结时间"),
        Column("satisfied", T.BOOL, "Customer satisfied with the resolution", "对处理结果满意"),
    ),
)

NETWORK_QUALITY = TableSchema(
    name="network_quality",
    grain="one row per subscriber and month",
    en="Network quality experienced by the subscriber.",
    zh="用户感知的网络质量。",
    natural_key=("subscriber_id", "month"),
    time_column="month",
    columns=(
        _SUB,
        _MONTH,
        Column(
            "dropped_call_rate",
            T.FLOAT,
            "Dropped-call rate",
            "掉话率",
            minimum=0,
            maximum=1,
            unit="ratio",
        ),
        Column(
            "avg_signal_dbm",
            T.FLOAT,
            "Average signal strength",
            "平均信号强度",
            minimum=-150,
            maximum=-20,
            unit="dBm",
        ),
        Column(
            "avg_download_mbps",
            T.FLOAT,
            "Average download speed",
            "平均下载速率",
            minimum=0,
            maximum=10000,
            unit="Mbps",
        ),
        Column(
            "outage_minutes",
            T.FLOAT,
            "Service outage minutes",
            "断网/故障时长",
            minimum=0,
            maximum=44640,
            unit="min",
        ),
    ),
)

INTERACTIONS = TableSchema(
    name="interactions",
    grain="one row per channel interaction",
    en="Contacts the customer made through any channel.",
    zh="客户在各渠道的接触记录。",
    natural_key=("subscriber_id", "ts", "channel", "kind"),
    time_column="ts",
    columns=(
        _SUB,
        Column("ts", T.TIMESTAMP, "When", "接触时间", required=True),
        Column("channel", T.STRING, "Channel", "渠道", required=True, allowed=_CHANNELS),
        Column(
            "kind",
            T.STRING,
            "Kind of interaction",
            "接触类型",
            required=True,
            allowed=(
                "inquiry",
                "bill_query",
                "plan_change",
                "cancel_inquiry",
                "port_out_query",
                "top_up",
                "service_request",
                "complaint",
                "other",
            ),
        ),
    ),
)

PLAN_CHANGES = TableSchema(
    name="plan_changes",
    grain="one row per plan change",
    en="Plan changes (upgrades and downgrades).",
    zh="套餐变更（升档与降档）。",
    natural_key=("subscriber_id", "changed_at"),
    time_column="changed_at",
    columns=(
        _SUB,
        Column("changed_at", T.TIMESTAMP, "When", "变更时间", required=True),
        Column("from_plan", T.STRING, "Previous plan", "原套餐"),
        Column("to_plan", T.STRING, "New plan", "新套餐", required=True),
        Column(
            "fee_delta",
            T.FLOAT,
            "Change of monthly fee (negative: downgrade)",
            "月费变化（负数为降档）",
            minimum=-100000,
            maximum=100000,
            unit="CNY",
        ),
    ),
)

SURVEYS = TableSchema(
    name="surveys",
    grain="one row per survey answer",
    en="Satisfaction surveys.",
    zh="满意度调查。",
    natural_key=("subscriber_id", "surveyed_at"),
    time_column="surveyed_at",
    columns=(
        _SUB,
        Column("surveyed_at", T.TIMESTAMP, "When", "调查时间", required=True),
        Column("csat", T.INT, "Satisfaction score 1–5", "满意度评分（1–5）", minimum=1, maximum=5),
        Column(
            "nps", T.INT, "Likelihood to recommend 0–10", "推荐意愿（0–10）", minimum=0, maximum=10
        ),
        Column("comment", T.STRING, "Free-text comment", "意见内容"),
    ),
)

TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (
        SUBSCRIBERS,
        PLANS,
        USAGE,
        BILLING,
        COMPLAINTS,
        NETWORK_QUALITY,
        INTERACTIONS,
        PLAN_CHANGES,
        SURVEYS,
    )
}


def table(name: str) -> TableSchema:
    """The schema of contract table ``name``.

    Raises
    ------
    churnguard.errors.NotFoundError
        If the contract has no such table; the message lists the known ones.
    """
    try:
        return TABLES[name]
    except KeyError:
        from ..errors import NotFoundError

        raise NotFoundError(
            f"the data contract has no table '{name}'; known tables: {', '.join(TABLES)}"
        ) from None
