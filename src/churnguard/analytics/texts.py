"""Bilingual texts of the analytics: one ``Bi`` (zh-CN, en) per label a person reads."""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = [
    "CHURN_REASONS",
    "CUSTOMER_TYPES",
    "LANGS",
    "PAYMENT_TYPES",
    "SERVICE_TYPES",
    "Bi",
    "Lang",
    "check_lang",
    "label",
]

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")


class Bi(NamedTuple):
    """A text in Chinese and English."""

    zh: str
    en: str

    def pick(self, lang: str) -> str:
        """The text in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.zh if lang == "zh" else self.en

    def format(self, **fields: object) -> Bi:
        """Both texts with ``{placeholders}`` filled."""
        return Bi(self.zh.format(**fields), self.en.format(**fields))

    def to_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


def check_lang(lang: str) -> Lang:
    """``lang`` when it is ``zh`` or ``en``; otherwise an error that says what to pass."""
    from ..errors import InputError

    if lang not in LANGS:
        raise InputError(f"unknown language '{lang}'; use zh or en")
    return lang  # type: ignore[return-value]


SERVICE_TYPES = {
    "mobile": Bi("移动", "mobile"),
    "broadband": Bi("宽带", "broadband"),
    "tv": Bi("有线电视", "cable TV"),
}
CUSTOMER_TYPES = {
    "individual": Bi("个人客户", "individual"),
    "group": Bi("集团客户", "corporate (group)"),
}
PAYMENT_TYPES = {
    "prepaid": Bi("预付费", "prepaid"),
    "postpaid": Bi("后付费", "postpaid"),
}
CHURN_REASONS = {
    "port_out": Bi("携号转网", "port-out"),
    "voluntary_cancel": Bi("主动销户", "voluntary cancellation"),
    "inactivity": Bi("沉默离网", "inactivity"),
    "arrears_disconnect": Bi("欠费停机", "disconnected for arrears"),
    "relocation": Bi("搬迁", "relocation"),
    "deceased": Bi("身故", "deceased"),
    "other": Bi("其他", "other"),
}
_VALUES: dict[str, dict[str, Bi]] = {
    "service_type": SERVICE_TYPES,
    "customer_type": CUSTOMER_TYPES,
    "payment_type": PAYMENT_TYPES,
    "churn_reason": CHURN_REASONS,
    "value_tier": {
        "high": Bi("高价值客户", "high-value"),
        "medium": Bi("中价值客户", "medium-value"),
        "low": Bi("低价值客户", "low-value"),
    },
    "all": {"all": Bi("全部", "all")},
}


def label(kind: str, value: object) -> Bi:
    """The bilingual text of an enumerated value (the value itself when unknown)."""
    text = "" if value is None else str(value)
    return _VALUES.get(kind, {}).get(text, Bi(text, text))
