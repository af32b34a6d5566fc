"""The message catalog and language choice (no browser)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from churnguard.web.i18n import Translator, negotiate
from churnguard.web.messages import MESSAGES

_TEMPLATES = resources.files("churnguard.web") / "templates"
_KEY = re.compile(r"""\bt\(\s*["']([a-z_.0-9-]+)["']""")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _template_texts() -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in _TEMPLATES.iterdir()
        if p.name.endswith(".html")
    }


def test_every_text_has_both_languages_and_chinese_is_chinese() -> None:
    for key, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
        if not key.startswith(("lang.", "metric.")):
            assert _CJK.search(zh), f"{key}: the zh-CN text has no Chinese"
            assert not _CJK.search(en), f"{key}: the English text has Chinese"


def test_templates_use_only_catalog_keys_and_no_literal_words() -> None:
    used: set[str] = set()
    for name, text in _template_texts().items():
        used |= set(_KEY.findall(text))
        # visible text outside {{ }} / {% %} must not be literal words of either language
        bare = re.sub(r"{%.*?%}|{{.*?}}|<[^>]+>|{#.*?#}", " ", text, flags=re.S)
        words = [w for w in re.findall(r"[A-Za-z\u4e00-\u9fff]{2,}", bare) if w != "churnguard"]
        assert not words, f"{name}: literal texts {words[:5]}"
    prefixes = {k for k in used if k.endswith(".")}  # t("action." ~ a): checked below
    missing = sorted(used - prefixes - set(MESSAGES))
    assert not missing, missing
    assert len(used) > 100  # the scan found the keys
    assert all(any(m.startswith(p) for m in MESSAGES) for p in prefixes)


def test_every_enumerated_value_has_a_text() -> None:
    from churnguard.service.audit import ACTIONS
    from churnguard.service.worklist import SORTS
    from churnguard.web.i18n import LANGS
    from churnguard.web.pages import LEVELS, MODEL_METRICS, RESULTS, TIERS

    wanted = (
        [f"action.{a}" for a in ACTIONS]
        + [f"worklist.sort.{s}" for s in SORTS]
        + [f"metric.{m}" for m in MODEL_METRICS]
        + [f"lang.{lang}" for lang in LANGS]
        + [f"level.{lv}" for lv in LEVELS]
        + [f"tier.{tr}" for tr in TIERS]
        + [f"result.{r}" for r in RESULTS]
        + [f"role.{r}" for r in ("admin", "manager", "analyst", "agent")]
    )
    assert not [k for k in wanted if k not in MESSAGES]


def test_glossary_terms_in_the_chinese_ui() -> None:
    zh = " ".join(v[0] for v in MESSAGES.values())
    for term in (
        "流失预警",
        "红色预警",
        "橙色预警",
        "黄色预警",
        "挽留成功率",
        "对照组",
        "预警准确率",
        "投资回报率",
    ):
        assert term in zh, term


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "zh-CN"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
        (None, "de-DE", "zh-CN"),
        (None, "en;q=0, zh-TW", "zh-CN"),
        ("en", "zh-CN", "en"),
        ("xx", "en-GB", "en"),
    ],
)
def test_language_from_cookie_then_accept_language(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(cookie, header) == expected


def test_translator_fails_loudly_on_unknown_keys() -> None:
    t = Translator("en")
    assert t("level.red") == "Red warning"
    assert Translator("zh-CN")("level.red") == "红色预警"
    assert t.label("tier", "unknown-tier") == "unknown-tier"
    with pytest.raises(KeyError):
        t("no.such.key")
