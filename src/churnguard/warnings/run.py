"""``churnguard warn``: one month's warnings from scores, value and rules, stored and pushed."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from ..errors import NotFoundError, StateError
from ..months import month_start
from ..value import customer_value, value_risk_matrix
from ..value.customer_value import active_subscribers
from ..warehouse.analytical import connect
from ..warehouse.analytical import raw as raw_duckdb
from ..warehouse.operational import session_scope
from .engine import WarningBatch, fill_model_reasons, find_candidates, grade, read_columns
from .push import PushError, send_digest, send_webhook
from .rules import RuleSet, load_rules
from .store import RecordSummary, WarningPush, open_warnings, record

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.artifacts import TrainedModel
    from ..models.scoring import Snapshot

__all__ = [
    "WarnResult",
    "ensure_scores",
    "push_warnings",
    "raise_warnings",
    "repush",
    "scoring_base",
]

log = logging.getLogger(__name__)

_VALUE_COLUMNS = (
    "value_tier",
    "clv",
    "margin_3m",
    "lifecycle",
    "loyalty",
    "risk_band",
    "rfm_segment",
    "tenure_months",
)
_PROFILE_COLUMNS = (
    "group_id",
    "marketing_opt_out",
    "service_type",
    "payment_type",
    "customer_type",
    "region",
)


@dataclass
class WarnResult:
    """What ``warn`` did: thresholds, counts and the value × risk matrix."""

    as_of: date
    run_date: date
    batch: WarningBatch
    stored: RecordSummary
    matrix: pd.DataFrame
    model_version: str | None
    seconds: float
    prepared: list[str] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def counts(self, column: str) -> dict[str, int]:
        w = self.batch.warnings
        if column not in w.columns or w.empty:
            return {}
        return {str(k): int(v) for k, v in w[column].value_counts().items()}

    def reason_counts(self) -> dict[str, int]:
        w = self.batch.warnings
        if w.empty:
            return {}
        # count each distinct combination of rules once, then its rules (not a split per row)
        hits: dict[str, int] = {}
        for combo, n in w["rule_codes"].fillna("").astype(str).value_counts().items():
            for code in str(combo).split(","):
                if code:
                    hits[code] = hits.get(code, 0) + int(n)
        by_rule = {f"rule:{k}": v for k, v in sorted(hits.items(), key=lambda kv: -kv[1])}
        by_cat = {
            f"category:{k}": int(v) for k, v in w["top_category"].dropna().value_counts().items()
        }
        return by_cat | by_rule

    def to_dict(self) -> dict[str, Any]:
        w = self.batch.warnings
        return {
            "as_of": self.as_of.isoformat(),
            "run_date": self.run_date.isoformat(),
            "model_version": self.model_version,
            "scored": self.batch.scored,
            "warnings": len(w),
            "thresholds": self.batch.thresholds.as_dict(),
            "by_level": self.counts("level"),
            "by_queue": self.counts("queue"),
            "by_churn_type": self.counts("churn_type"),
            "by_reason": self.reason_counts(),
            "passive": int(w["passive"].sum()) if not w.empty else 0,
            "group_warnings": len(self.batch.groups),
            "stored": self.stored.to_dict(),
            "value_risk_matrix": self.matrix.to_dict("records"),
            "prepared": self.prepared,
            "pushes": self.pushes,
            "seconds": round(self.seconds, 2),
            "sample": w.head(5)[
                [
                    "subscriber_id",
                    "level",
                    "churn_probability",
                    "queue",
                    "deadline",
                    "reasons_zh",
                    "reasons_en",
                ]
            ].to_dict("records")
            if not w.empty
            else [],
        }


def _tables(backend: Any) -> set[str]:
    """Table names of the warehouse (fetched fully: DuckDB 2 blocks on unfinished results)."""
    rows = (
        raw_duckdb(backend)
        .execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
        .fetchall()
    )
    return {str(r[0]) for r in rows}


def _latest_scores(backend: Any, *, as_of: date) -> tuple[ir.Table, str | None]:
    con = raw_duckdb(backend)
    if "scores" not in _tables(backend):
        raise StateError(
            f"no scores in the warehouse; run 'churnguard score --as-of {as_of:%Y-%m}' first"
        )
    rows = con.execute(
        "SELECT model_version FROM scores WHERE as_of = ? ORDER BY scored_at DESC LIMIT 1",
        [as_of],
    ).fetchall()  # DuckDB 2: an unfinished result blocks the connection
    if not rows:
        raise NotFoundError(
            f"no scores for {as_of:%Y-%m}; run 'churnguard score --as-of {as_of:%Y-%m}' first"
        )
    version = str(rows[0][0])
    s = backend.table("scores")
    return s.filter(s.as_of == as_of, s.model_version == version), version


def ensure_scores(settings: Settings, *, as_of: date) -> list[str]:
    """Build the month's snapshot and score it with the current champion, if not done yet.

    Returns what was prepared (``"snapshot"``, ``"scores"``), so callers can say so.
    """
    done, _frame, pending = _ensure_scores(settings, as_of=as_of, write=True)
    assert pending is None
    return done


@dataclass
class _PendingScores:
    """Scores computed by this run, stored once together with the warned customers' reasons."""

    version: str
    model: TrainedModel
    scores: pd.DataFrame


def _ensure_scores(
    settings: Settings, *, as_of: date, write: bool
) -> tuple[list[str], Snapshot | None, _PendingScores | None]:
    """:func:`ensure_scores`; also the month's snapshot (Arrow) when it was read for scoring.

    With ``write=False`` new scores are returned (not stored): ``warn`` joins them
    in memory and stores them once with the reasons of the customers it warns.
    """
    from ..features import build_snapshot
    from ..features.store import has_snapshot
    from ..models.registry import champion
    from ..models.scoring import compute_scores, load_registered, month_table, write_scores

    version = champion(settings)["version"]
    done: list[str] = []
    backend = connect(settings, read_only=True)
    try:
        snapshot_ready = has_snapshot(backend, as_of)
        scored = "scores" in _tables(backend) and bool(
            raw_duckdb(backend)
            .execute(
                "SELECT count(*) FROM scores WHERE as_of = ? AND model_version = ?",
                [as_of, version],
            )
            .fetchall()[0][0]
        )
    finally:
        backend.disconnect()
    if not snapshot_ready:
        build_snapshot(settings, as_of=as_of)
        done.append("snapshot")
    if scored and snapshot_ready:
        return done, None, None
    # probabilities for everyone; reasons only for whom warn warns (from the same
    # frame, so the snapshot is read once)
    frame = month_table(settings, as_of=as_of)
    row, model = load_registered(settings, version=version)
    scores, _ = compute_scores(
        settings, as_of=as_of, frame=frame, model=model, version=version, explain_share=0.0
    )
    done.append("scores")
    if write:
        write_scores(settings, scores, as_of=as_of, version=version)
        return done, frame, None
    return done, frame, _PendingScores(version=str(row["version"]), model=model, scores=scores)


def scoring_base(
    settings: Settings,
    backend: Any,
    *,
    as_of: date,
    scores: pd.DataFrame | None = None,
    version: str | None = None,
) -> tuple[ir.Table, str | None]:
    """Snapshot ⨝ scores ⨝ value ⨝ profile: one row per scored subscriber of the month.

    ``scores`` (with its model ``version``) are this run's scores not stored yet;
    by default the month's latest stored scores are used.
    """
    present = _tables(backend)
    if "feature_snapshots" not in present:
        raise StateError(
            f"no feature snapshots; run 'churnguard features build --as-of {as_of:%Y-%m}' first"
        )
    if scores is None:
        scores_t, version = _latest_scores(backend, as_of=as_of)
    else:
        from ..models.scoring import reasons_table

        pending = reasons_table(scores, numbers=("churn_probability",))
        scores_t = backend.create_table("_cg_warn_scores", pending, temp=True, overwrite=True)
    snap = backend.table("feature_snapshots")
    snap = snap.filter(snap.as_of == as_of).drop("as_of")
    tables: dict[str, ir.Table] = {
        n: backend.table(n) for n in ("subscribers", "billing", "usage") if n in present
    }
    return join_base(settings, snap=snap, scores=scores_t, tables=tables, as_of=as_of), version


def join_base(
    settings: Settings,
    *,
    snap: ir.Table,
    scores: ir.Table,
    tables: dict[str, ir.Table],
    as_of: date,
) -> ir.Table:
    """Snapshot ⨝ scores ⨝ value ⨝ profile on any Ibis backend (DuckDB, PySpark).

    ``snap`` is the month's snapshot without ``as_of``; ``scores`` has
    ``subscriber_id``, ``churn_probability`` and the stored reason columns;
    ``tables`` the contract tables ``subscribers`` (required), ``billing``, ``usage``.
    """
    value = customer_value(
        tables,
        as_of=as_of,
        settings=settings.value,
        risk=scores.select("subscriber_id", "churn_probability"),
    )
    value = value.select(
        "subscriber_id",
        *[c for c in _VALUE_COLUMNS if c in value.columns],
        **({} if "arpu_3m" in snap.columns else {"arpu_3m": value.arpu_3m}),
    )
    subs = active_subscribers(tables["subscribers"], as_of=as_of)
    profile = subs.select("subscriber_id", *[c for c in _PROFILE_COLUMNS if c not in snap.columns])
    sc = scores.select("subscriber_id", "churn_probability", *_REASONS)
    # the reasons stay text as stored ("a,b,c" for categories): the engine reads either
    return (
        snap.join(sc, "subscriber_id").join(value, "subscriber_id").join(profile, "subscriber_id")
    )


def narrow_base(base: ir.Table, *, rules: RuleSet, reasons: bool = True) -> ir.Table:
    """``base`` with only the columns the rules, levels and matrix read (checked first).

    ``reasons=False`` leaves out the model's stored reasons (joined to the candidates
    afterwards instead).
    """
    rules.check_columns(base.columns)  # the error names close matches among all columns
    wanted = read_columns(rules) | set(_MATRIX_COLUMNS)
    if not reasons:
        wanted -= set(_REASONS)
    return base.select(*[c for c in base.columns if c in wanted])


_REASONS = ("top_reasons_zh", "top_reasons_en", "top_categories")


_MATRIX_COLUMNS = ("value_tier", "risk_band", "arpu_3m", "clv", "churn_probability")


def _stored_reasons(
    settings: Settings, frame: pd.DataFrame, *, as_of: date, version: str | None
) -> None:
    """The model's reasons stored with the month's scores, onto the candidates (in place).

    Read once the base's connection is closed, streamed under
    ``warehouse.stream_memory_limit``, for the candidates only: a daily run of a month
    whose warned customers were explained already otherwise carried the reason texts
    through the base table and the candidates' fetch (10 M: 9.4 GB; joined in DuckDB
    to the candidates, 11.0 GB). Candidates without stored reasons get none here
    (``version=None``: this run's scores, not stored yet); the explainer fills them.
    """
    n = len(frame)
    columns = {c: np.full(n, None, dtype=object) for c in _REASONS}
    if n and version is not None:
        ids = frame["subscriber_id"].astype(str)
        position = pd.Index(ids.to_numpy())
        backend = connect(
            settings, read_only=True, memory_limit=settings.warehouse.stream_memory_limit
        )
        try:
            con = raw_duckdb(backend)
            con.register("_cg_candidate_ids", pa.table({"subscriber_id": pa.array(ids.tolist())}))
            reader = con.sql(
                f"SELECT subscriber_id, {', '.join(_REASONS)} FROM scores "
                "WHERE as_of = ? AND model_version = ? AND top_reasons_en IS NOT NULL "
                "AND subscriber_id IN (SELECT subscriber_id FROM _cg_candidate_ids)",
                params=[as_of, version],
            ).to_arrow_reader(200_000)
            for batch in reader:
                at = position.get_indexer(batch.column(0).to_numpy(zero_copy_only=False))
                for c in _REASONS:
                    columns[c][at] = batch.column(c).to_numpy(zero_copy_only=False)
        finally:
            backend.disconnect()
    for c in _REASONS:
        frame[c] = columns[c]


def _materialize(backend: Any, base: ir.Table, *, rules: RuleSet) -> ir.Table:
    """``base`` computed once into a temporary table, with only the columns the run reads.

    ``evaluate`` and the value × risk matrix query ``base`` several times; as an
    expression, each query would recompute customer value over billing and usage.
    The table lives on the (read-only) connection until it is closed. The model's
    stored reasons are left out: :func:`_stored_reasons` reads the candidates' own.
    """
    narrow = narrow_base(base, rules=rules, reasons=False)
    return backend.create_table("_cg_warn_base", narrow, temp=True, overwrite=True)


class _Explainer:
    """Explains the candidates ``evaluate`` asks about; the reasons are stored afterwards."""

    def __init__(
        self,
        settings: Settings,
        *,
        as_of: date,
        version: str,
        snapshot: Snapshot | None = None,
        model: TrainedModel | None = None,
    ) -> None:
        self.settings, self.as_of, self.version = settings, as_of, version
        self.snapshot = snapshot  # the month's snapshot when already in memory
        self.model = model  # the loaded model of ``version``, when at hand
        self.frames: list[pd.DataFrame] = []

    def __call__(self, ids: pd.Series) -> pd.DataFrame:
        from ..models.scoring import explain_subscribers

        got = explain_subscribers(
            self.settings,
            as_of=self.as_of,
            version=self.version,
            subscriber_ids=ids.tolist(),
            frame=self.snapshot,
            model=self.model,
        )
        self.frames.append(got)
        return got

    def reasons(self) -> pd.DataFrame:
        """Every reason computed so far: ``subscriber_id`` and the reason columns."""
        from ..models.scoring import REASON_COLUMNS

        if not self.frames:
            return pd.DataFrame(columns=["subscriber_id", *REASON_COLUMNS])
        return pd.concat(self.frames, ignore_index=True)

    def store(self, pending: _PendingScores | None = None) -> int:
        """Keep the new reasons with the month's scores; returns how many customers.

        With ``pending`` (scores computed by this run), the scores are stored now,
        with the reasons in them, in one write; otherwise the reasons are written
        into the stored scores.
        """
        from ..models.scoring import store_reasons, with_reasons, write_scores

        reasons = self.reasons()
        if pending is not None:
            scores = with_reasons(pending.scores, reasons)
            write_scores(self.settings, scores, as_of=self.as_of, version=pending.version)
        elif not reasons.empty:
            store_reasons(self.settings, reasons, as_of=self.as_of, version=self.version)
        return len(reasons)


def raise_warnings(
    settings: Settings,
    *,
    as_of: date,
    run_date: date | None = None,
    push: bool = True,
) -> WarnResult:
    """Raise, store and (when configured) push the warnings of one month.

    Parameters
    ----------
    settings
        Workspace settings (warnings, value, privacy).
    as_of
        The month whose snapshot and scores are used.
    run_date
        The day the warnings are raised (deadlines count from it); default today.
    push
        Push new warnings to the configured webhook / e-mail digest.
    """
    started = time.perf_counter()
    month = month_start(as_of)
    run = run_date or datetime.now(UTC).date()
    rules = load_rules(workspace=settings.workspace)
    prepared, snapshot, pending = _ensure_scores(settings, as_of=month, write=False)
    backend = connect(settings, read_only=True)
    try:
        base, version = scoring_base(
            settings,
            backend,
            as_of=month,
            scores=None if pending is None else pending.scores,
            version=None if pending is None else pending.version,
        )
        base = _materialize(backend, base, rules=rules)
        cands = find_candidates(base, rules=rules, settings=settings.warnings, run_date=run)
        matrix = value_risk_matrix(base).execute()
        active = _still_active(settings, backend, as_of=month)
    finally:
        # everything the engine computes is fetched: closing frees the base table
        # (10 M rows at 10 M) before explanations and grading take their memory
        backend.disconnect()
    if version is not None:
        _stored_reasons(
            settings, cands.frame, as_of=month, version=None if pending is not None else version
        )
        explainer = _Explainer(
            settings,
            as_of=month,
            version=version,
            snapshot=snapshot,
            model=None if pending is None else pending.model,
        )
        fill_model_reasons(cands.frame, explainer)
        explainer.store(pending)  # the scores' own copy of the reasons, then let go
        del explainer, pending, snapshot
    batch = grade(cands, rules=rules, settings=settings.warnings, as_of=month, run_date=run)
    del cands
    with session_scope(settings) as session:
        stored = record(
            session,
            batch,
            active_ids=active,
            cooldown_days=settings.warnings.cooldown_days,
            model_version=version,
        )
    result = WarnResult(
        prepared=prepared,
        as_of=month,
        run_date=run,
        batch=batch,
        stored=stored,
        matrix=matrix,
        model_version=version,
        seconds=time.perf_counter() - started,
    )
    if push:
        fresh = batch.warnings[stored.inserted]
        result.pushes = push_warnings(settings, fresh, as_of=month, run_date=run)
    result.seconds = time.perf_counter() - started
    return result


def _still_active(settings: Settings, backend: Any, *, as_of: date) -> pd.Series:
    """Which customers with an open warning are still active at ``as_of``.

    ``record`` needs it to tell churned customers from those whose risk fell;
    asking only about them keeps a 10 M base out of memory.
    """
    import ibis

    with session_scope(settings) as session:
        warned = open_warnings(session)["subscriber_id"].astype(str).drop_duplicates()
    if warned.empty:
        return pd.Series([], dtype=object, name="subscriber_id")
    subs = active_subscribers(backend.table("subscribers"), as_of=as_of)
    ids = ibis.memtable(pa.table({"subscriber_id": pa.array(warned, type=pa.string())}))
    got = subs.select("subscriber_id").semi_join(ids, "subscriber_id").execute()
    return got["subscriber_id"]


# What a push carries: ids, levels, reasons and deadlines — never personal data.
PUSH_COLUMNS = (
    "subscriber_id",
    "level",
    "churn_probability",
    "value_tier",
    "queue",
    "deadline",
    "churn_type",
    "reasons_zh",
    "reasons_en",
    "next_step_zh",
    "next_step_en",
    "passive",
)


def _payload(warnings: pd.DataFrame) -> list[dict[str, Any]]:
    cols = PUSH_COLUMNS
    present = [c for c in cols if c in warnings.columns]
    out = warnings[present].astype(object).where(warnings[present].notna(), None)
    records: list[dict[str, Any]] = out.to_dict("records")
    return records


def push_warnings(
    settings: Settings, warnings: pd.DataFrame, *, as_of: date, run_date: date
) -> list[dict[str, Any]]:
    """Push warnings to the configured webhook and e-mail digest, once per batch.

    The push key (as-of, run date, and a digest of the warnings) makes a rerun
    of the same batch a no-op; a failed push is recorded and can be retried.
    Personal data is never pushed: only ids, levels, reasons and deadlines.
    """
    cfg = settings.warnings.push
    if warnings.empty or (cfg.webhook_url is None and cfg.smtp_host is None):
        return []
    digest = hashlib.sha256(
        ",".join(sorted(warnings["subscriber_id"].astype(str))).encode()
    ).hexdigest()[:16]
    key = f"warn-{as_of:%Y-%m}-{run_date.isoformat()}-{digest}"
    results: list[dict[str, Any]] = []
    for channel in ("webhook", "email"):
        if (channel == "webhook" and cfg.webhook_url is None) or (
            channel == "email" and cfg.smtp_host is None
        ):
            continue
        with session_scope(settings) as session:
            done = session.scalar(
                sa.select(WarningPush).where(
                    WarningPush.push_key == key,
                    WarningPush.channel == channel,
                    WarningPush.status == "sent",
                )
            )
        if done is not None:
            results.append({"channel": channel, "status": "already_sent", "key": key})
            continue
        status, attempts, detail = "sent", 1, None
        try:
            if channel == "webhook":
                assert cfg.webhook_url is not None
                res = send_webhook(
                    cfg.webhook_url,
                    {
                        "as_of": f"{as_of:%Y-%m}",
                        "run_date": run_date.isoformat(),
                        "warnings": _payload(warnings),
                    },
                    secret=os.environ.get(cfg.webhook_secret_env),
                    idempotency_key=key,
                    retries=cfg.webhook_retries,
                    timeout_s=cfg.webhook_timeout_s,
                )
                attempts = res.attempts
            else:
                assert cfg.smtp_host is not None
                subject, text = _digest_text(warnings, as_of=as_of, lang=cfg.language)
                send_digest(
                    host=cfg.smtp_host,
                    port=cfg.smtp_port,
                    sender=cfg.smtp_from,
                    recipients=cfg.smtp_to,
                    subject=subject,
                    text=text,
                    user=cfg.smtp_user,
                    password=os.environ.get(cfg.smtp_password_env),
                    starttls=cfg.smtp_starttls,
                )
        except PushError as exc:
            status, detail = "failed", str(exc)
            log.warning("push over %s failed: %s", channel, exc)
        with session_scope(settings) as session:
            session.execute(
                sa.delete(WarningPush).where(
                    WarningPush.push_key == key, WarningPush.channel == channel
                )
            )
            session.add(
                WarningPush(
                    push_key=key,
                    channel=channel,
                    warnings=len(warnings),
                    status=status,
                    attempts=attempts,
                    detail=detail,
                    created_at=datetime.now(UTC),
                )
            )
        results.append({"channel": channel, "status": status, "key": key, "detail": detail})
    return results


_LEVEL_NAMES = {
    "zh": {"red": "红色", "orange": "橙色", "yellow": "黄色"},
    "en": {"red": "red", "orange": "orange", "yellow": "yellow"},
}


def _digest_text(warnings: pd.DataFrame, *, as_of: date, lang: str) -> tuple[str, str]:
    by_level = warnings["level"].value_counts()
    names = _LEVEL_NAMES[lang]
    top = warnings.sort_values("churn_probability", ascending=False).head(20)
    reasons = top[f"reasons_{lang}"].fillna("")
    if lang == "zh":
        subject = f"流失预警日报 {as_of:%Y-%m}：新增预警 {len(warnings)} 人"
        head = "，".join(f"{names[k]}预警 {int(by_level.get(k, 0))} 人" for k in names)
        lines = [head, "", "风险最高的客户（用户标识 / 等级 / 截止日期 / 原因）："]
    else:
        subject = f"Churn warnings {as_of:%Y-%m}: {len(warnings)} new"
        head = ", ".join(f"{int(by_level.get(k, 0))} {names[k]}" for k in names)
        lines = [head, "", "Highest-risk customers (id / level / deadline / reasons):"]
    body = (
        top["subscriber_id"].astype(str)
        + " / "
        + top["level"].map(names)
        + " / "
        + top["deadline"].astype(str)
        + " / "
        + reasons
    )
    return subject, "\n".join([*lines, *body.tolist()])


def repush(settings: Settings, *, raised_on: date) -> list[dict[str, Any]]:
    """Push again the open warnings raised on ``raised_on`` (after a failed push).

    Uses the same push key as the original run, so channels that already
    received the batch are skipped.
    """
    from .store import CustomerWarning

    w = CustomerWarning
    names = [c for c in PUSH_COLUMNS if c != "churn_probability"]
    with session_scope(settings) as session:
        rows = session.execute(
            sa.select(
                *[getattr(w, c) for c in names],
                w.probability.label("churn_probability"),
                w.as_of,
            ).where(w.status == "open", w.raised_on == raised_on)
        ).all()
    frame = pd.DataFrame(rows, columns=[*names, "churn_probability", "as_of"])
    if frame.empty:
        raise NotFoundError(f"no open warnings raised on {raised_on}; nothing to push")
    out: list[dict[str, Any]] = []
    for as_of, part in frame.groupby("as_of"):
        out += push_warnings(
            settings,
            part.drop(columns="as_of"),
            as_of=pd.Timestamp(as_of).date(),
            run_date=raised_on,
        )
    return out
