"""``score``: the champion's calibrated churn probability, rank and reasons for a month.

Writes the warehouse table ``scores`` (key: ``as_of, subscriber_id,
model_version``; re-scoring a month with the same model replaces its rows in
one transaction) and optionally a Parquet / CSV file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InputError, NotFoundError, StateError
from .artifacts import TrainedModel, load_model
from .reasons import ReasonText, render_catalog_reasons
from .registry import champion, get_version

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "REASON_COLUMNS",
    "SCORES_TABLE",
    "ScoreResult",
    "catalog_reason_texts",
    "compute_scores",
    "explain_subscribers",
    "explain_with_reasons",
    "load_registered",
    "month_frame",
    "month_table",
    "reasons_table",
    "score_month",
    "store_reasons",
    "with_reasons",
    "write_file",
    "write_scores",
]

log = logging.getLogger(__name__)

SCORES_TABLE = "scores"

_SCORES_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCORES_TABLE} (
    as_of DATE NOT NULL,
    subscriber_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    churn_probability DOUBLE NOT NULL,
    raw_score DOUBLE NOT NULL,
    rank BIGINT NOT NULL,
    top_categories VARCHAR,
    top_reasons_en VARCHAR,
    top_reasons_zh VARCHAR,
    scored_at TIMESTAMP NOT NULL
)
"""
# The key (as_of, subscriber_id, model_version) is kept by the writers: a month's rows
# of a version are replaced as a whole, from rows with unique subscribers. It is not
# declared as a PRIMARY KEY: DuckDB's index cost 1.4 s of 2.2 s per 1 M scores written
# and grows in memory with every month stored.

REASON_COLUMNS = ("top_categories", "top_reasons_en", "top_reasons_zh")

OUTPUT_COLUMNS = (
    "as_of",
    "subscriber_id",
    "model_version",
    "churn_probability",
    "raw_score",
    "rank",
    "top_categories",
    "top_reasons_en",
    "top_reasons_zh",
    "scored_at",
)


@dataclass(frozen=True)
class ScoreResult:
    """Summary of one scoring run (the rows are in the warehouse / file)."""

    as_of: date
    model_version: str
    family: str
    rows: int
    explained: int
    mean_probability: float
    out: str | None
    seconds: float
    scores: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the rows)."""
        top = self.scores.head(10)[
            ["subscriber_id", "churn_probability", "rank", "top_reasons_zh", "top_reasons_en"]
        ]
        return {
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "family": self.family,
            "rows": self.rows,
            "explained": self.explained,
            "mean_probability": self.mean_probability,
            "out": self.out,
            "seconds": self.seconds,
            "top": top.astype(object).where(top.notna(), None).to_dict(orient="records"),
        }


def catalog_reason_texts() -> list[ReasonText]:
    """Reason texts of every catalog feature that can be a reason."""
    from ..features import CATALOG

    return [
        ReasonText(
            feature=f.name,
            category=str(f.category),
            template_en=f.reason_en,
            template_zh=f.reason_zh,
            fmt=str(f.reason_format),
        )
        for f in CATALOG
        if f.risk_direction != 0 and f.reason_en and f.reason_zh
    ]


def _directional(contrib: pd.DataFrame, frame: pd.DataFrame, model: TrainedModel) -> pd.DataFrame:
    """Keep a feature's contribution only where its value is on its risky side.

    A catalog template says e.g. "call minutes down 62 %"; it is only true when
    the value is beyond the typical (training median) value in the feature's
    risk direction, so other contributions are not offered as reasons.
    """
    from ..features import CATALOG

    direction = {f.name: f.risk_direction for f in CATALOG}
    out = contrib.copy()
    for name in contrib.columns:
        d = direction.get(name, 0)
        ref = model.family.reference_.get(name)
        if d == 0 or not isinstance(ref, int | float):
            out[name] = 0.0
            continue
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        risky = np.nan_to_num((v - float(ref)) * d, nan=0.0) > 0
        out[name] = np.where(risky, contrib[name].to_numpy(), 0.0)
    return out


def explain_with_reasons(model: TrainedModel, frame: pd.DataFrame, *, top: int) -> pd.DataFrame:
    """``top_categories``, ``top_reasons_en``, ``top_reasons_zh`` for each row of ``frame``."""
    contrib = _directional(model.explain(frame), frame, model)
    return render_catalog_reasons(contrib, frame, texts=catalog_reason_texts(), top=top)


def load_registered(
    settings: Settings, *, version: str | None = None
) -> tuple[dict[str, Any], TrainedModel]:
    """A registered model (default: the champion), checksum-verified."""
    row = get_version(settings, version) if version else champion(settings)
    path = settings.workspace / row["artifact_path"]
    model = load_model(
        path,
        expected_checksum=row["checksum"],
        threads=settings.models.threads,
        explainer=settings.models.explainer,
    )
    return row, model


def month_table(settings: Settings, *, as_of: date) -> pa.Table:
    """The feature snapshot of ``as_of`` as Arrow (rows in storage order), built first when missing.

    Scoring does not need the rows by subscriber (ranks break ties by subscriber id
    themselves), and ordering a million rows of a hundred features costs a copy of all.
    :func:`compute_scores` converts it to pandas a slice at a time.
    """
    from ..features import build_snapshot, load_snapshot_table

    try:
        return load_snapshot_table(settings, as_of=as_of)
    except NotFoundError:
        log.info("no snapshot for %s yet: building it", f"{as_of:%Y-%m}")
        build_snapshot(settings, as_of=as_of)
        return load_snapshot_table(settings, as_of=as_of)


def month_frame(settings: Settings, *, as_of: date) -> pd.DataFrame:
    """:func:`month_table` as one pandas DataFrame."""
    from ..features.store import arrow_frame

    return arrow_frame(month_table(settings, as_of=as_of), consume=True)


# A month's snapshot rows held in memory: pandas, or Arrow as month_table reads them.
Snapshot: TypeAlias = pd.DataFrame | pa.Table

# Rows of an Arrow snapshot converted to pandas and scored at a time. Converting a
# million rows at once fills ~1 GB of fresh memory (~2 s on the 2-core build machine,
# where first touches of memory are slow); slices reuse the memory of the previous one.
SCORE_SLICE = 65_536


def _snapshot_ids(frame: Snapshot) -> np.ndarray:
    """The rows' subscriber ids as an object array of text."""
    if isinstance(frame, pa.Table):
        ids: np.ndarray = (
            frame.column("subscriber_id").cast(pa.string()).to_numpy(zero_copy_only=False)
        )
        return ids
    out: np.ndarray = frame["subscriber_id"].astype(str).to_numpy()
    return out


def _snapshot_at(frame: Snapshot, positions: np.ndarray) -> pd.DataFrame:
    """The rows at ``positions`` as a pandas frame (index 0..n-1)."""
    if isinstance(frame, pa.Table):
        from ..features.store import arrow_frame

        return arrow_frame(frame.take(pa.array(positions, type=pa.int64())), consume=True)
    return frame.take(positions).reset_index(drop=True)


def _raw_scores(model: TrainedModel, frame: Snapshot) -> np.ndarray:
    """The model's raw scores of every row (an Arrow snapshot a slice at a time)."""
    if not isinstance(frame, pa.Table):
        return model.raw_scores(frame)
    from ..features.store import arrow_frame

    raw = np.empty(frame.num_rows, dtype=np.float64)
    for start in range(0, frame.num_rows, SCORE_SLICE):
        part = arrow_frame(frame.slice(start, SCORE_SLICE))
        raw[start : start + len(part)] = model.raw_scores(part)
    return raw


def _write_warehouse(
    settings: Settings, scores: pd.DataFrame, *, as_of: date, version: str
) -> None:
    from ..warehouse.analytical import connect, transaction

    if not scores["subscriber_id"].is_unique:
        twice = scores.loc[scores["subscriber_id"].duplicated(), "subscriber_id"]
        raise StateError(
            f"{twice.nunique()} subscriber(s) scored twice for {as_of:%Y-%m} "
            f"(e.g. {twice.iloc[0]}); the snapshot must hold one row per subscriber — "
            "rebuild it with 'churnguard features build'"
        )
    backend = connect(settings)
    try:
        with transaction(backend) as con:
            con.execute(_SCORES_DDL)
            con.execute(
                f"DELETE FROM {SCORES_TABLE} WHERE as_of = ? AND model_version = ?",
                [as_of, version],
            )
            con.register("_cg_scores", scores[list(OUTPUT_COLUMNS)])
            try:
                con.execute(
                    f"INSERT INTO {SCORES_TABLE} ({', '.join(OUTPUT_COLUMNS)}) "
                    f"SELECT {', '.join(OUTPUT_COLUMNS)} FROM _cg_scores"
                )
            finally:
                con.unregister("_cg_scores")
    finally:
        backend.disconnect()


def _snapshot_rows(frame: Snapshot, subscriber_ids: Sequence[str]) -> pd.DataFrame:
    """The rows of an in-memory snapshot for ``subscriber_ids``, in ``frame``'s order.

    ``frame`` holds each subscriber once, in any order; unknown ids are skipped.
    Taking the rows in the frame's own order reads each column front to back: on
    178 k of a million rows × 100 columns 0.13 s, against 0.35–0.95 s in id order.
    """
    wanted = pd.unique(np.asarray(subscriber_ids, dtype=object).astype(str))
    pos = pd.Index(_snapshot_ids(frame)).get_indexer(wanted)
    return _snapshot_at(frame, np.sort(pos[pos >= 0]))


def explain_subscribers(
    settings: Settings,
    *,
    as_of: date,
    version: str,
    subscriber_ids: Sequence[str],
    frame: Snapshot | None = None,
    model: TrainedModel | None = None,
) -> pd.DataFrame:
    """Model reasons for some customers of a scored month.

    Explanations cost far more than probabilities, so ``score`` can skip them and
    ``warn`` asks for the customers it warns only (then keeps them with the scores
    through :func:`store_reasons`). Returns ``subscriber_id`` and :data:`REASON_COLUMNS`,
    one row per known customer, in no particular order (read from storage the rows
    stream as stored: sorting millions of snapshot rows first held them all in memory).

    ``frame`` is the month's whole snapshot (pandas or Arrow) when the caller holds
    it already (the rows are then taken from it instead of read again), ``model``
    the loaded ``version``.
    """
    from ..features import iter_snapshot

    if len(subscriber_ids) == 0:
        return pd.DataFrame(columns=["subscriber_id", *REASON_COLUMNS])
    if model is None:
        _row, model = load_registered(settings, version=version)
    if frame is None:
        chunks: Iterable[pd.DataFrame] = iter_snapshot(
            settings,
            as_of=as_of,
            subscriber_ids=subscriber_ids,
            rows_per_chunk=EXPLAIN_CHUNK,
            ordered=False,
        )
    else:
        rows = _snapshot_rows(frame, subscriber_ids)
        chunks = (rows.iloc[i : i + EXPLAIN_CHUNK] for i in range(0, len(rows), EXPLAIN_CHUNK))
    parts = [_explained(model, snap, top=settings.models.reasons_top) for snap in chunks]
    if not parts:
        return pd.DataFrame(columns=["subscriber_id", *REASON_COLUMNS])
    return pd.concat(parts, ignore_index=True)


# Rows explained at a time: explanations hold the rows' features several times over
# (prepared frame, model matrix, contributions), so the chunk bounds their memory.
# Small chunks reuse the memory of the last one: 178 k warned explained in 3.8–4.5 s
# with 32,768 rows a chunk against 4.5–5.4 s with 200,000 (first touches of fresh
# memory are slow on the build machine).
EXPLAIN_CHUNK = 32_768


def _explained(model: TrainedModel, snap: pd.DataFrame, *, top: int) -> pd.DataFrame:
    reasons = explain_with_reasons(model, snap, top=top)
    out = pd.DataFrame({"subscriber_id": snap["subscriber_id"].astype(str).to_numpy()})
    for col in REASON_COLUMNS:
        out[col] = reasons[col].to_numpy()
    return out


def reasons_table(frame: pd.DataFrame, *, numbers: tuple[str, ...] = ()) -> pa.Table:
    """``subscriber_id``, the float columns ``numbers`` and :data:`REASON_COLUMNS` as Arrow.

    Reasons are text or null. DuckDB reads Arrow columns as they are, where pandas
    object columns are inferred and read value by value.
    """
    return pa.table(
        {
            "subscriber_id": pa.array(frame["subscriber_id"].astype(str), type=pa.string()),
            **{c: pa.array(frame[c], type=pa.float64()) for c in numbers},
            **{
                c: pa.array(frame[c].astype(object), type=pa.string(), from_pandas=True)
                for c in REASON_COLUMNS
            },
        }
    )


def store_reasons(settings: Settings, reasons: pd.DataFrame, *, as_of: date, version: str) -> None:
    """Write reasons from :func:`explain_subscribers` into the month's stored scores.

    The month's rows of ``version`` are rewritten with the reasons joined in (one
    transaction), rather than UPDATEd in place: an UPDATE of millions of rows in an
    order other than the table's (scores are stored by rank, reasons come by
    subscriber) took DuckDB over a minute for 2.9 M reasons at 10 M; the rewrite
    takes ~10 s.
    """
    from ..warehouse.analytical import connect, transaction

    if reasons.empty:
        return
    got = reasons_table(reasons.drop_duplicates("subscriber_id", keep="last"))
    joined = ", ".join(
        f"CASE WHEN r.subscriber_id IS NULL THEN s.{c} ELSE r.{c} END AS {c}"
        for c in REASON_COLUMNS
    )
    backend = connect(settings)
    try:
        with transaction(backend) as con:
            con.register("_cg_reasons", got)
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _cg_month AS SELECT s.* REPLACE ({joined}) "
                    f"FROM {SCORES_TABLE} s LEFT JOIN _cg_reasons r "
                    "ON s.subscriber_id = r.subscriber_id "
                    "WHERE s.as_of = ? AND s.model_version = ?",
                    [as_of, version],
                )
                con.execute(
                    f"DELETE FROM {SCORES_TABLE} WHERE as_of = ? AND model_version = ?",
                    [as_of, version],
                )
                con.execute(f"INSERT INTO {SCORES_TABLE} SELECT * FROM _cg_month")
                con.execute("DROP TABLE _cg_month")
            finally:
                con.unregister("_cg_reasons")
    finally:
        backend.disconnect()


def write_file(scores: pd.DataFrame, out: Path) -> None:
    """Write scores as Parquet (``.parquet``) or CSV (anything else)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        scores.to_parquet(out, index=False)
    elif out.suffix.lower() == ".csv":
        scores.to_csv(out, index=False)
    else:
        raise InputError(f"--out {out}: use a .parquet or .csv file name")


def compute_scores(
    settings: Settings,
    *,
    as_of: date,
    frame: Snapshot,
    model: TrainedModel,
    version: str,
    explain_share: float,
) -> tuple[pd.DataFrame, int]:
    """Scores (:data:`OUTPUT_COLUMNS`, by rank) of the snapshot rows ``frame``, not yet stored.

    ``frame`` is pandas or Arrow (:func:`month_table`; scored a slice at a time).

    Reasons are computed for the highest-risk ``explain_share`` of rows only; the
    others carry ``NA`` reasons. Returns the scores and how many rows were explained.
    """
    ids = _snapshot_ids(frame)
    if len(ids) == 0:
        raise NotFoundError(f"the snapshot of {as_of:%Y-%m} has no subscribers to score")
    raw = _raw_scores(model, frame)
    prob = model.calibrator.transform(raw)
    order = _rank_order(prob, ids)
    rank = np.empty(len(prob), dtype=np.int64)
    rank[order] = np.arange(1, len(prob) + 1)
    scores = pd.DataFrame(
        {
            "as_of": as_of,
            "subscriber_id": ids,
            "model_version": version,
            "churn_probability": prob,
            "raw_score": raw,
            "rank": rank,
        }
    )
    explain_rows = int(np.ceil(explain_share * len(ids)))
    chosen = np.sort(order[:explain_rows])
    reasons = (
        explain_with_reasons(model, _snapshot_at(frame, chosen), top=settings.models.reasons_top)
        if len(chosen)
        else pd.DataFrame(columns=list(REASON_COLUMNS))
    )
    for col in REASON_COLUMNS:
        values = pd.Series(pd.NA, index=scores.index, dtype="string")
        values.iloc[chosen] = reasons[col].to_numpy()
        scores[col] = values
    scores["scored_at"] = datetime.now(UTC).replace(tzinfo=None)
    scores = scores.sort_values("rank", kind="stable").reset_index(drop=True)
    return scores, len(chosen)


def _rank_order(prob: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions from the highest probability down; equal ones by subscriber id.

    Calibrated probabilities tie a lot (isotonic steps), so the order of ties is fixed
    by id whatever the order of the rows, as the chunked scorer's SQL ranks them.
    """
    by_id = np.argsort(ids, kind="stable")
    return by_id[np.argsort(-prob[by_id], kind="stable")]


def with_reasons(scores: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the reasons of :func:`explain_subscribers` filled in where given."""
    if reasons.empty:
        return scores
    got = reasons.drop_duplicates("subscriber_id", keep="last")
    pos = pd.Index(got["subscriber_id"].astype(str)).get_indexer(scores["subscriber_id"])
    hit = pos >= 0
    out = scores.copy()
    for col in REASON_COLUMNS:
        filled = out[col].to_numpy(dtype=object, copy=True)
        new = got[col].astype(object).to_numpy()[pos[hit]]
        keep = pd.isna(new)  # no reason given: keep what the scores held
        filled[np.flatnonzero(hit)[~keep]] = new[~keep]
        filled[pd.isna(filled)] = None
        out[col] = filled  # text or None (object): DuckDB reads it faster than pandas' string
    return out


def write_scores(settings: Settings, scores: pd.DataFrame, *, as_of: date, version: str) -> None:
    """Store a month's scores (replacing that month's rows of ``version``) in one transaction."""
    _write_warehouse(settings, scores, as_of=as_of, version=version)


def score_month(
    settings: Settings,
    *,
    as_of: date | str,
    version: str | None = None,
    out: Path | None = None,
    frame: Snapshot | None = None,
    explain_share: float | None = None,
) -> ScoreResult:
    """Score every subscriber of the month's snapshot with the champion (or ``version``).

    Parameters
    ----------
    settings
        Workspace settings; ``settings.models.explain_share`` limits reasons to
        the highest-risk share of customers, ``reasons_top`` sets how many.
    as_of
        The snapshot month.
    version
        A registered model version instead of the champion.
    out
        Also write the scores to this ``.parquet`` / ``.csv`` file.
    frame
        The snapshot rows to score, pandas or Arrow (default: the month's snapshot,
        read as Arrow or built first).
    explain_share
        Overrides ``settings.models.explain_share``; ``0`` scores without reasons
        (``warn`` then explains only the customers it warns, see
        :func:`explain_subscribers`).
    """
    from ..features.context import parse_month

    t0 = time.perf_counter()
    month = parse_month(as_of)
    if out is not None and out.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise InputError(f"--out {out}: use a .parquet or .csv file name")
    row, model = load_registered(settings, version=version)
    snap = month_table(settings, as_of=month) if frame is None else frame
    share = settings.models.explain_share if explain_share is None else explain_share
    scores, explained = compute_scores(
        settings, as_of=month, frame=snap, model=model, version=row["version"], explain_share=share
    )
    _write_warehouse(settings, scores, as_of=month, version=row["version"])
    if out is not None:
        write_file(scores, out)
    return ScoreResult(
        as_of=month,
        model_version=row["version"],
        family=row["family"],
        rows=len(scores),
        explained=explained,
        mean_probability=float(scores["churn_probability"].mean()),
        out=str(out) if out is not None else None,
        seconds=time.perf_counter() - t0,
        scores=scores,
    )
