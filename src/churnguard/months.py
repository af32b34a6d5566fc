"""Calendar arithmetic on month starts (constants computed once, never per row)."""

from __future__ import annotations

from datetime import date

__all__ = ["add_months", "month_start", "parse_month"]


def month_start(d: date) -> date:
    """The first day of ``d``'s month."""
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    """The first day of the month ``n`` months after ``d``'s month (``n`` may be negative)."""
    index = d.year * 12 + (d.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


def parse_month(text: str | date) -> date:
    """Parse ``YYYY-MM`` (also ``YYYYMM`` or ``YYYY-MM-DD``, or a date) into its month's first day.

    Raises
    ------
    churnguard.errors.InputError
        With the expected format, if ``text`` is not a month.
    """
    from .errors import InputError

    if isinstance(text, date):
        return month_start(text)
    raw = text.strip()
    parts = raw.split("-") if "-" in raw else ([raw[:4], raw[4:]] if len(raw) == 6 else [raw])
    try:
        if len(parts) not in (2, 3) or len(parts[0]) != 4:
            raise ValueError
        return date(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1).replace(
            day=1
        )
    except ValueError:
        raise InputError(f"'{text}' is not a month: write it as YYYY-MM, e.g. 2025-05") from None
