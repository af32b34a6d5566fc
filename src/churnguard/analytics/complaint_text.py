"""Complaint text mining (Chinese with jieba, English by words) and per-subscriber text features.

**Distinguishing terms.** Every complaint in the window is cut into terms
(jieba for Chinese, words for English; stop words and punctuation dropped) and
phrases (two adjacent terms). For each term, the share of churners' complaints
that contain it is compared with the share of other customers' complaints, as a
smoothed log-odds ratio with its z-score (add-0.5). Terms are mapped to the
reason categories by a small bilingual lexicon (network, price / competitor,
service, billing, device) plus *leaving intent* (销户, 转网, cancel ...).

**Text features.** :func:`write_text_features` stores, per subscriber and as-of
month, how many of the customer's complaints of the last 6 months mention each
category (lexicon only, no labels: safe as model inputs) in the warehouse table
``text_features``. Only distinct texts are tokenised in Python; the counting per
subscriber runs in DuckDB.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..months import add_months
from .population import DEFAULT_MONTHS, Window, data_window, duck, labelled_frame, table_names
from .texts import Bi

if TYPE_CHECKING:
    import jieba

    from ..config import Settings

__all__ = [
    "TEXT_CATEGORIES",
    "TEXT_FEATURES_TABLE",
    "TermRow",
    "TextResult",
    "categories_of",
    "complaint_terms",
    "terms_from",
    "tokenize",
    "window_complaints",
    "write_text_features",
]

TEXT_FEATURES_TABLE = "text_features"
LOOKBACK_MONTHS = 6

TEXT_CATEGORIES: dict[str, Bi] = {
    "network_quality": Bi("网络质量", "network quality"),
    "price_competitor": Bi("资费/竞争对手吸引", "price / competitor pull"),
    "service_complaints": Bi("服务投诉", "service complaints"),
    "billing": Bi("账单/扣费", "billing"),
    "device": Bi("机顶盒/光猫终端", "TV / broadband device"),
    "leaving_intent": Bi("离网意向", "intent to leave"),
}
# A term belongs to a category when it contains one of the category's stems.
_LEXICON: dict[str, tuple[str, ...]] = {
    "leaving_intent": (
        "销户", "转网", "换运营商", "不想用", "不续费", "换号", "换别家", "携号转网",
        "cancel", "switch", "port", "leave",
    ),
    "network_quality": (
        "信号", "网速", "掉线", "断线", "断网", "无服务", "基站", "卡顿", "宽带", "马赛克",
        "花屏", "上网", "signal", "coverage", "drop", "slow", "internet", "disconnect", "buffer",
    ),
    "price_competitor": (
        "贵", "资费", "优惠", "便宜", "套餐", "别家", "运营商", "降档",
        "expensive", "price", "cheaper", "rival", "carrier", "operator",
    ),
    "billing": ("账单", "扣费", "话费", "多扣", "退还", "bill", "charge", "overcharg"),
    "service_complaints": (
        "客服", "态度", "排队", "营业厅", "没人", "服务", "师傅", "上门", "hotline",
        "nobody", "waited", "service",
    ),
    "device": ("机顶盒", "光猫", "离线", "电视", "set-top", "box", "modem", "offline", "picture"),
}  # fmt: skip
_DOMAIN_WORDS = (
    "携号转网", "换运营商", "销户", "光猫", "机顶盒", "掉线", "断网", "网速", "资费", "不续费",
    "无服务", "信号差", "太贵", "别家", "客服", "营业厅", "多扣", "乱扣费", "降档",
)  # fmt: skip
_ZH_STOP = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "我",
        "也",
        "就",
        "都",
        "又",
        "还",
        "很",
        "太",
        "一直",
        "经常",
        "请",
        "希望",
        "一下",
        "这",
        "那",
        "有",
        "没",
        "不",
        "吧",
        "啊",
        "呢",
        "给",
        "把",
        "被",
        "让",
        "要",
        "想",
        "会",
        "能",
        "再",
        "对",
        "和",
        "与",
        "及",
        "最近",
        "这几天",
        "本月",
        "以来",
        "每天",
        "晚上",
        "上周末",
        "连续",
        "三天",
        "一周",
        "已经",
        "第二次",
        "多次",
        "问题",
        "一",
        "两次",
        "准备",
        "考虑",
        "打算",
        "根本",
        "天天",
        "老是",
        "莫名其妙",
        "变",
        "多",
        "说法",
        "处理",
        "尽快",
        "几天",
        "我要",
        "同样",
        "一半",
        "影响",
        "家里",
        "公司",
        "小区",
        "地下车库",
        "办公室",
        "地铁",
        "卧室",
        "老家",
        "发现",
        "看看",
        "出去",
        "好多",
        "不让",
        "电话",
        "不给",
    ]
)
_EN_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "was",
        "were",
        "this",
        "that",
        "with",
        "have",
        "has",
        "had",
        "not",
        "you",
        "your",
        "our",
        "any",
        "all",
        "can",
        "will",
        "would",
        "please",
        "there",
        "their",
        "they",
        "them",
        "from",
        "into",
        "out",
        "about",
        "again",
        "days",
        "evening",
        "every",
        "week",
        "month",
        "since",
        "last",
        "weekend",
        "time",
        "times",
        "keep",
        "keeps",
        "kept",
        "goes",
        "going",
        "get",
        "got",
        "what",
        "when",
        "which",
        "who",
        "how",
        "its",
        "it's",
        "i'm",
        "don't",
        "too",
        "very",
        "much",
        "more",
        "most",
        "some",
    ]
)
_KEEP_SINGLE = frozenset("贵差慢")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z\-']+")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "churnguard" / "jieba"


@cache
def _tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer with its dictionary cache in the user's cache dir, quiet."""
    with warnings.catch_warnings():
        # jieba 0.42 has invalid escape sequences (compiled on first import) and imports
        # pkg_resources, which newer setuptools deprecate: neither concerns us
        warnings.filterwarnings(
            "ignore", message="invalid escape sequence", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    cache_dir = _cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tok.tmp_dir = str(cache_dir)
    except OSError:
        pass  # read-only home: jieba falls back to the temp dir
    for word in _DOMAIN_WORDS:
        tok.add_word(word, freq=20000)
    return tok


def tokenize(text: str) -> list[str]:
    """The terms of one text (Chinese: jieba words; English: lower-case words)."""
    if not text:
        return []
    if _CJK.search(text):
        words = _tokenizer().lcut(text, HMM=True)
        return [
            w
            for w in (w.strip() for w in words)
            if w and _CJK.search(w) and w not in _ZH_STOP and (len(w) >= 2 or w in _KEEP_SINGLE)
        ]
    return [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _EN_STOP]


def terms_and_phrases(text: str) -> set[str]:
    """The distinct terms of a text and its phrases (two adjacent terms)."""
    terms = tokenize(text)
    joiner = "" if _CJK.search(text or "") else " "
    return set(terms) | {a + joiner + b for a, b in itertools.pairwise(terms)}


def categories_of(term: str) -> list[str]:
    """Categories whose stems the term contains (leaving intent first)."""
    t = term.lower()
    return [cat for cat, stems in _LEXICON.items() if any(s in t for s in stems)]


@dataclass(frozen=True)
class TermRow:
    """A term that distinguishes churners' complaints (or others')."""

    term: str
    lang: str  # zh | en
    churner_docs: int
    other_docs: int
    churner_share: float
    other_share: float
    log_odds: float
    z: float
    category: str | None
    category_zh: str | None
    category_en: str | None


@dataclass(frozen=True)
class TextResult:
    """Terms of churners' complaints against others', and their share per category."""

    window: str
    churner_complaints: int
    other_complaints: int
    churner_terms: list[TermRow]
    other_terms: list[TermRow]
    categories: list[dict[str, Any]]  # category, zh, en, churner_share, other_share

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _doc_terms(texts: pd.Series) -> pd.DataFrame:
    """``(text, term)`` for every distinct text (each text tokenised once)."""
    distinct = pd.Series(texts.dropna().unique(), dtype=object)
    rows = [(t, term) for t in distinct for term in terms_and_phrases(str(t))]
    return pd.DataFrame(rows, columns=["text", "term"])


def _distinct(ranked: pd.DataFrame, texts_of: dict[str, frozenset[str]]) -> pd.DataFrame:
    """Drop terms found in exactly the same texts as a better-ranked one.

    Template texts make a phrase and its words co-occur exactly ("信号太差" and
    "信号好多" from one sentence): the list keeps the first of them.
    """
    kept: list[Any] = []
    seen: set[frozenset[str]] = set()
    for idx, term in zip(ranked.index, ranked["term"], strict=True):
        key = texts_of.get(str(term), frozenset({str(term)}))
        if key in seen:
            continue
        seen.add(key)
        kept.append(idx)
    return ranked.loc[kept]


def terms_from(
    docs: pd.DataFrame, *, min_docs: int = 5, top: int = 20, window: str = ""
) -> TextResult:
    """Distinguishing terms of ``docs`` (columns ``text`` and ``churner`` bool)."""
    churn_n = int(docs["churner"].sum())
    other_n = int((~docs["churner"].astype(bool)).sum())
    pairs = _doc_terms(docs["text"])
    counted = docs[["text", "churner"]].merge(pairs, on="text")
    # a text may occur many times: count documents, not distinct texts
    agg = counted.groupby("term")["churner"].agg(churner_docs="sum", docs="count").reset_index()
    agg["other_docs"] = agg["docs"] - agg["churner_docs"]
    agg = agg[agg["docs"] >= min_docs]
    a, b = agg["churner_docs"] + 0.5, agg["other_docs"] + 0.5
    c, d = churn_n - agg["churner_docs"] + 0.5, other_n - agg["other_docs"] + 0.5
    agg["log_odds"] = (a / c).map(math.log) - (b / d).map(math.log)
    agg["z"] = agg["log_odds"] / (1 / a + 1 / b + 1 / c + 1 / d).map(math.sqrt)

    def rows(part: pd.DataFrame) -> list[TermRow]:
        out = []
        for rec in part.to_dict("records"):
            cats = categories_of(str(rec["term"]))
            cat = cats[0] if cats else None
            out.append(
                TermRow(
                    term=str(rec["term"]),
                    lang="zh" if _CJK.search(str(rec["term"])) else "en",
                    churner_docs=int(rec["churner_docs"]),
                    other_docs=int(rec["other_docs"]),
                    churner_share=rec["churner_docs"] / churn_n if churn_n else 0.0,
                    other_share=rec["other_docs"] / other_n if other_n else 0.0,
                    log_odds=float(rec["log_odds"]),
                    z=float(rec["z"]),
                    category=cat,
                    category_zh=TEXT_CATEGORIES[cat].zh if cat else None,
                    category_en=TEXT_CATEGORIES[cat].en if cat else None,
                )
            )
        return out

    # categorised terms first among equals, then the shorter one (the phrase adds nothing)
    agg = agg.assign(
        _mapped=agg["term"].map(lambda t: not categories_of(str(t))), _len=agg["term"].str.len()
    )
    ranked = agg.sort_values(
        ["z", "_mapped", "_len", "term"], ascending=[False, True, True, True], kind="stable"
    )
    texts_of = {
        str(t): frozenset(g) for t, g in pairs.groupby("term")["text"] if t in set(agg["term"])
    }
    churner_terms = rows(_distinct(ranked[ranked["z"] > 0], texts_of).head(top))
    others = ranked[ranked["z"] < 0].sort_values(["z", "_mapped", "_len"], kind="stable")
    other_terms = rows(_distinct(others, texts_of).head(top))
    # share of each group's complaints mentioning a category
    text_cats = pairs.assign(category=pairs["term"].map(categories_of)).explode("category")
    text_cats = text_cats.dropna(subset=["category"])[["text", "category"]].drop_duplicates()
    per_doc = docs[["text", "churner"]].reset_index().merge(text_cats, on="text")
    cats = []
    for cat, text in TEXT_CATEGORIES.items():
        part = per_doc[per_doc["category"] == cat].drop_duplicates("index")
        k = int(part["churner"].sum())
        cats.append(
            {
                "category": cat,
                "zh": text.zh,
                "en": text.en,
                "churner_share": k / churn_n if churn_n else None,
                "other_share": (len(part) - k) / other_n if other_n else None,
            }
        )
    return TextResult(window, churn_n, other_n, churner_terms, other_terms, cats)


def window_complaints(settings: Settings, window: Window, churners: pd.Series) -> pd.DataFrame:
    """Complaint texts of the window (and the 5 months before it), ``churner`` flagged."""
    first = add_months(window.months[0], -(LOOKBACK_MONTHS - 1))
    end = add_months(window.months[-1], 1)
    with duck(settings) as con:
        if "complaints" not in table_names(con):
            return pd.DataFrame({"text": pd.Series(dtype=object), "churner": pd.Series(dtype=bool)})
        con.register("_cg_churners", pd.DataFrame({"subscriber_id": churners.astype(str).unique()}))
        try:
            df: pd.DataFrame = con.execute(
                """
                SELECT c.text,
                       c.subscriber_id IN (SELECT subscriber_id FROM _cg_churners) AS churner
                FROM complaints c
                WHERE c.text IS NOT NULL AND c.created_at >= ? AND c.created_at < ?
                """,
                [first, end],
            ).df()
        finally:
            con.unregister("_cg_churners")
    df["churner"] = df["churner"].astype(bool)
    return df


def complaint_terms(
    settings: Settings,
    *,
    as_of: date | str,
    months: int = DEFAULT_MONTHS,
    top: int = 20,
    min_docs: int = 5,
) -> TextResult:
    """Terms that distinguish the window's churners' complaints from other customers'."""
    window = data_window(settings, as_of=as_of, months=months)
    frame = labelled_frame(settings, window)
    docs = window_complaints(settings, window, frame.loc[frame["label"] == 1, "subscriber_id"])
    return terms_from(docs, min_docs=min_docs, top=top, window=window.label)


_FEATURE_COLUMNS = ("complaint_texts_6m", *[f"text_{c}_6m" for c in TEXT_CATEGORIES])


@dataclass(frozen=True)
class TextFeatureInfo:
    """What :func:`write_text_features` stored."""

    table: str
    as_of: str
    subscribers: int
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_text_features(settings: Settings, *, as_of: date | str) -> TextFeatureInfo:
    """Store per-subscriber text features of ``as_of`` in ``text_features`` (replacing them).

    Columns: ``as_of``, ``subscriber_id``, ``complaint_texts_6m`` (complaints with a
    text in the 6 months up to the end of ``as_of``) and ``text_<category>_6m`` (of
    those, how many mention the category). Subscribers without complaints have no row:
    join with ``coalesce(..., 0)``.
    """
    from ..warehouse.analytical import connect, transaction

    window = data_window(settings, as_of=as_of, months=1)
    month = window.as_of
    first, end = add_months(month, -(LOOKBACK_MONTHS - 1)), add_months(month, 1)
    backend = connect(settings)
    try:
        with transaction(backend) as con:
            present = "complaints" in table_names(con)
            texts = (
                con.execute(
                    "SELECT DISTINCT text FROM complaints WHERE text IS NOT NULL "
                    "AND created_at >= ? AND created_at < ?",
                    [first, end],
                ).df()
                if present
                else pd.DataFrame({"text": []})
            )
            pairs = (
                _doc_terms(texts["text"]) if len(texts) else pd.DataFrame({"text": [], "term": []})
            )
            flags = pd.DataFrame({"text": texts["text"]})
            for cat in TEXT_CATEGORIES:
                hit = pairs.loc[pairs["term"].map(lambda t, c=cat: c in categories_of(t)), "text"]
                flags[cat] = flags["text"].isin(set(hit)).astype("int64")
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {TEXT_FEATURES_TABLE} (as_of DATE NOT NULL, "
                "subscriber_id VARCHAR NOT NULL, "
                + ", ".join(f"{c} BIGINT" for c in _FEATURE_COLUMNS)
                + ")"
            )
            con.execute(f"DELETE FROM {TEXT_FEATURES_TABLE} WHERE as_of = ?", [month])
            if present:
                con.register("_cg_text_flags", flags)
                try:
                    sums = ", ".join(f"sum(f.{c}) AS text_{c}_6m" for c in TEXT_CATEGORIES)
                    con.execute(
                        f"""
                        INSERT INTO {TEXT_FEATURES_TABLE}
                        SELECT CAST(? AS DATE), c.subscriber_id, count(*), {sums}
                        FROM complaints c JOIN _cg_text_flags f ON f.text = c.text
                        WHERE c.created_at >= ? AND c.created_at < ?
                        GROUP BY c.subscriber_id
                        """,
                        [month, first, end],
                    )
                finally:
                    con.unregister("_cg_text_flags")
            row = con.execute(
                f"SELECT count(*) FROM {TEXT_FEATURES_TABLE} WHERE as_of = ?", [month]
            ).fetchall()
    finally:
        backend.disconnect()
    return TextFeatureInfo(TEXT_FEATURES_TABLE, f"{month:%Y-%m}", int(row[0][0]), _FEATURE_COLUMNS)
