"""The feature catalog: every indicator defined once, with its meaning and reason templates.

A :class:`FeatureDef` couples one Ibis expression with what people read about it:
a bilingual description, a unit, the business reason category it belongs to,
the direction in which it signals risk, and the reason templates the model lab
turns into customer reasons. The catalog drives the snapshot, the docs page and
the reason codes.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = [
    "REASON_CATEGORIES",
    "Family",
    "FeatureDef",
    "FeatureExpr",
    "ReasonCategory",
    "ReasonFormat",
    "catalog_version",
]


class ReasonCategory(StrEnum):
    """Business reason categories a feature (and so a customer reason) belongs to."""

    USAGE_DECLINE = "usage_decline"
    PAYMENT_DIFFICULTY = "payment_difficulty"
    SERVICE_COMPLAINTS = "service_complaints"
    NETWORK_QUALITY = "network_quality"
    PRICE_COMPETITOR = "price_competitor"
    CONTRACT_LIFECYCLE = "contract_lifecycle"
    ENGAGEMENT = "engagement"
    GROUP_CONTAGION = "group_contagion"
    DEVICE = "device"

    @property
    def en(self) -> str:
        return REASON_CATEGORIES[self][0]

    @property
    def zh(self) -> str:
        return REASON_CATEGORIES[self][1]


REASON_CATEGORIES: dict[ReasonCategory, tuple[str, str]] = {
    ReasonCategory.USAGE_DECLINE: ("usage decline", "使用量下降"),
    ReasonCategory.PAYMENT_DIFFICULTY: ("payment difficulty", "缴费困难/欠费"),
    ReasonCategory.SERVICE_COMPLAINTS: ("service complaints", "服务投诉"),
    ReasonCategory.NETWORK_QUALITY: ("network quality", "网络质量"),
    ReasonCategory.PRICE_COMPETITOR: ("price / competitor pull", "资费/竞争对手吸引"),
    ReasonCategory.CONTRACT_LIFECYCLE: ("contract / lifecycle", "合约/生命周期"),
    ReasonCategory.ENGAGEMENT: ("engagement", "客户互动"),
    ReasonCategory.GROUP_CONTAGION: ("group contagion", "集团/群组连锁离网"),
    ReasonCategory.DEVICE: ("TV / broadband device", "机顶盒/光猫终端"),
}


class ReasonFormat(StrEnum):
    """How a feature's value fills the ``{value}`` placeholder of its reason templates."""

    PCT_CHANGE = "pct_change"  # a change ratio (-0.35): the absolute value in percent, "35"
    SHARE_PCT = "share_pct"  # a share in [0, 1] (0.42): in percent, "42"
    INTEGER = "integer"  # a count or whole number: rounded, "3"
    DECIMAL = "decimal"  # a measurement: one decimal, "12.5"
    ABS_DECIMAL = "abs_decimal"  # a signed difference shown by size: "-3.25" -> "3.2"

    def render(self, value: float) -> str:
        """The placeholder text for ``value`` (display only; never used in computations)."""
        if self is ReasonFormat.PCT_CHANGE:
            return f"{abs(value) * 100:.0f}"
        if self is ReasonFormat.SHARE_PCT:
            return f"{value * 100:.0f}"
        if self is ReasonFormat.INTEGER:
            return f"{value:.0f}"
        if self is ReasonFormat.ABS_DECIMAL:
            return f"{abs(value):.1f}"
        return f"{value:.1f}"


# An aggregate (per subscriber) or row-level Ibis expression over a family's frame.
FeatureExpr = Callable[["ir.Table", "AsOf"], "ir.Value"]


@dataclass(frozen=True)
class FeatureDef:
    """One indicator of the catalog.

    Parameters
    ----------
    name
        Column name in the snapshot (stable: models and reasons refer to it).
    family
        The indicator family (and module) that computes it, e.g. ``"usage"``.
    category
        The business reason category.
    unit
        Unit for the docs (``"min"``, ``"ratio"``, ``"days"`` ...).
    en, zh
        What the value means, in English and Chinese.
    expr
        ``expr(frame, as_of) -> ibis value``: an aggregate over the family's
        frame grouped by subscriber (event and monthly families) or a row-level
        expression (profile families).
    risk_direction
        ``+1`` when a higher value means more churn risk, ``-1`` when a lower
        value does, ``0`` for descriptive columns that are never a reason
        (e.g. categoricals).
    reason_en, reason_zh
        Reason templates with a ``{value}`` placeholder filled per ``reason_format``.
    reason_format
        How the value maps to the placeholder.
    services
        Service types the feature applies to; other subscribers get NULL.
    fill
        Value for subscribers with no rows in the family's source (e.g. ``0``
        complaints); ``None`` keeps NULL (unknown).
    categorical
        A categorical model input (string) rather than a number.
    """

    name: str
    family: str
    category: ReasonCategory
    unit: str
    en: str
    zh: str
    expr: FeatureExpr
    risk_direction: int
    reason_en: str = ""
    reason_zh: str = ""
    reason_format: ReasonFormat = ReasonFormat.DECIMAL
    services: tuple[str, ...] = ("mobile", "broadband", "tv")
    fill: float | None = None
    categorical: bool = False

    def __post_init__(self) -> None:
        if self.risk_direction not in (-1, 0, 1):
            raise ValueError(f"feature {self.name}: risk_direction must be -1, 0 or +1")
        if self.risk_direction != 0 and not (self.reason_en and self.reason_zh):
            raise ValueError(f"feature {self.name}: a risk feature needs reason templates")
        for template in (self.reason_en, self.reason_zh):
            if template and "{value}" not in template:
                raise ValueError(f"feature {self.name}: template {template!r} lacks {{value}}")

    def reason(self, value: float, *, lang: str = "zh") -> str:
        """The customer reason text for ``value`` in ``lang`` (``"zh"`` or ``"en"``).

        Raises
        ------
        ValueError
            If the feature is descriptive (``risk_direction == 0``) or ``lang`` is unknown.
        """
        if self.risk_direction == 0:
            raise ValueError(f"feature {self.name} is descriptive and has no reason text")
        if lang not in ("zh", "en"):
            raise ValueError(f"unknown language {lang!r}; use 'zh' or 'en'")
        template = self.reason_zh if lang == "zh" else self.reason_en
        return template.format(value=self.reason_format.render(value))

    def description(self, lang: str = "en") -> str:
        """The description in ``lang``."""
        return self.zh if lang == "zh" else self.en


# Builds a family's frame from the sources, the as-of month and the population.
FrameBuilder = Callable[["Sources", "AsOf", "ir.Table"], "ir.Table"]


@dataclass(frozen=True)
class Family:
    """A family of indicators computed from one frame.

    Parameters
    ----------
    name
        Family name (the module that defines it).
    frame
        Key of the frame the features read; families sharing a frame are
        aggregated in one pass.
    build
        ``build(sources, as_of, population) -> ibis.Table``: the rows the
        features may see (dated before the end of the as-of month), with
        helper columns such as the month offset ``k``.
    features
        The family's indicators, in catalog order.
    aggregate
        ``True``: features are aggregates over the frame grouped by
        ``subscriber_id``; ``False``: the frame has one row per subscriber and
        features are row-level expressions.
    """

    name: str
    frame: str
    build: FrameBuilder
    features: tuple[FeatureDef, ...]
    aggregate: bool = True


def _code_fingerprint(obj: Any, h: Any) -> None:
    # Bytecode, names and constants (recursively for nested code objects) identify
    # an expression's definition without depending on object addresses.
    if isinstance(obj, types.CodeType):
        h.update(obj.co_code)
        h.update(repr(obj.co_names).encode())
        for const in obj.co_consts:
            _code_fingerprint(const, h)
    elif isinstance(obj, types.FunctionType):
        _code_fingerprint(obj.__code__, h)
        for cell in obj.__closure__ or ():
            _code_fingerprint(cell.cell_contents, h)
    elif isinstance(obj, list | tuple):
        for item in obj:
            _code_fingerprint(item, h)
    else:
        h.update(repr(obj).encode())


def catalog_version(
    features: Sequence[FeatureDef],
    *,
    families: Sequence[Family] = (),
    helpers: Sequence[types.ModuleType] = (),
) -> str:
    """A short hash of the definitions of ``features``.

    Covers each feature's metadata and expression code, the frame builders of
    ``families`` and the functions and classes of the ``helpers`` modules the
    expressions call (bytecode, so reformatting the source changes nothing).
    """
    h = hashlib.sha256()
    for fam in families:
        h.update(repr((fam.name, fam.frame, fam.aggregate)).encode())
        _code_fingerprint(fam.build, h)
    for module in helpers:
        for _name, obj in sorted(vars(module).items()):
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if isinstance(obj, types.FunctionType):
                _code_fingerprint(obj, h)
            elif isinstance(obj, type):
                for member in vars(obj).values():
                    fn = member.fget if isinstance(member, property) else member
                    if isinstance(fn, types.FunctionType):
                        _code_fingerprint(fn, h)
    for f in features:
        h.update(
            repr(
                (
                    f.name,
                    f.family,
                    str(f.category),
                    f.unit,
                    f.risk_direction,
                    f.services,
                    f.fill,
                    f.categorical,
                )
            ).encode()
        )
        _code_fingerprint(f.expr, h)
    return h.hexdigest()[:12]
