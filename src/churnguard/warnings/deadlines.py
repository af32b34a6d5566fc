"""Contact deadlines in working days (weekends and configured holidays skipped)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

__all__ = ["deadlines"]


def deadlines(
    levels: pd.Series, *, start: date, working_days: dict[str, int], holidays: Iterable[date] = ()
) -> pd.Series:
    """The contact deadline of each warning: ``working_days[level]`` working days after ``start``.

    ``numpy.busday_offset`` does the calendar work in one vectorized call.
    """
    days = levels.map(working_days).fillna(0).astype(int).to_numpy()
    hol = np.array(sorted(set(holidays)), dtype="datetime64[D]")
    begin = np.busday_offset(np.datetime64(start, "D"), 0, roll="forward", holidays=hol)
    due = np.busday_offset(begin, days, roll="forward", holidays=hol)
    return pd.Series(pd.to_datetime(due).date, index=levels.index)
