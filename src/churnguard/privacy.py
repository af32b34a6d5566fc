"""Masking of personal data (phone numbers, ID numbers, names, e-mails).

Conventions used on screens and exports in China (GB/T 35273 de-identification):
mobile ``138****5678``, ID number ``110***********1234``, name ``张*``. Masking is
vectorized over pandas Series; nothing here logs values.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = [
    "PERSONAL_COLUMNS",
    "mask_email",
    "mask_frame",
    "mask_id_number",
    "mask_msisdn",
    "mask_name",
]

PERSONAL_COLUMNS = ("msisdn", "name", "id_number", "email")


def _text(s: pd.Series) -> pd.Series:
    return s.astype("string")


def mask_msisdn(s: pd.Series) -> pd.Series:
    """``13812345678`` → ``138****5678``; short values keep only their last 2 characters."""
    t = _text(s)
    n = t.str.len()
    long = t.str.slice(0, 3) + "****" + t.str.slice(-4)
    short = "****" + t.str.slice(-2)
    return long.where(n >= 8, short.where(n > 2, "****")).where(t.notna(), pd.NA)


def mask_id_number(s: pd.Series) -> pd.Series:
    """``110101199001011234`` → ``110***********1234`` (first 3 and last 4 kept)."""
    t = _text(s)
    n = t.str.len().fillna(0).astype(int)
    stars = pd.Series("*", index=t.index, dtype="string").str.repeat(n.clip(lower=7).sub(7))
    masked = t.str.slice(0, 3) + stars + t.str.slice(-4)
    return masked.where(n >= 10, "********").where(t.notna(), pd.NA)


def mask_name(s: pd.Series) -> pd.Series:
    """``张三丰`` → ``张**``; Latin names keep the first letter of each word (``J*** S****``)."""
    t = _text(s)
    cjk = t.str.contains(r"^[\u3400-\u9fff]", regex=True, na=False)
    masked_cjk = t.str.slice(0, 1) + t.str.slice(1).str.replace(r".", "*", regex=True)
    masked_latin = t.str.replace(r"(?<=\w)\w", "*", regex=True)
    return masked_cjk.where(cjk, masked_latin).where(t.notna(), pd.NA)


def mask_email(s: pd.Series) -> pd.Series:
    """``zhang.san@example.com`` → ``z***@example.com``."""
    t = _text(s)
    return t.str.replace(r"^(.)[^@]*@", r"\1***@", regex=True).where(t.notna(), pd.NA)


_MASKERS = {
    "msisdn": mask_msisdn,
    "id_number": mask_id_number,
    "name": mask_name,
    "email": mask_email,
}


def mask_frame(df: pd.DataFrame, columns: Iterable[str] = PERSONAL_COLUMNS) -> pd.DataFrame:
    """A copy of ``df`` with the personal columns present in it masked."""
    out = df.copy()
    for col in columns:
        if col in out.columns:
            out[col] = _MASKERS.get(col, mask_name)(out[col])
    return out
