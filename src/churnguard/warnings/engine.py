"""Turn scores, value and rule hits into graded warnings — vectorized end to end.

Rules run inside the engine (Ibis); only candidates (above the yellow
threshold, or hit by a rule) come back to pandas, where levels, reasons,
churn type, queue and deadline are set column by column, never row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..config.warnings import WarningSettings
from ..models.reasons import format_values, join_texts
from .deadlines import deadlines
from .levels import LEVEL_RANK, LevelThresholds, assign_levels, thresholds_for
from .rules import GroupCollectiveRule, Rule, RuleSet, ThresholdRule
from .triage import churn_type, next_step, route

__all__ = [
    "Candidates",
    "WarningBatch",
    "evaluate",
    "fill_model_reasons",
    "find_candidates",
    "grade",
    "read_columns",
]

_CONTEXT = (
    "service_type",
    "payment_type",
    "customer_type",
    "group_id",
    "region",
    "value_tier",
    "clv",
    "arpu_3m",
    "lifecycle",
    "marketing_opt_out",
)
_MODEL_REASONS = ("top_reasons_zh", "top_reasons_en", "top_categories")
_SEP = {"zh": "；", "en": "; "}
GRADE_ROWS = 400_000  # candidates graded at a time (bounds the long-form reasons)


@dataclass(frozen=True)
class WarningBatch:
    """The warnings of one run, before deduplication against earlier runs."""

    as_of: date
    run_date: date
    thresholds: LevelThresholds
    warnings: pd.DataFrame
    groups: pd.DataFrame
    candidates: int
    scored: int


def read_columns(rules: RuleSet) -> set[str]:
    """The columns of ``base`` that :func:`evaluate` reads with these rules (others are unused)."""
    cols = {"subscriber_id", "churn_probability", "clv", "arrears_streak"}
    cols |= {*_CONTEXT, *_MODEL_REASONS}
    for r in rules.active:
        cols |= r.columns()
    return cols


def _rule_columns(rule: Rule) -> tuple[str, str]:
    return f"_hit_{rule.code}", f"_val_{rule.code}"


def _render(values: pd.Series, rule: Rule, lang: str) -> np.ndarray:
    """The rule's title with each value, vectorized: prefix + formatted value + suffix."""
    template = rule.title_zh if lang == "zh" else rule.title_en
    prefix, _, suffix = template.partition("{value}")
    shown = format_values(values, rule.format).fillna("?").to_numpy(dtype=object)
    out: np.ndarray = prefix + shown + suffix
    return out


@dataclass
class Candidates:
    """What the engine returns for one month: the customers who may be warned.

    ``frame`` has one row per candidate (above the yellow threshold, or hit by a
    rule) with the rule hit and value columns; ``groups`` the month's group
    warnings, already graded. Once it is fetched the engine is no longer needed:
    :func:`grade` works on it in memory.
    """

    frame: pd.DataFrame
    thresholds: LevelThresholds
    groups: pd.DataFrame
    scored: int


def _deadline_days(settings: WarningSettings) -> dict[str, int]:
    return {
        "red": settings.deadline_working_days_red,
        "orange": settings.deadline_working_days_orange,
        "yellow": settings.deadline_working_days_yellow,
    }


def evaluate(
    base: ir.Table,
    *,
    rules: RuleSet,
    settings: WarningSettings,
    as_of: date,
    run_date: date,
    explain: Callable[[pd.Series], pd.DataFrame] | None = None,
) -> WarningBatch:
    """Warnings for one as-of month: :func:`find_candidates`, then :func:`grade`.

    Parameters
    ----------
    base
        One row per active subscriber: ``subscriber_id``, ``churn_probability``
        (calibrated), the value columns (``value_tier``, ``clv``, ...), the
        feature columns the rules read, and optionally the model's reasons
        (``top_reasons_zh``, ``top_reasons_en``, ``top_categories``: lists, or text as
        stored with the scores).
    rules
        Active rules of the workspace.
    settings
        Levels, deadlines, routing and passive-churn settings.
    as_of, run_date
        The snapshot month, and the day the warnings are raised (deadlines count
        working days from it).
    explain
        Called with the ids of candidates whose scores carry no model reasons;
        returns ``subscriber_id`` and the reason columns (text, as stored with
        scores). So explanations are computed only for customers who may be warned.
    """
    cands = find_candidates(base, rules=rules, settings=settings, run_date=run_date)
    if explain is not None:
        fill_model_reasons(cands.frame, explain)
    return grade(cands, rules=rules, settings=settings, as_of=as_of, run_date=run_date)


def find_candidates(
    base: ir.Table, *, rules: RuleSet, settings: WarningSettings, run_date: date
) -> Candidates:
    """The engine's part of :func:`evaluate`: thresholds, rule hits, candidates, group warnings."""
    active = rules.active
    rules.check_columns(base.columns)
    days = _deadline_days(settings)
    p_all = base.select("churn_probability", "clv").execute()
    rank_value = None
    if settings.levels.mode == "capacity" and settings.levels.rank_by == "expected_loss":
        rank_value = p_all["churn_probability"] * p_all["clv"].fillna(0)
    th = thresholds_for(
        p_all["churn_probability"],
        settings=settings.levels,
        deadline_days=days,
        rank_value=rank_value,
    )
    scored = len(p_all)
    del p_all, rank_value

    t = base
    group_rules = [r for r in active if isinstance(r, GroupCollectiveRule)]
    group_frames = []
    for gr in group_rules:
        counts = gr.group_counts(t)
        hot = counts.filter(counts.affected >= gr.min_members).select(
            _g=counts.group_id, **{f"_aff_{gr.code}": counts.affected}
        )
        t = t.left_join(hot, t[gr.group_column] == hot._g).drop("_g")
        hit, val = _rule_columns(gr)
        t = t.mutate(**{hit: t[f"_aff_{gr.code}"].notnull(), val: t[f"_aff_{gr.code}"]})
        t = t.drop(f"_aff_{gr.code}")
        group_frames.append((gr, counts.filter(counts.affected >= gr.min_members)))
    for r in active:
        if isinstance(r, ThresholdRule):
            hit, val = _rule_columns(r)
            t = t.mutate(**{hit: r.hit(t), val: r.value(t)})

    hit_cols = [_rule_columns(r)[0] for r in active]
    any_hit: ir.BooleanValue = ibis.literal(False)
    for h in hit_cols:
        any_hit = any_hit | t[h]
    keep = [
        c
        for c in ("subscriber_id", "churn_probability", *_CONTEXT, *_MODEL_REASONS)
        if c in t.columns
    ]
    if "arrears_streak" in t.columns and "arrears_streak" not in keep:
        keep.append("arrears_streak")
    rule_cols = [c for r in active for c in _rule_columns(r)]
    cand = t.filter((t.churn_probability >= th.yellow) | any_hit).select(*keep, *rule_cols)
    df = cand.execute()
    groups = _group_warnings(group_frames, t, settings=settings, run_date=run_date, days=days)
    return Candidates(frame=df, thresholds=th, groups=groups, scored=scored)


def grade(
    cands: Candidates, *, rules: RuleSet, settings: WarningSettings, as_of: date, run_date: date
) -> WarningBatch:
    """The in-memory part of :func:`evaluate`: levels, reasons, triage, queue and deadline.

    ``cands.frame`` is consumed: its rows are graded in place, ``GRADE_ROWS`` at a
    time, and ``cands.frame`` is left empty.
    """
    days = _deadline_days(settings)
    frame = cands.frame
    candidates = len(frame)
    cands.frame = frame.iloc[0:0]  # the rows are graded (and consumed) below
    # A slice at a time: the reasons of millions of candidates, in long form, took
    # gigabytes at once (10 M base: 2.9 M candidates). Rows are graded independently;
    # each slice is let go once graded, so its model reasons (rendered into the
    # warning's reasons, then dropped) are not held until the last slice is done.
    slices: list[pd.DataFrame | None] = (
        [frame]
        if candidates <= GRADE_ROWS
        else [frame.iloc[s : s + GRADE_ROWS].copy() for s in range(0, candidates, GRADE_ROWS)]
    )
    del frame
    graded: list[pd.DataFrame] = []
    ranks: list[np.ndarray] = []
    for i, part in enumerate(slices):
        slices[i] = None
        assert part is not None
        out, rank = _grade(
            part,
            active=rules.active,
            th=cands.thresholds,
            settings=settings,
            as_of=as_of,
            run_date=run_date,
            days=days,
        )
        graded.append(out)
        ranks.append(rank)
        del part, out
    rank = np.concatenate(ranks)
    prob = np.concatenate([g["churn_probability"].to_numpy(dtype=np.float64) for g in graded])
    # most urgent level first, then the highest probability; ties keep their order
    order = np.lexsort((-prob, -rank))
    warnings = _assembled(graded, order)
    return WarningBatch(
        as_of=as_of,
        run_date=run_date,
        thresholds=cands.thresholds,
        warnings=warnings,
        groups=cands.groups,
        candidates=candidates,
        scored=cands.scored,
    )


def _assembled(parts: list[pd.DataFrame], order: np.ndarray) -> pd.DataFrame:
    """The rows of ``parts`` (same columns) one after the other, taken in ``order``.

    Column by column, each taken from the parts as it is built (``parts`` are left
    empty), and not consolidated into blocks: a concat then a take of millions of
    warnings held two more copies of every column at once (10 M base: +1.3 GB).
    """
    columns: dict[str, Any] = {}
    for name in list(parts[0].columns):
        pieces = [p.pop(name) for p in parts]
        whole = pieces[0] if len(pieces) == 1 else pd.concat(pieces, ignore_index=True)
        del pieces
        columns[name] = whole.array.take(order)
        del whole
    return pd.DataFrame(columns, copy=False)


def fill_model_reasons(
    df: pd.DataFrame, explain: Callable[[pd.Series], pd.DataFrame]
) -> pd.DataFrame:
    """Model reasons of the candidates that have none yet, from ``explain``, in place."""
    if not set(_MODEL_REASONS) <= set(df.columns):
        return df
    missing = df["top_reasons_en"].isna().to_numpy()
    if not missing.any():
        return df
    ids = df.loc[missing, "subscriber_id"].astype(str)
    got = explain(ids).drop_duplicates("subscriber_id").set_index("subscriber_id")
    for col in _MODEL_REASONS:  # in place: the candidates frame is this run's own
        filled = ids.map(got[col])
        full = df[col].to_numpy(dtype=object).copy()
        full[missing] = filled.to_numpy(dtype=object)
        df[col] = full
    return df


def _grade(
    df: pd.DataFrame,
    *,
    active: tuple[Rule, ...],
    th: LevelThresholds,
    settings: WarningSettings,
    as_of: date,
    run_date: date,
    days: dict[str, int],
) -> tuple[pd.DataFrame, np.ndarray]:
    """One slice of candidates graded in place: the warnings (unordered) and their level ranks."""
    model_level = assign_levels(df["churn_probability"], th)
    rank = model_level.map(LEVEL_RANK).fillna(0).astype(int).to_numpy()
    # rules in order of severity, so the first reasons are the most urgent
    ordered = sorted(active, key=lambda r: -LEVEL_RANK[r.severity])
    passive = np.zeros(len(df), dtype=bool)
    hits = np.zeros((len(df), len(ordered)), dtype=bool)
    for j, r in enumerate(ordered):
        hit = df[_rule_columns(r)[0]].fillna(False).astype(bool).to_numpy()
        hits[:, j] = hit
        rank = np.where(hit, np.maximum(rank, LEVEL_RANK[r.severity]), rank)
        if r.passive:
            passive |= hit
    codes = _hit_codes(hits, [r.code for r in ordered])
    if "arrears_streak" in df.columns:
        passive |= (df["arrears_streak"].fillna(0) >= settings.passive_arrears_months).to_numpy()
    reasons = _reasons(df, ordered, n_max=settings.top_reasons)
    # The candidates frame becomes the warnings frame in place: at 10 M subscribers it
    # holds millions of rows, and each copy of it was gigabytes.
    # the rule columns and the model's own reason lists are in the reasons now (the
    # model's stay with the scores): each is a column of millions of objects at 10 M
    spent = [c for c in df.columns if c.startswith("_") or c in _MODEL_REASONS]
    df.drop(columns=spent, inplace=True)
    out = df
    inv = {v: k for k, v in LEVEL_RANK.items()}
    out["level"] = pd.Series(rank, index=df.index).map(inv)
    out["model_level"] = model_level
    out["rule_codes"] = pd.Series(codes.to_numpy(), index=df.index, dtype="string")  # a slice
    out["reasons_zh"] = reasons["zh"]
    out["reasons_en"] = reasons["en"]
    out["top_category"] = reasons["category"]
    out["passive"] = passive
    out["churn_type"] = churn_type(out["top_category"], passive=pd.Series(passive, index=df.index))
    out["next_step_zh"] = next_step(out["churn_type"], lang="zh")
    out["next_step_en"] = next_step(out["churn_type"], lang="en")
    out["retention_target"] = ~passive
    graded = out["level"].notna().to_numpy()
    if not graded.all():
        out = out[graded]
        rank = rank[graded]
    out["queue"] = route(out, routes=settings.routes, default=settings.default_queue)
    out["deadline"] = deadlines(
        out["level"], start=run_date, working_days=days, holidays=settings.holidays
    )
    out["as_of"] = as_of
    out["raised_on"] = run_date
    return out, rank


def _hit_codes(hits: np.ndarray, codes: list[str]) -> pd.Series:
    """Comma-joined codes of the rules each row hit (in rule order), through distinct patterns."""
    if hits.shape[1] == 0:
        return pd.Series(np.full(len(hits), ""), dtype="string")
    # one integer per row (bit j: rule j hit), so the distinct patterns are a 1-D unique
    # (np.unique(axis=0) sorted the rows of the whole matrix: 12.6 s on 2.9 M)
    bits = np.zeros(len(hits), dtype=object if hits.shape[1] > 62 else np.int64)
    for j in range(hits.shape[1]):
        bits = bits + hits[:, j].astype(bits.dtype) * (1 << j)
    patterns, inverse = np.unique(bits, return_inverse=True)
    names = np.asarray(codes, dtype=object)
    text = np.array(
        [",".join(n for j, n in enumerate(names) if (int(p) >> j) & 1) for p in patterns],
        dtype=object,
    )
    return pd.Series(text[inverse.reshape(-1)], dtype="string")


def _pieces(values: pd.Series, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Reasons given as lists or as text joined by ``sep``: pieces per row, and all pieces.

    The pieces are cut by one ``str.split`` of all rows joined together (C speed)
    instead of one split per row.
    """
    seq = (list, tuple, np.ndarray)
    text = [
        v if type(v) is str else (sep.join(map(str, v)) if isinstance(v, seq) else "")
        for v in values.to_numpy(dtype=object)
    ]
    counts = np.fromiter((t.count(sep) + 1 if t else 0 for t in text), np.int64, len(text))
    flat = sep.join([t for t in text if t]).split(sep) if counts.any() else []
    out = np.empty(len(flat), dtype=object)  # len(flat) == counts.sum(): same separators
    out[:] = flat
    return counts, out


def _model_reasons(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The model's reasons of each row in long form: row, position, zh, en, category."""
    n, zh = _pieces(df["top_reasons_zh"], _SEP["zh"])
    flat = {"zh": zh}
    for key, col, sep in (
        ("en", "top_reasons_en", _SEP["en"]),
        ("category", "top_categories", ","),
    ):
        m, flat[key] = _pieces(df[col], sep)
        if not np.array_equal(m, n):  # the three lists of a row go together
            raise ValueError("model reasons: zh, en and category lists differ in length")
    rows = np.repeat(np.arange(len(df)), n)
    starts = np.repeat(np.cumsum(n) - n, n)
    keep = np.array([len(x) > 0 for x in flat["zh"]], dtype=bool)
    order = 1000 + np.arange(len(rows)) - starts
    return {"row": rows[keep], "order": order[keep]} | {k: v[keep] for k, v in flat.items()}


def _reasons(df: pd.DataFrame, ordered: list[Rule], *, n_max: int) -> dict[str, pd.Series]:
    """Top reasons per customer: fired rules by severity, then the model's, in long form.

    A model reason whose category a fired rule already names is skipped, so a
    customer does not read the same cause twice.
    """
    parts: list[dict[str, np.ndarray]] = []
    for i, r in enumerate(ordered):
        hit_col, val_col = _rule_columns(r)
        hit = df[hit_col].fillna(False).astype(bool).to_numpy()
        if not hit.any():
            continue
        rows = np.flatnonzero(hit)
        vals = df[val_col].iloc[rows]
        parts.append(
            {
                "row": rows,
                "order": np.full(len(rows), i),
                "zh": _render(vals, r, "zh"),
                "en": _render(vals, r, "en"),
                "category": np.full(len(rows), r.category, dtype=object),
                "rule": np.ones(len(rows), dtype=bool),
            }
        )
    if set(_MODEL_REASONS) <= set(df.columns):
        model = _model_reasons(df)
        parts.append(model | {"rule": np.zeros(len(model["row"]), dtype=bool)})
    index = df.index
    if not parts or not sum(len(p["row"]) for p in parts):
        empty = pd.Series(pd.NA, index=index, dtype="string")
        return {"zh": empty.fillna(""), "en": empty.fillna(""), "category": empty}
    a = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    # skip a model reason whose category a fired rule of the same row names
    cat_code, _ = pd.factorize(pd.Series(a["category"], dtype=object), use_na_sentinel=True)
    key = a["row"].astype(np.int64) * (int(cat_code.max()) + 2) + (cat_code + 1)
    keep = a["rule"] | ~np.isin(key, key[a["rule"]])
    a = {k: v[keep] for k, v in a.items()}
    sort = np.lexsort((a["order"], a["row"]))
    a = {k: v[sort] for k, v in a.items()}
    first = np.r_[True, a["row"][1:] != a["row"][:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    pos = np.arange(len(first)) - group_start
    shown = pos < n_max
    out: dict[str, pd.Series] = {}
    for lang in ("zh", "en"):
        wide = np.full((len(df), max(n_max, 1)), None, dtype=object)
        wide[a["row"][shown], pos[shown]] = a[lang][shown]
        out[lang] = pd.Series(join_texts(list(wide.T), _SEP[lang]), index=index, dtype="string")
    category = np.full(len(df), None, dtype=object)
    category[a["row"][first]] = a["category"][first]
    out["category"] = pd.Series(category, index=index, dtype="string")
    return out


def _group_warnings(
    group_frames: list[tuple[GroupCollectiveRule, ir.Table]],
    t: ir.Table,
    *,
    settings: WarningSettings,
    run_date: date,
    days: dict[str, int],
) -> pd.DataFrame:
    frames = []
    for rule, hot in group_frames:
        g = hot.execute()
        if g.empty:
            continue
        members = (
            t.filter(t[rule.group_column].isin(g["group_id"].tolist()))
            .select(group_id=t[rule.group_column], subscriber_id=t.subscriber_id)
            .execute()
        )
        lists = members.groupby("group_id")["subscriber_id"].agg(lambda s: sorted(s))
        g["members"] = g["group_id"].map(lists)
        g["rule_code"] = rule.code
        g["level"] = rule.severity
        g["reason_zh"] = _render(g["affected"], rule, "zh")
        g["reason_en"] = _render(g["affected"], rule, "en")
        g["deadline"] = deadlines(
            g["level"], start=run_date, working_days=days, holidays=settings.holidays
        )
        frames.append(g)
    if not frames:
        return pd.DataFrame(
            columns=[
                "group_id",
                "churned",
                "signalling",
                "active_members",
                "affected",
                "members",
                "rule_code",
                "level",
                "reason_zh",
                "reason_en",
                "deadline",
            ]
        )
    return pd.concat(frames, ignore_index=True)
