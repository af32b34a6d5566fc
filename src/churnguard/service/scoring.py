"""Scoring one subscriber now: the champion loaded once per process, the month's scores cached.

The fast path (a month the champion has scored) is a lookup in an in-memory
table of that month's stored scores, keyed by subscriber: no warehouse access
per request. The cache is reloaded when the warehouse file changes (its size or
modification time, or its WAL's) or another model becomes champion. A month
the champion has not scored is answered by reading the subscriber's snapshot row
and scoring it (slower: it opens the warehouse).

Holding no DuckDB connection between loads matters: a process holding the file,
even read-only, would block the nightly batch from writing it.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError, NotFoundError, StateError
from ..months import month_start
from ..warnings.levels import LevelThresholds, thresholds_for

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.artifacts import TrainedModel

__all__ = ["MonthScores", "ScoreCache", "freeze_heap_after_loads", "split_reasons"]

log = logging.getLogger(__name__)

_REASON_SEP = {"zh": "；", "en": "; "}
_CHAMPION_CHECK_SECONDS = 30.0
_RELOAD_RETRY_SECONDS = 5.0


_FREEZE_HEAP = False


def freeze_heap_after_loads(on: bool = True) -> None:
    """In a server process: after each load of the champion or a month, collect once, then freeze.

    The heap of a serving process is mostly what it loaded once and keeps (the
    libraries, the model, the month's scores: ~350 k objects for 100 k
    subscribers). A full collection of the cyclic garbage collector walks all of
    it with the GIL held — 0.1-0.3 s on the 2-core machine, every few tens of
    seconds under load — and every request in flight waits for it: that was the
    tail of the latency. ``gc.freeze()`` moves the objects alive after a load
    out of the collector's sight; they are still freed by reference counting,
    and the next load unfreezes and collects first, so cycles among replaced
    objects are not kept. ``churnguard serve`` turns this on; a process that
    only embeds the app (tests) leaves its collector alone.
    """
    global _FREEZE_HEAP
    _FREEZE_HEAP = on
    _settle_heap()  # what is loaded already (the libraries, the app)


def _settle_heap() -> None:
    if _FREEZE_HEAP:
        gc.unfreeze()
        gc.collect()
        gc.freeze()


def split_reasons(text: Any, lang: str) -> list[str]:
    """Stored reason text (``a；b`` / ``a; b``) as a list."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return []
    return [p for p in str(text).split(_REASON_SEP[lang]) if p]


@dataclass(frozen=True)
class MonthScores:
    """One month's stored scores of one model, indexed by subscriber."""

    as_of: date
    version: str
    probability: np.ndarray
    index: pd.Index
    reasons: dict[str, np.ndarray]  # top_categories, top_reasons_zh, top_reasons_en (object)
    thresholds: LevelThresholds

    def level(self, p: float) -> str | None:
        """The level of probability ``p`` by the month's thresholds (None below yellow)."""
        th = self.thresholds
        if p >= th.red:
            return "red"
        if p >= th.orange:
            return "orange"
        if p >= th.yellow:
            return "yellow"
        return None

    def row(self, subscriber_id: str) -> int | None:
        try:
            pos = self.index.get_loc(subscriber_id)
        except KeyError:
            return None
        return pos if isinstance(pos, int) else None


class ScoreCache:
    """Per-process cache of the champion model and the scored months."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._model: tuple[dict[str, Any], TrainedModel] | None = None
        self._model_checked = 0.0
        self._stamp: tuple[int, ...] | None = None
        self._months: dict[tuple[date, str], MonthScores | None] = {}
        self._snapshot_months: list[date] = []
        self._extra_reasons: dict[tuple[date, str, str], dict[str, Any]] = {}
        self._retry_at = 0.0  # after a failed reload (a batch holds the file): wait
        path = settings.warehouse_path
        self._stamp_paths = (str(path), str(path.with_name(path.name + ".wal")))

    # -- champion -------------------------------------------------------------------
    def champion(self) -> tuple[dict[str, Any], TrainedModel]:
        """The champion's registry row and model (reloaded after a promotion)."""
        from ..models.registry import champion
        from ..models.scoring import load_registered

        now = time.monotonic()
        with self._lock:
            if self._model is not None and now - self._model_checked < _CHAMPION_CHECK_SECONDS:
                return self._model
            row = champion(self.settings)
            if self._model is None or self._model[0]["version"] != row["version"]:
                self._model = load_registered(self.settings, version=row["version"])
                _settle_heap()
                log.info("serving with model %s", row["version"])
            self._model_checked = now
            return self._model

    def forget_model(self) -> None:
        """Re-read the registry on the next request (after a promotion)."""
        with self._lock:
            self._model_checked = 0.0

    # -- warehouse state ------------------------------------------------------------
    def _warehouse_stamp(self) -> tuple[int, ...]:
        out: list[int] = []
        for p in self._stamp_paths:
            try:
                st = os.stat(p)
                out += [st.st_mtime_ns, st.st_size]
            except FileNotFoundError:
                out += [0, 0]
        return tuple(out)

    def _refresh(self) -> None:
        stamp = self._warehouse_stamp()
        if stamp == self._stamp:
            return
        if self._stamp is not None and time.monotonic() < self._retry_at:
            return
        if stamp[1] == 0:
            raise NotFoundError(
                "nothing has been ingested in this workspace yet; run 'churnguard ingest' first"
            )
        from ..features.store import stored_as_ofs
        from ..warehouse.analytical import connect

        try:
            backend = connect(self.settings, read_only=True)
        except StateError:
            if self._stamp is not None:
                # a batch is writing: keep serving what is cached, look again in a while
                self._retry_at = time.monotonic() + _RELOAD_RETRY_SECONDS
                return
            raise
        try:
            months = stored_as_ofs(backend)
        finally:
            backend.disconnect()
        self._snapshot_months = months
        self._months.clear()
        self._extra_reasons.clear()
        self._stamp = stamp

    def latest_month(self) -> date:
        """The newest month with a feature snapshot."""
        with self._lock:
            self._refresh()
            if not self._snapshot_months:
                raise StateError(
                    "no feature snapshots yet; run 'churnguard features build --as-of YYYY-MM'"
                )
            return self._snapshot_months[-1]

    def month(self, as_of: date, version: str) -> MonthScores | None:
        """The stored scores of ``as_of`` by ``version`` (``None``: not scored)."""
        key = (as_of, version)
        with self._lock:
            self._refresh()
            if key not in self._months:
                self._months[key] = self._load_month(as_of, version)
                _settle_heap()
            return self._months[key]

    def _load_month(self, as_of: date, version: str) -> MonthScores | None:
        from ..models.scoring import SCORES_TABLE
        from ..warehouse.analytical import connect, raw, table_exists

        backend = connect(self.settings, read_only=True)
        try:
            con = raw(backend)
            if not table_exists(con, SCORES_TABLE):
                return None
            df = con.execute(
                "SELECT subscriber_id, churn_probability, top_categories, top_reasons_zh, "
                f"top_reasons_en FROM {SCORES_TABLE} WHERE as_of = ? AND model_version = ?",
                [as_of, version],
            ).df()
        finally:
            backend.disconnect()
        if df.empty:
            return None
        prob = df["churn_probability"].to_numpy(dtype=float)
        th = self._thresholds(pd.Series(prob))
        reasons = {
            c: df[c].astype(object).where(df[c].notna(), None).to_numpy()
            for c in ("top_categories", "top_reasons_zh", "top_reasons_en")
        }
        return MonthScores(
            as_of=as_of,
            version=version,
            probability=prob,
            index=pd.Index(df["subscriber_id"].astype(str)),
            reasons=reasons,
            thresholds=th,
        )

    def _thresholds(self, probability: pd.Series) -> LevelThresholds:
        w = self.settings.warnings
        days = {
            "red": w.deadline_working_days_red,
            "orange": w.deadline_working_days_orange,
            "yellow": w.deadline_working_days_yellow,
        }
        # capacity by expected loss needs each customer's CLV: rank by probability here
        return thresholds_for(probability, settings=w.levels, deadline_days=days)

    # -- scoring --------------------------------------------------------------------
    def score_cached(
        self, subscriber_id: str, *, as_of: date | None = None, explain: bool = True
    ) -> dict[str, Any] | None:
        """:meth:`score_subscriber`'s answer when it is in memory, without blocking; else ``None``.

        ``None`` when the answer needs any I/O or waiting: the champion is due for
        its registry check, the warehouse changed, the month is not loaded (or
        not scored), the reasons are not stored and ``explain`` is on, or another
        thread holds the cache (e.g. while it reloads). Call
        :meth:`score_subscriber` (in a worker thread) then. Safe to call on the
        event loop.

        Raises
        ------
        NotFoundError
            The subscriber is not in that month's stored scores.
        """
        if not self._lock.acquire(blocking=False):
            return None
        try:
            cached = self._model
            if cached is None or time.monotonic() - self._model_checked >= _CHAMPION_CHECK_SECONDS:
                return None
            if self._stamp is None or self._warehouse_stamp() != self._stamp:
                return None
            if as_of is not None:
                month = month_start(as_of)
            elif self._snapshot_months:
                month = self._snapshot_months[-1]
            else:
                return None
            version = str(cached[0]["version"])
            scored = self._months.get((month, version))
            if scored is None:
                return None
            pos = scored.row(subscriber_id)
            if pos is None:
                raise NotFoundError(f"subscriber {subscriber_id} was not scored in {month:%Y-%m}")
            rec: dict[str, Any] = {c: v[pos] for c, v in scored.reasons.items()}
            if rec["top_reasons_en"] is None and explain:
                extra = self._extra_reasons.get((month, version, subscriber_id))
                if extra is None:
                    return None
                rec = extra
            p = float(scored.probability[pos])
            return _answer(subscriber_id, month, version, p, scored.level(p), "stored", rec)
        finally:
            self._lock.release()

    def score_subscriber(
        self, subscriber_id: str, *, as_of: date | None = None, explain: bool = True
    ) -> dict[str, Any]:
        """Probability, level and reasons of one subscriber in ``as_of`` (default: latest month).

        Reasons not stored with the month's scores (``score`` explains only the
        customers ``warn`` warns) are computed on the first request and kept; with
        ``explain=False`` they are left empty instead, so the answer never reads
        the warehouse.

        Raises
        ------
        NotFoundError
            The subscriber is not in that month's snapshot.
        """
        row, model = self.champion()
        version = str(row["version"])
        month = month_start(as_of) if as_of is not None else self.latest_month()
        scored = self.month(month, version)
        if scored is not None:
            pos = scored.row(subscriber_id)
            if pos is None:
                raise NotFoundError(f"subscriber {subscriber_id} was not scored in {month:%Y-%m}")
            p = float(scored.probability[pos])
            rec: dict[str, Any] = {c: v[pos] for c, v in scored.reasons.items()}
            if rec["top_reasons_en"] is None and explain:
                rec = self._explain(subscriber_id, month, model, version)
            level = scored.level(p)
            source = "stored"
        else:
            snap = self._snapshot_row(subscriber_id, month)
            p = float(model.predict(snap)[0])
            rec = self._reasons_for(model, snap)
            level = self._level_unscored(p, month, model)
            source = "computed"
        return _answer(subscriber_id, month, version, p, level, source, rec)

    def _snapshot_row(self, subscriber_id: str, month: date) -> pd.DataFrame:
        from ..features import load_snapshot

        if month not in self._snapshot_months:
            self.latest_month()
        if month not in self._snapshot_months:
            raise NotFoundError(f"no feature snapshot for {month:%Y-%m}")
        snap = load_snapshot(self.settings, as_of=month, subscriber_ids=[subscriber_id])
        if snap.empty:
            raise NotFoundError(
                f"subscriber {subscriber_id} is not in the snapshot of {month:%Y-%m}"
            )
        return snap

    def _reasons_for(self, model: TrainedModel, frame: pd.DataFrame) -> dict[str, Any]:
        from ..models.scoring import explain_with_reasons

        got = explain_with_reasons(model, frame, top=self.settings.models.reasons_top)
        out = got.iloc[0].astype(object)
        return {c: (None if pd.isna(out[c]) else out[c]) for c in got.columns}

    def _explain(
        self, subscriber_id: str, month: date, model: TrainedModel, version: str
    ) -> dict[str, Any]:
        key = (month, version, subscriber_id)
        with self._lock:
            if key in self._extra_reasons:
                return self._extra_reasons[key]
        got = self._reasons_for(model, self._snapshot_row(subscriber_id, month))
        with self._lock:
            self._extra_reasons[key] = got
        return got

    def _level_unscored(self, p: float, month: date, model: TrainedModel) -> str | None:
        """Level by the thresholds of the newest month the champion scored (if any)."""
        version = str(self._model[0]["version"]) if self._model else None
        if version is None:
            return None
        for m in sorted((m for m in self._snapshot_months if m != month), reverse=True):
            scored = self.month(m, version)
            if scored is not None:
                return scored.level(p)
        return None

    def score_payload(self, features: dict[str, Any]) -> dict[str, Any]:
        """Probability and reasons of one posted feature row (checked against the model's plan).

        Raises
        ------
        InputError
            Unknown features, or values of the wrong type; ``fields`` names each one.
        """
        row, model = self.champion()
        frame = payload_frame(features, model)
        p = float(model.predict(frame)[0])
        rec = self._reasons_for(model, frame)
        return {
            "model_version": str(row["version"]),
            "churn_probability": p,
            "categories": [c for c in str(rec.get("top_categories") or "").split(",") if c],
            "reasons_zh": split_reasons(rec.get("top_reasons_zh"), "zh"),
            "reasons_en": split_reasons(rec.get("top_reasons_en"), "en"),
            "missing_features": [f for f in model.plan.features if f not in features],
        }


def _answer(
    subscriber_id: str,
    month: date,
    version: str,
    p: float,
    level: str | None,
    source: str,
    rec: dict[str, Any],
) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "as_of": f"{month:%Y-%m}",
        "model_version": version,
        "churn_probability": p,
        "level": level,
        "source": source,
        "categories": [c for c in str(rec["top_categories"] or "").split(",") if c],
        "reasons_zh": split_reasons(rec["top_reasons_zh"], "zh"),
        "reasons_en": split_reasons(rec["top_reasons_en"], "en"),
    }


class PayloadError(InputError):
    """A posted feature payload the model cannot read; ``fields`` says why per feature."""

    def __init__(self, message: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.fields = fields


def payload_frame(features: dict[str, Any], model: TrainedModel) -> pd.DataFrame:
    """One-row frame of the model's features from a JSON object (missing → missing value)."""
    plan = model.plan
    numeric, categorical = set(plan.numeric), set(plan.categorical)
    problems: dict[str, str] = {}
    for name, value in features.items():
        if name in numeric:
            ok = value is None or (isinstance(value, int | float) and not isinstance(value, str))
            if isinstance(value, float) and not math.isfinite(value):
                ok = False
            if not ok:
                problems[name] = "must be a number (or null when unknown)"
        elif name in categorical:
            if not (value is None or isinstance(value, str | int | bool)):
                problems[name] = "must be text (or null when unknown)"
        elif name != "subscriber_id":
            problems[name] = "is not a feature of the model"
    if problems:
        unknown = sum(1 for v in problems.values() if v.startswith("is not"))
        raise PayloadError(
            f"{len(problems)} feature value(s) cannot be used"
            + (
                f" ({unknown} unknown; GET /api/v1/models/champion lists the features)"
                if unknown
                else ""
            ),
            problems,
        )
    data: dict[str, list[Any]] = {}
    for name in plan.numeric:
        v = features.get(name)
        data[name] = [np.nan if v is None else float(v)]
    for name in plan.categorical:
        v = features.get(name)
        data[name] = [None if v is None else str(v)]
    return pd.DataFrame(data)
