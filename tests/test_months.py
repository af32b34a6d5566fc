from __future__ import annotations

from datetime import date

import pytest

from churnguard.errors import InputError
from churnguard.months import add_months, month_start, parse_month


@pytest.mark.parametrize(
    ("text", "month"),
    [("2024-06", "2024-06-01"), ("202406", "2024-06-01"), ("2024-06-17", "2024-06-01")],
)
def test_parse_month(text: str, month: str) -> None:
    assert parse_month(text).isoformat() == month
    assert parse_month(date(2024, 6, 17)) == date(2024, 6, 1)


@pytest.mark.parametrize("bad", ["June", "2024-13", "24-06", "2024/06", ""])
def test_parse_month_rejects_garbage(bad: str) -> None:
    with pytest.raises(InputError, match="write it as YYYY-MM"):
        parse_month(bad)


def test_month_arithmetic() -> None:
    assert add_months(date(2024, 11, 20), 3) == date(2025, 2, 1)
    assert add_months(date(2024, 1, 1), -1) == date(2023, 12, 1)
    assert month_start(date(2024, 2, 29)) == date(2024, 2, 1)
