"""Building blocks for indicator expressions: windowed means, safe ratios and trends.

Every helper returns an Ibis expression that runs unchanged on DuckDB and
Spark. Divisions are guarded (Spark 4 raises on division by zero in ANSI mode,
DuckDB returns NULL), and nothing is rounded (engines round halves differently).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "change_ratio",
    "count_where",
    "in_months",
    "mean_in",
    "only",
    "relative_slope",
    "safe_div",
    "sum_in",
]

NULL = ibis.null("float64")


def only(cond: ir.BooleanValue, col: ir.Value) -> ir.Value:
    """``col`` where ``cond`` holds, else NULL: aggregate it to aggregate over those rows.

    ``SUM(CASE WHEN cond THEN x END)`` rather than ``SUM(x) FILTER (WHERE cond)``:
    the same result (NULL when no row qualifies), about twice as fast on DuckDB
    with dozens of windows in one aggregation.
    """
    return ibis.cases((cond, col), else_=ibis.null(col.type()))


def safe_div(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den``, NULL when ``den`` is 0 or NULL."""
    return ibis.cases((den != 0, num.cast("float64") / den), else_=NULL)


def in_months(k: ir.IntegerValue, lo: int, hi: int) -> ir.BooleanValue:
    """``lo <= k <= hi`` for a month offset ``k`` (0 is the as-of month)."""
    return (k >= lo) & (k <= hi)


def mean_in(col: ir.NumericValue, k: ir.IntegerValue, lo: int, hi: int) -> ir.FloatingValue:
    """Mean of ``col`` over rows with month offset in ``[lo, hi]`` (NULLs ignored)."""
    return only(in_months(k, lo, hi), col.cast("float64")).mean()


def sum_in(col: ir.NumericValue, k: ir.IntegerValue, lo: int, hi: int) -> ir.FloatingValue:
    """Sum of ``col`` over rows with month offset in ``[lo, hi]``."""
    return only(in_months(k, lo, hi), col.cast("float64")).sum()


def count_where(cond: ir.BooleanValue) -> ir.IntegerValue:
    """Number of rows where ``cond`` holds (NULL counts as false); 0 when none does."""
    # COUNT(...) FILTER (WHERE cond) measured fastest on DuckDB (vs SUM(CAST(...)))
    return cond.count(where=cond)


def change_ratio(current: ir.NumericValue, base: ir.NumericValue) -> ir.FloatingValue:
    """``current / base - 1`` (``-0.3``: down 30 %), NULL when the base is not positive."""
    return ibis.cases((base > 0, current.cast("float64") / base - 1.0), else_=NULL)


def relative_slope(col: ir.NumericValue, k: ir.IntegerValue, months: int) -> ir.FloatingValue:
    """Least-squares monthly slope of ``col`` over the last ``months`` months, per its mean.

    ``-0.1`` means the series falls by 10 % of its average each month. NULL with
    fewer than two months or a non-positive mean.
    """
    y = col.cast("float64")
    cond = in_months(k, 0, months - 1) & y.notnull()
    x = (-k).cast("float64")  # time runs forward: the as-of month is the largest x
    n = cond.cast("float64").sum()
    sx = only(cond, x).sum()
    sy = only(cond, y).sum()
    sxy = only(cond, x * y).sum()
    sxx = only(cond, x * x).sum()
    den = n * sxx - sx * sx
    slope = safe_div(n * sxy - sx * sy, den)
    mean = safe_div(sy, n)
    return ibis.cases((mean > 0, slope / mean), else_=NULL)
