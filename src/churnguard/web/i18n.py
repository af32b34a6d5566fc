"""Languages of the dashboard: zh-CN and English, chosen by a cookie or Accept-Language."""

from __future__ import annotations

from typing import Any

from .messages import MESSAGES

__all__ = ["DEFAULT_LANG", "LANGS", "LANG_COOKIE", "Translator", "negotiate"]

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"  # the operators are Chinese first
LANG_COOKIE = "cg_lang"


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the cookie when valid, else the best of Accept-Language."""
    if cookie in LANGS:
        return str(cookie)
    candidates: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        tag = tag.strip().lower()
        lang = "zh-CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang is not None and q > 0:
            candidates.append((q, -order, lang))  # the highest q; on a tie, the earliest
    return max(candidates)[2] if candidates else DEFAULT_LANG


class Translator:
    """``t("key", name=...)``: the text of ``key`` in one language.

    An unknown key raises ``KeyError`` so that a missing text fails the tests
    instead of showing an identifier to the user.
    """

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
        self.lang = lang
        self._index = LANGS.index(lang)

    def __call__(self, key: str, **fields: Any) -> str:
        text = MESSAGES[key][self._index]
        return text.format(**fields) if fields else text

    def label(self, prefix: str, value: Any) -> str:
        """The text of an enumerated value (``level.red``), or the value itself if unknown."""
        entry = MESSAGES.get(f"{prefix}.{value}")
        return entry[self._index] if entry else ("" if value is None else str(value))

    def pick(self, zh: Any, en: Any) -> Any:
        """One of two stored bilingual values (reasons, offer names)."""
        return zh if self.lang == "zh-CN" else en
