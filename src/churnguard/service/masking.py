"""What a caller may see: personal data masked unless their role is allowed to see it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..privacy import PERSONAL_COLUMNS, mask_frame

if TYPE_CHECKING:
    from ..config import Settings
    from .auth import Principal

__all__ = ["mask_records", "scrub_text", "sees_clear_text"]

# Phone and ID numbers typed into free text (notes, complaint texts).
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])(\d{3})(\d{11}|\d{8})(\d{3}[\dXx]|\d{4})(?![\dA-Za-z])")


def sees_clear_text(principal: Principal, settings: Settings) -> bool:
    """Whether the caller's role is one of ``privacy.clear_text_roles``."""
    return principal.role in settings.privacy.clear_text_roles


def scrub_text(text: str | None) -> str | None:
    """Free text with phone numbers and ID numbers in it masked."""
    if text is None:
        return None
    out = _ID.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3)[-4:], text)
    return _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(3), out)


def mask_records(
    records: list[dict[str, Any]],
    *,
    clear: bool,
    text_columns: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Records with personal columns masked (and free-text columns scrubbed) unless ``clear``."""
    if clear or not records:
        return records
    df = pd.DataFrame(records)
    present = [c for c in PERSONAL_COLUMNS if c in df.columns]
    if present:
        df = mask_frame(df, present)
    for col in text_columns:
        if col in df.columns:
            df[col] = [scrub_text(v) if isinstance(v, str) else v for v in df[col]]
    df = df.astype(object).where(df.notna(), None)
    out: list[dict[str, Any]] = df.to_dict("records")
    return out
