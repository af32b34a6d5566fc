"""Reason codes for rejected rows, shared by ingest (quarantine) and the simulator's dirt."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectReason"]


class RejectReason(StrEnum):
    """Why a source row was quarantined. Stable codes: reports and fixes refer to them."""

    MISSING_REQUIRED = "missing_required"  # a required value is empty
    BAD_TYPE = "bad_type"  # a value cannot be read as the column's type (e.g. "abc" as a number)
    BAD_DATE = "bad_date"  # a malformed date or timestamp, or a month not on the 1st
    OUT_OF_RANGE = "out_of_range"  # a number outside the contract's range (negative minutes...)
    BAD_VALUE = "bad_value"  # a categorical value outside the allowed set
    FUTURE_DATE = "future_date"  # dated after the batch's as-of month
    CHURN_BEFORE_ACTIVATION = "churn_before_activation"
    DUPLICATE = "duplicate"  # an exact copy of an earlier row of the same batch
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same natural key, different values
    UNKNOWN_SUBSCRIBER = "unknown_subscriber"  # event for a subscriber_id not in subscribers

    @property
    def en(self) -> str:
        return _TEXT[self][0]

    @property
    def zh(self) -> str:
        return _TEXT[self][1]


_TEXT = {
    RejectReason.MISSING_REQUIRED: ("a required value is empty", "必填字段为空"),
    RejectReason.BAD_TYPE: ("a value has the wrong type", "字段类型错误"),
    RejectReason.BAD_DATE: ("a malformed date", "日期格式错误"),
    RejectReason.OUT_OF_RANGE: ("a value outside its allowed range", "数值超出允许范围"),
    RejectReason.BAD_VALUE: ("a value outside the allowed set", "取值不在允许范围内"),
    RejectReason.FUTURE_DATE: ("dated after the batch's as-of month", "日期晚于本批次截止月份"),
    RejectReason.CHURN_BEFORE_ACTIVATION: ("churn date before activation", "离网日期早于入网日期"),
    RejectReason.DUPLICATE: ("duplicate of an earlier row", "重复记录"),
    RejectReason.CONFLICTING_DUPLICATE: (
        "same key as another row with different values",
        "主键相同但内容冲突",
    ),
    RejectReason.UNKNOWN_SUBSCRIBER: ("subscriber not in the subscribers table", "用户不存在"),
}
