"""What a report is made of: typed sections with charts, tables and texts, and their context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..analytics.texts import Bi, Lang

if TYPE_CHECKING:
    import pandas as pd

    from ..analytics.population import Window
    from ..config import Settings
    from ..web.i18n import Translator

__all__ = [
    "Chart",
    "MissingInput",
    "ReportContext",
    "ReportData",
    "Section",
    "SectionBuilder",
    "TableBlock",
]


@dataclass(frozen=True)
class Chart:
    """A plotly figure (``{"data": [...], "layout": {...}}``) drawn into ``#chart-<key>``."""

    key: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class TableBlock:
    """A small table, its texts already in the report's language."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Section:
    """One section of the report.

    ``missing`` holds the bilingual note shown instead of the content when the
    section's input does not exist yet (no campaign, no scores ...).
    """

    key: str
    title: str
    summary: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)
    missing: Bi | None = None


class MissingInput(Exception):
    """Raised by a section builder when its input is missing; the report shows ``note``."""

    def __init__(self, note: Bi) -> None:
        super().__init__(note.en)
        self.note = note


@dataclass
class ReportData:
    """What the sections compute, independent of the language: shared by a zh and an en report.

    Heavy inputs (the labelled window, the monthly churn rates) are computed once;
    :meth:`memo` keeps any other result under a key.
    """

    settings: Settings
    as_of: date
    months: int = 6
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the same value afterwards."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @cached_property
    def window(self) -> Window:
        from ..analytics.population import data_window

        return data_window(self.settings, as_of=self.as_of, months=self.months)

    @cached_property
    def labelled(self) -> pd.DataFrame:
        """The window's labelled snapshot rows (shared by trend, personas, rules, text ...)."""
        from ..analytics.population import labelled_frame, require_labels
        from ..errors import StateError

        try:
            require_labels(self.window)
        except StateError:
            raise MissingInput(
                Bi(
                    f"截至 {self.as_of:%Y-%m} 还没有已知流失标签的月份"
                    "（标签需要快照之后的月份数据）",
                    f"no month up to {self.as_of:%Y-%m} has known churn labels yet (they need "
                    "the months after a snapshot)",
                )
            ) from None
        return labelled_frame(self.settings, self.window)

    @cached_property
    def churn_rates(self) -> list[dict[str, Any]]:
        """Monthly churn rates of every labelled month (:func:`retention.kpi.churn_rates`)."""
        from ..retention.kpi import churn_rates

        return churn_rates(self.settings, months=len(self.window.data))


@dataclass
class ReportContext:
    """What every section builder may read: the shared data and the report's language."""

    data: ReportData
    lang: Lang

    @property
    def settings(self) -> Settings:
        return self.data.settings

    @property
    def as_of(self) -> date:
        return self.data.as_of

    @property
    def window(self) -> Window:
        return self.data.window

    @property
    def labelled(self) -> pd.DataFrame:
        return self.data.labelled

    @property
    def churn_rates(self) -> list[dict[str, Any]]:
        return self.data.churn_rates

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A language-independent result, computed once per report month."""
        return self.data.memo(key, compute)

    def t(self, text: Bi) -> str:
        """``text`` in the report's language."""
        return text.pick(self.lang)

    def tr(self, zh: str, en: str) -> str:
        """One of two texts, in the report's language."""
        return zh if self.lang == "zh" else en

    @cached_property
    def translator(self) -> Translator:
        """The dashboard's translator (the shared chart builders take one)."""
        from ..web.i18n import Translator

        return Translator("zh-CN" if self.lang == "zh" else "en")


SectionBuilder = Callable[[ReportContext], Section]
