"""``simulate``: build a synthetic operator and write its tables and ground truth."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..contract import TABLES
from ..errors import InputError, StateError
from .dirt import DirtInjector
from .dynamics import MonthResult, advance_month
from .regions import HORIZON_MONTHS, make_timeline
from .snapshots import (
    offer_matrix,
    offer_response_table,
    plans_table,
    subscribers_table,
    traits_table,
)
from .world import World, add_subscribers, month_day
from .writers import IdShift, TableSink

__all__ = [
    "DEFAULT_MIX",
    "MONTHLY_TABLES",
    "ChunkPart",
    "SimulationSummary",
    "chunk_plan",
    "simulate",
    "validate_mix",
]

log = logging.getLogger(__name__)

DEFAULT_MIX: dict[str, float] = {"mobile": 0.7, "broadband": 0.2, "tv": 0.1}
MONTHLY_TABLES = (
    "usage",
    "billing",
    "complaints",
    "network_quality",
    "interactions",
    "plan_changes",
    "surveys",
)
TRUTH_DIR = "truth"
GROUP_EVENTS_FILE = "group_events.parquet"


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation produced: sizes, rates, the Bayes limit and where the files are."""

    out_dir: Path
    subscribers: int  # initial base
    months: int
    start: date
    monthly_voluntary_churn: tuple[float, ...]  # per month with a known outcome
    median_voluntary_churn: float
    bayes_auc: float
    rows: dict[str, int]
    dirt: dict[str, int] = field(default_factory=dict)
    chunks: tuple[str, ...] = ()  # chunk folders, when simulated in chunks

    def as_dict(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "subscribers": self.subscribers,
            "months": self.months,
            "start": self.start.isoformat(),
            "monthly_voluntary_churn": list(self.monthly_voluntary_churn),
            "median_voluntary_churn": self.median_voluntary_churn,
            "bayes_auc": self.bayes_auc,
            "rows": dict(self.rows),
            "dirt": dict(self.dirt),
            "chunks": list(self.chunks),
        }


def validate_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    """Check a service mix: known service types, non-negative shares summing to 1."""
    if mix is None:
        return dict(DEFAULT_MIX)
    unknown = sorted(set(mix) - set(DEFAULT_MIX))
    if unknown:
        raise InputError(
            f"unknown service type(s) {', '.join(unknown)} in the mix; use mobile, broadband, tv"
        )
    if any(v < 0 for v in mix.values()):
        raise InputError("service mix shares must be >= 0, e.g. mobile=0.7,broadband=0.2,tv=0.1")
    total = float(sum(mix.values()))
    if abs(total - 1.0) > 1e-6:
        raise InputError(
            f"service mix shares sum to {total:g}, not 1; e.g. mobile=0.7,broadband=0.2,tv=0.1"
        )
    return {k: float(mix.get(k, 0.0)) for k in DEFAULT_MIX}


def _check_args(subscribers: int, months: int, dirty_rate: float, fmt: str, encoding: str) -> None:
    if subscribers < 1:
        raise InputError(f"--subscribers must be at least 1 (got {subscribers})")
    if months < 2:
        raise InputError(
            f"--months must be at least 2 (got {months}): churn needs a following month"
        )
    if months >= HORIZON_MONTHS:
        raise InputError(f"--months must be below {HORIZON_MONTHS} (got {months})")
    if not 0.0 <= dirty_rate <= 0.5:
        raise InputError(f"--dirty-rate must be between 0 and 0.5 (got {dirty_rate})")
    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format must be parquet or csv (got {fmt})")
    if encoding not in ("utf-8", "gbk"):
        raise InputError(f"--encoding must be utf-8 or gbk (got {encoding})")
    if encoding == "gbk" and fmt != "csv":
        raise InputError("--encoding gbk needs --format csv (Parquet text is always UTF-8)")


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by ranks (ties averaged); NaN when only one class is present."""
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def simulate(
    out_dir: Path,
    *,
    subscribers: int,
    months: int,
    seed: int,
    start: date = date(2024, 1, 1),
    mix: Mapping[str, float] | None = None,
    dirty_rate: float = 0.0,
    fmt: Literal["parquet", "csv"] = "parquet",
    encoding: Literal["utf-8", "gbk"] = "utf-8",
    on_month: Callable[[int, int], None] | None = None,
    chunk_size: int | None = None,
    chunk: tuple[int, int] | None = None,
) -> SimulationSummary:
    """Simulate an operator and write its contract tables and ground truth to ``out_dir``.

    Parameters
    ----------
    out_dir
        Output folder: ``<table>.parquet|csv`` per contract table and ``truth/``.
        Existing simulator files in it are replaced.
    subscribers
        Size of the initial base; about as many join as leave each month.
    months
        Months to simulate, starting at ``start`` (the first day of a month).
    seed
        Same seed, same bytes.
    mix
        Shares of mobile, broadband and TV lines (default 0.7/0.2/0.1).
    dirty_rate
        Share of rows per table made defective; see ``truth/dirt_manifest.parquet``.
    fmt, encoding
        Parquet, or CSV in UTF-8 or GBK.
    on_month
        Called as ``on_month(done, total)`` after each simulated month.
    chunk_size
        Simulate the base in chunks of at most this many subscribers, one after the
        other (memory is bounded by the chunk): ``out_dir/chunk-000/``,
        ``chunk-001/``... each a complete batch folder (tables and ``truth/``) with
        globally unique ids, which ``churnguard ingest`` loads one after the other.
    chunk
        ``(k, n)``: only chunk ``k`` (0-based) of ``n`` equal chunks, e.g. to
        generate chunks in parallel processes or machines; same files as with
        ``chunk_size`` giving ``n`` chunks.
    """
    _check_args(subscribers, months, dirty_rate, fmt, encoding)
    if start.day != 1:
        raise InputError(f"start must be the first day of a month (got {start.isoformat()})")
    shares = validate_mix(mix)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file; give a folder for the simulated tables")
    plan = chunk_plan(subscribers, months=months, seed=seed, chunk_size=chunk_size, chunk=chunk)
    if plan is not None:
        return _simulate_chunks(
            out_dir,
            plan=plan,
            months=months,
            seed=seed,
            start=start,
            shares=shares,
            dirty_rate=dirty_rate,
            fmt=fmt,
            encoding=encoding,
            on_month=on_month,
        )
    return _simulate_world(
        out_dir,
        subscribers=subscribers,
        months=months,
        seed=seed,
        start=start,
        shares=shares,
        dirty_rate=dirty_rate,
        fmt=fmt,
        encoding=encoding,
        on_month=on_month,
    )


def _simulate_world(
    out_dir: Path,
    *,
    subscribers: int,
    months: int,
    seed: int,
    start: date,
    shares: dict[str, float],
    dirty_rate: float,
    fmt: Literal["parquet", "csv"],
    encoding: Literal["utf-8", "gbk"],
    on_month: Callable[[int, int], None] | None,
    part: ChunkPart | None = None,
) -> SimulationSummary:
    """One world (the whole operator, or one chunk of it) written to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir = out_dir / TRUTH_DIR
    if truth_dir.exists():
        shutil.rmtree(truth_dir)
    truth_dir.mkdir()
    for name in TABLES:
        for ext in ("parquet", "csv"):
            (out_dir / f"{name}.{ext}").unlink(missing_ok=True)

    mix_t = (shares["mobile"], shares["broadband"], shares["tv"])
    shift = IdShift() if part is None else part.shift
    world_seed = seed if part is None else part.world_seed
    world = World(
        seed=world_seed,
        start=start,
        t=0,
        fmt=fmt,
        encoding=encoding,
        mix=mix_t,
        rng=np.random.default_rng(world_seed),
        next_complaint=1 if part is None else part.first_complaint,
        index_offset=0 if part is None else part.shift.subscribers,
        id_seed=None if part is None else seed,
    )
    # regional events (outages, rival promotions) belong to the whole operator: every
    # chunk shares the timeline of the world seed
    timeline = make_timeline(seed)
    start_day = int(month_day(start, 0))
    add_subscribers(
        world, subscribers, mix=mix_t, first_day=start_day, last_day=start_day - 1, initial=True
    )
    dirt_rng = np.random.default_rng([world_seed, 4_242])
    sinks = {
        name: TableSink(out_dir, name, fmt=fmt, encoding=encoding, shift=shift) for name in TABLES
    }
    dirt = {
        name: DirtInjector(TABLES[name], dirty_rate, sinks[name].text_dates, dirt_rng)
        for name in TABLES
    }
    truth_writer = pq.ParquetWriter(
        truth_dir / "churn_probability.parquet",
        pa.schema(
            [
                ("subscriber_id", pa.string()),
                ("month", pa.date32()),
                ("p_voluntary_churn", pa.float64()),
                ("churned_voluntary", pa.bool_()),
            ]
        ),
        compression="zstd",
    )
    rates: list[float] = []
    group_events: list[pa.Table] = []

    def write_month(result: MonthResult) -> None:
        for name in MONTHLY_TABLES:
            write_batch(sinks[name], result.tables[name], dirt=dirt[name])
        truth_writer.write_table(shift.apply(result.truth))

    # Writing month t (compression, I/O: releases the GIL) overlaps simulating month t+1;
    # one writer thread keeps the order, and at most two months are held in memory.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cg-sim-writer")
    pending: Future[None] | None = None
    try:
        for t in range(months):
            result = advance_month(world, timeline=timeline)
            if pending is not None:
                pending.result()
            pending = pool.submit(write_month, result)
            rates.append(result.voluntary_rate)
            group_events.append(shift.apply(result.group_events))
            log.info("month %d/%d: %d active", t + 1, months, result.active)
            if on_month is not None:
                on_month(t + 1, months)
        end_day = int(month_day(start, months))
        final = subscribers_table(
            world, np.arange(world.size, dtype=np.int64), reference_day=end_day
        )
        if pending is not None:
            pending.result()
        write_batch(sinks["subscribers"], final, dirt=dirt["subscribers"])
        write_batch(sinks["plans"], plans_table(), dirt=dirt["plans"])
    finally:
        pool.shutdown(wait=True)
        for sink in sinks.values():
            sink.close()
        truth_writer.close()

    multipliers = offer_matrix(world)
    if part is not None:
        part.check(world)
    pq.write_table(
        shift.apply(offer_response_table(world, multipliers)),
        truth_dir / "offer_response.parquet",
        compression="zstd",
    )
    pq.write_table(
        shift.apply(traits_table(world)), truth_dir / "traits.parquet", compression="zstd"
    )
    pq.write_table(pa.concat_tables(group_events), truth_dir / GROUP_EVENTS_FILE)
    pq.write_table(
        timeline.to_table(
            months=months, month_days=month_day(start, np.arange(months)).astype(np.int32)
        ),
        truth_dir / "regions.parquet",
    )
    manifest = [r for d in dirt.values() for r in d.records]
    dirt_counts: dict[str, int] = {}
    if dirty_rate > 0:
        frame = (
            pd.concat(manifest, ignore_index=True)
            if manifest
            else pd.DataFrame({"table": [], "row_number": [], "reason": [], "detail": []})
        )
        pq.write_table(
            pa.Table.from_pandas(
                frame.astype({"table": str, "row_number": "int64", "reason": str, "detail": str}),
                preserve_index=False,
            ),
            truth_dir / "dirt_manifest.parquet",
        )
        dirt_counts = {str(k): int(v) for k, v in frame.groupby("reason").size().items()}
    world.save(truth_dir)

    truth = pq.read_table(
        truth_dir / "churn_probability.parquet", columns=["p_voluntary_churn", "churned_voluntary"]
    )
    y = truth.column("churned_voluntary").to_numpy()
    p = truth.column("p_voluntary_churn").to_numpy()
    known = tuple(rates)
    return SimulationSummary(
        out_dir=out_dir,
        subscribers=subscribers,
        months=months,
        start=start,
        monthly_voluntary_churn=known,
        median_voluntary_churn=float(np.median(known)),
        bayes_auc=_auc(y.astype(bool), p),
        rows={name: sink.rows for name, sink in sinks.items()},
        dirt=dirt_counts,
    )


def write_batch(sink: TableSink, table: pa.Table, *, dirt: DirtInjector | None = None) -> None:
    """Conform a batch to the contract, inject its defects (if any) and append it."""
    prepared = sink.prepare(table)
    if dirt is not None and dirt.rate > 0:
        prepared = dirt.inject(prepared, first_row=sink.rows)
    sink.write(prepared)


CHUNK_DIR = "chunk-{:03d}"


@dataclass(frozen=True)
class ChunkPart:
    """One chunk of a world simulated in chunks: its size, seed and id ranges.

    Chunk ``k`` numbers its subscribers from ``k × subscriber_stride + 1``, its
    groups from ``k × group_stride`` and its complaints from
    ``k × complaint_stride + 1``: ranges wide enough for the chunk's joiners,
    groups and complaints over the simulated months (checked at the end).
    """

    index: int
    count: int
    subscribers: int
    subscriber_stride: int
    group_stride: int
    complaint_stride: int
    world_seed: int

    @property
    def shift(self) -> IdShift:
        return IdShift(
            subscribers=self.index * self.subscriber_stride,
            groups=self.index * self.group_stride,
        )

    @property
    def first_complaint(self) -> int:
        return self.index * self.complaint_stride + 1

    @property
    def folder(self) -> str:
        return CHUNK_DIR.format(self.index)

    def check(self, world: World) -> None:
        """Refuse a chunk that outgrew its id ranges (ids would collide with the next chunk)."""
        used = {
            "subscriber": (world.size, self.subscriber_stride),
            "group": (len(world.group_region), self.group_stride),
            "complaint": (world.next_complaint - self.first_complaint, self.complaint_stride),
        }
        for what, (n, room) in used.items():
            if n > room:
                raise StateError(
                    f"chunk {self.index} used {n:,} {what} ids, more than its range of "
                    f"{room:,}; simulate fewer months or use smaller chunks"
                )


def chunk_plan(
    subscribers: int,
    *,
    months: int,
    seed: int = 7,
    chunk_size: int | None,
    chunk: tuple[int, int] | None,
) -> list[ChunkPart] | None:
    """The chunks to simulate (``None``: one world, unchunked).

    ``n`` chunks split the base as evenly as possible; the id ranges depend only
    on ``subscribers`` and ``n``, so ``chunk=(k, n)`` in separate runs gives the
    same chunk ``k`` as one run with ``chunk_size`` making ``n`` chunks.

    Raises
    ------
    InputError
        Both options, a chunk size below 1, or ``k`` outside ``0..n-1``.
    """
    if chunk_size is not None and chunk is not None:
        raise InputError("give --chunk-size or --chunk K/N, not both")
    if chunk_size is not None:
        if chunk_size < 1:
            raise InputError(f"--chunk-size must be at least 1 (got {chunk_size})")
        n = -(-subscribers // chunk_size)
        if n <= 1:
            return None
        wanted = list(range(n))
    elif chunk is not None:
        k, n = chunk
        if n < 1 or not 0 <= k < n:
            raise InputError(f"--chunk {k}/{n}: K must be between 0 and N-1, N at least 1")
        if n > subscribers:
            raise InputError(f"--chunk {k}/{n}: more chunks than subscribers ({subscribers})")
        wanted = [k]
    else:
        return None
    size = -(-subscribers // n)
    # joiners replace leavers (~1-3 % a month): twice the chunk leaves room for 24+ months
    sub_stride = 2 * size + 1000
    if n * sub_stride >= 90_000_000:  # ids above 90,000,000 are the dirt's unknown subscribers
        raise InputError(
            f"{subscribers:,} subscribers in {n} chunks need ids beyond S90000000; "
            "the simulator numbers at most about 45 M subscribers"
        )
    group_stride = max(1000, size // 20)
    if n * group_stride >= 1_000_000:
        raise InputError(f"{n} chunks of {size:,}: too many group ids for G000000..G999999")
    complaint_stride = (10**9 - 1) // n
    base, extra = divmod(subscribers, n)
    parts = []
    for k in wanted:
        seq = np.random.SeedSequence([int(seed), int(k), 31_337])
        parts.append(
            ChunkPart(
                index=k,
                count=n,
                subscribers=base + (1 if k < extra else 0),
                subscriber_stride=sub_stride,
                group_stride=group_stride,
                complaint_stride=complaint_stride,
                world_seed=int(seq.generate_state(1)[0]),
            )
        )
    return parts


def _simulate_chunks(
    out_dir: Path,
    *,
    plan: list[ChunkPart],
    months: int,
    seed: int,
    start: date,
    shares: dict[str, float],
    dirty_rate: float,
    fmt: Literal["parquet", "csv"],
    encoding: Literal["utf-8", "gbk"],
    on_month: Callable[[int, int], None] | None,
) -> SimulationSummary:
    """Each chunk of ``plan`` as its own world in ``out_dir/chunk-KKK/``; one summary of all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(plan) * months
    summaries: list[SimulationSummary] = []
    for i, part in enumerate(plan):
        done = i * months

        def step(m: int, _total: int, done: int = done) -> None:
            if on_month is not None:
                on_month(done + m, total)

        log.info("chunk %d/%d: %d subscribers", part.index + 1, part.count, part.subscribers)
        summaries.append(
            _simulate_world(
                out_dir / part.folder,
                subscribers=part.subscribers,
                months=months,
                seed=seed,
                start=start,
                shares=shares,
                dirty_rate=dirty_rate,
                fmt=fmt,
                encoding=encoding,
                on_month=step,
                part=part,
            )
        )
    weights = np.array([s.subscribers for s in summaries], dtype=np.float64)
    rates = np.array([s.monthly_voluntary_churn for s in summaries], dtype=np.float64)
    monthly = tuple(float(v) for v in (weights @ rates) / weights.sum())
    aucs = np.array([s.bayes_auc for s in summaries], dtype=np.float64)
    rows: dict[str, int] = {}
    dirt: dict[str, int] = {}
    for s in summaries:
        for k, v in s.rows.items():
            rows[k] = rows.get(k, 0) + v
        for k, v in s.dirt.items():
            dirt[k] = dirt.get(k, 0) + v
    return SimulationSummary(
        out_dir=out_dir,
        subscribers=int(weights.sum()),
        months=months,
        start=start,
        monthly_voluntary_churn=monthly,
        median_voluntary_churn=float(np.median(monthly)),
        # chunks are independent worlds: the size-weighted mean of their Bayes AUCs
        bayes_auc=float(np.nansum(weights * aucs) / weights[~np.isnan(aucs)].sum()),
        rows=rows,
        dirt=dirt,
        chunks=tuple(str(out_dir / p.folder) for p in plan),
    )
