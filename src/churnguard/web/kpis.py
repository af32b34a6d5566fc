"""The overview's slow figures (monthly churn rates, warning accuracy), cached per process.

Both are computed from the warehouse's labels by :mod:`churnguard.retention.kpi`
(seconds on a small workspace); they change only when a batch writes the
warehouse or new warnings are raised, so they are kept until the warehouse file
changes or ``ttl`` seconds pass. Campaign KPIs are cheap and never cached.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["TrendCache"]


class TrendCache:
    """``churn_rates`` and ``warning_accuracy`` of the last ``months``, reused while fresh."""

    def __init__(self, *, months: int = 12, ttl: float = 300.0) -> None:
        self.months = months
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entry: tuple[tuple[int, ...], float, dict[str, Any]] | None = None

    @staticmethod
    def _stamp(settings: Settings) -> tuple[int, ...]:
        out: list[int] = []
        for path in (
            settings.warehouse_path,
            settings.warehouse_path.with_name(settings.warehouse_path.name + ".wal"),
        ):
            try:
                st = path.stat()
                out += [st.st_mtime_ns, st.st_size]
            except FileNotFoundError:
                out += [0, 0]
        return tuple(out)

    def get(self, settings: Settings) -> dict[str, Any]:
        """``{"churn_rates": [...], "warning_accuracy": [...]}`` as ``kpi_report`` gives them."""
        from ..retention.kpi import churn_rates, warning_accuracy

        stamp = self._stamp(settings)
        with self._lock:
            if self._entry is not None:
                seen, at, value = self._entry
                if seen == stamp and time.monotonic() - at < self.ttl:
                    return value
            value = {
                "churn_rates": churn_rates(settings, months=self.months),
                "warning_accuracy": warning_accuracy(settings, months=self.months),
            }
            self._entry = (stamp, time.monotonic(), value)
            return value
