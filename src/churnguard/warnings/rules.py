"""Warning rules: small classes with stable codes, parameters from the workspace's YAML.

A rule looks at the scoring table (feature snapshot ⨝ value ⨝ score) and says,
for every customer at once, whether it fires and with what value. Users mute or
retune rules in ``rules.yaml`` without touching code.
"""

from __future__ import annotations

import difflib
from abc import abstractmethod
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config.files import load_yaml_model
from ..errors import ConfigError

__all__ = [
    "Condition",
    "GroupCollectiveRule",
    "Rule",
    "RuleSet",
    "ThresholdRule",
    "load_rules",
]

Level = Literal["red", "orange", "yellow"]
_OPS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class Condition(BaseModel):
    """``column op value``, ``column op column_ref × factor``, or ``column in [...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    column: str
    op: Literal[">", ">=", "<", "<=", "==", "!="] | None = None
    value: float | None = None
    column_ref: str | None = None
    factor: float = 1.0
    in_: tuple[str, ...] | None = Field(None, alias="in")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.in_ is not None, self.value is not None, self.column_ref is not None]
        if sum(forms) != 1:
            raise ValueError(
                f"condition on '{self.column}' needs exactly one of value, column_ref or in"
            )
        if self.in_ is None and self.op is None:
            raise ValueError(f"condition on '{self.column}' needs an op")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) + ((self.column_ref,) if self.column_ref else ())

    def predicate(self, t: ir.Table) -> ir.BooleanValue:
        """The condition as a boolean column; NULL values never fire."""
        left = t[self.column]
        if self.in_ is not None:
            return left.isin(list(self.in_)).fill_null(False)
        assert self.op is not None  # checked by the validator
        right: Any = (
            self.value if self.column_ref is None else t[self.column_ref].fill_null(0) * self.factor
        )
        result: ir.BooleanValue = _OPS[self.op](left, right)
        return result.fill_null(False)


class Rule(BaseModel):
    """A warning indicator: a code, bilingual titles, a severity and a reason category."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str

    code: str = Field(pattern=r"^[A-Z]\d{3}$")
    title_en: str
    title_zh: str
    severity: Level
    category: str
    format: Literal["integer", "decimal", "pct_change", "share_pct"] = "decimal"
    muted: bool = False
    passive: bool = False

    level_rank: ClassVar[dict[str, int]] = {"yellow": 1, "orange": 2, "red": 3}

    @abstractmethod
    def columns(self) -> set[str]:
        """Snapshot columns the rule reads."""

    def render(self, value: float | None, *, lang: str) -> str:
        """The rule's title with its value, in ``zh`` or ``en``."""
        template = self.title_zh if lang == "zh" else self.title_en
        return template.format(value=_render(value, self.format))


def _render(value: float | None, fmt: str) -> str:
    if value is None or value != value:  # NaN
        return "?"
    if fmt == "pct_change":
        return f"{abs(value) * 100:.0f}"
    if fmt == "share_pct":
        return f"{value * 100:.0f}"
    if fmt == "integer":
        return f"{value:.0f}"
    return f"{value:.1f}"


class ThresholdRule(Rule):
    """Fires when all conditions hold for a customer; shows the ``show`` column's value."""

    kind: Literal["threshold"] = "threshold"
    show: str
    when: tuple[Condition, ...] = Field(min_length=1)
    group: bool = False

    def columns(self) -> set[str]:
        return {self.show, *(c for cond in self.when for c in cond.columns)}

    def hit(self, t: ir.Table) -> ir.BooleanValue:
        result = self.when[0].predicate(t)
        for cond in self.when[1:]:
            result = result & cond.predicate(t)
        return result

    def value(self, t: ir.Table) -> ir.NumericValue:
        return t[self.show].cast("float64")


class GroupCollectiveRule(Rule):
    """Collective churn of a corporate (VPMN) group: members who left plus members with signs.

    Every active member of a group that reaches ``min_members`` gets the rule's
    reason, and the group gets one group-level warning listing its members.
    """

    kind: Literal["group_collective"]
    min_members: int = Field(3, ge=1)
    signs: tuple[Condition, ...] = Field(min_length=1)
    churned_column: str = "group_churned_3m"
    group_column: str = "group_id"

    def columns(self) -> set[str]:
        cols = {self.churned_column, self.group_column}
        return cols | {c for cond in self.signs for c in cond.columns}

    def signal(self, t: ir.Table) -> ir.BooleanValue:
        """Whether an active member shows a port-out sign."""
        result = self.signs[0].predicate(t)
        for cond in self.signs[1:]:
            result = result | cond.predicate(t)
        return result

    def group_counts(self, t: ir.Table) -> ir.Table:
        """Per group: members who left recently, active members with signs, and their sum."""
        g = t.filter(t[self.group_column].notnull())
        g = g.mutate(_sign=self.signal(g).cast("int64"))
        agg = g.group_by(group_id=g[self.group_column]).aggregate(
            churned=g[self.churned_column].fill_null(0).max().cast("int64"),
            signalling=g._sign.sum(),
            active_members=g.count(),
        )
        return agg.mutate(affected=agg.churned + agg.signalling)


AnyRule = Annotated[ThresholdRule | GroupCollectiveRule, Field(discriminator="kind")]


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: tuple[AnyRule, ...]

    @model_validator(mode="before")
    @classmethod
    def _default_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for rule in data.get("rules") or ():
                if isinstance(rule, dict):
                    rule.setdefault("kind", "threshold")
        return data


class RuleSet:
    """The active (unmuted) rules of a workspace, in file order."""

    def __init__(self, rules: Sequence[Rule], *, source: str) -> None:
        codes = [r.code for r in rules]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ConfigError(f"{source}: rule codes must be unique; repeated: {', '.join(dupes)}")
        self.all = tuple(rules)
        self.source = source

    @property
    def active(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.all if not r.muted)

    def by_code(self, code: str) -> Rule:
        for r in self.all:
            if r.code == code:
                return r
        raise KeyError(code)

    def check_columns(self, available: Sequence[str]) -> None:
        """Fail with close matches when a rule reads a column the scoring table lacks."""
        have = set(available)
        problems = []
        for rule in self.active:
            for col in sorted(rule.columns() - have):
                close = difflib.get_close_matches(col, have, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                problems.append(f"{rule.code} reads unknown column '{col}'{hint}")
        if problems:
            raise ConfigError(
                f"{self.source}: "
                + "; ".join(problems)
                + ". Fix the rule, or mute it with 'muted: true'"
            )


def _default_rules_path() -> Path:
    return Path(str(resources.files("churnguard.warnings") / "default_rules.yaml"))


def load_rules(path: Path | None = None, *, workspace: Path | None = None) -> RuleSet:
    """Load rules from ``path``; by default the workspace's file, created from the defaults.

    Raises
    ------
    ConfigError
        For unreadable YAML or invalid rules, naming the rule and the field.
    """
    parsed = load_yaml_model(
        _RuleFile,
        path=path,
        workspace=workspace,
        file_name="rules.yaml",
        default=_default_rules_path(),
        what="rules file",
    )
    return RuleSet(parsed.rules, source=str(path or (workspace or Path()) / "rules.yaml"))
