"""One as-of snapshot: every subscriber active at the end of M, every catalog feature.

:func:`snapshot_expr` is the pure Ibis expression (any backend);
:func:`build_snapshot` computes it on the chosen engine and stores it in the
warehouse table ``feature_snapshots``; :func:`load_snapshot` reads it back.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import ibis

from ..errors import InputError, NotFoundError
from .catalog import Family
from .context import AsOf, IdRange, Sources, id_ranges, parse_month
from .lifecycle import population
from .registry import CATALOG, CATALOG_VERSION, FAMILIES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from ..config import Settings

__all__ = [
    "SnapshotInfo",
    "build_snapshot",
    "iter_snapshot",
    "load_snapshot",
    "load_snapshot_table",
    "snapshot_expr",
]

log = logging.getLogger(__name__)

Engine = Literal["duckdb", "spark"]
_SERVICE = "_service_type"


def snapshot_expr(backend: Any, *, as_of: date | str, partition: IdRange | None = None) -> ir.Table:
    """The snapshot at ``as_of`` as an Ibis expression on ``backend``.

    One row per subscriber active at the end of the as-of month (activated by
    then, no churn dated by then), with ``as_of``, ``subscriber_id`` and the
    catalog's features in order. Only rows dated up to the end of the month
    are read. Nothing is executed.

    ``partition`` (an :class:`~churnguard.features.context.IdRange`) gives the rows
    of the subscribers in that range only (group features still count whole
    groups); the union of consecutive ranges is the whole snapshot.
    """
    asof = AsOf(parse_month(as_of))
    src = Sources(backend, partition=partition)
    pop = population(src, asof)
    result = pop.select("subscriber_id", **{_SERVICE: pop.service_type})

    by_frame: dict[str, list[Family]] = defaultdict(list)
    for fam in FAMILIES:
        by_frame[fam.frame].append(fam)
    for families in by_frame.values():
        frame = families[0].build(src, asof, pop)
        exprs = {f.name: f.expr(frame, asof) for fam in families for f in fam.features}
        if families[0].aggregate:
            part = frame.group_by("subscriber_id").aggregate(**exprs)
        else:
            part = frame.select("subscriber_id", **exprs)
        result = result.left_join(part, "subscriber_id").select(
            result, *[part[name] for name in exprs]
        )

    columns: dict[str, ir.Value] = {"as_of": ibis.literal(asof.month, type="date")}
    columns["subscriber_id"] = result.subscriber_id
    for f in CATALOG:
        col = result[f.name]
        if f.categorical:
            columns[f.name] = col.cast("string")
            continue
        value = col.cast("float64")
        if f.fill is not None:
            value = value.fill_null(f.fill)
        if set(f.services) != {"mobile", "broadband", "tv"}:
            value = ibis.cases(
                (result[_SERVICE].isin(f.services), value), else_=ibis.null("float64")
            )
        columns[f.name] = value
    return result.select(**columns)


@dataclass
class SnapshotInfo:
    """What :func:`build_snapshot` did."""

    as_of: date
    engine: str
    subscribers: int
    features: int
    catalog_version: str
    seconds: float
    by_service: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["as_of"] = self.as_of.strftime("%Y-%m")
        d["seconds"] = round(self.seconds, 3)
        return d


def build_snapshot(
    settings: Settings, *, as_of: date | str, engine: Engine = "duckdb"
) -> SnapshotInfo:
    """Compute the snapshot at ``as_of`` and store it in the warehouse.

    The rows of that as-of month in ``feature_snapshots`` are replaced in one
    transaction (a failed build leaves the previous snapshot intact).

    Parameters
    ----------
    settings
        Workspace settings (the warehouse must hold ingested data).
    as_of
        The snapshot month (a date in it, or ``"YYYY-MM"``).
    engine
        ``"duckdb"`` (in the warehouse) or ``"spark"`` (tables exported to
        Parquet, computed on local PySpark, result written back).

    Raises
    ------
    InputError
        The warehouse holds no data for the as-of month (the message gives
        the months it covers), or an unknown engine.
    NotFoundError
        Nothing ingested in the workspace yet.
    SparkUnavailable
        ``engine="spark"`` without PySpark or Java.
    """
    from . import engines, store

    if engine not in ("duckdb", "spark"):
        raise InputError(f"unknown engine '{engine}'; use duckdb or spark")
    asof = AsOf(parse_month(as_of))
    t0 = time.perf_counter()
    con = engines.open_warehouse(settings)
    try:
        engines.check_coverage(con, asof)
        if engine == "duckdb":
            ranges = id_ranges(con, _partitions(con, settings.warehouse.snapshot_partition_rows))
            sqls = [
                str(con.compile(snapshot_expr(con, as_of=asof.month, partition=p)))
                for p in ([None] if len(ranges) == 1 else ranges)
            ]
            if len(ranges) > 1:
                log.info("snapshot %s: built in %d subscriber ranges", asof, len(ranges))
            store.replace_snapshot(con, asof.month, select_sql=sqls, engine=engine)
        else:
            parquet_glob = engines.spark_snapshot(settings, con, asof)
            select = f"SELECT * FROM read_parquet('{parquet_glob}', hive_partitioning = false)"
            store.replace_snapshot(con, asof.month, select_sql=select, engine=engine)
        by_service = store.counts_by_service(con, asof.month)
        seconds = time.perf_counter() - t0
        store.record_seconds(con, asof.month, seconds)
    finally:
        con.disconnect()
    info = SnapshotInfo(
        as_of=asof.month,
        engine=engine,
        subscribers=sum(by_service.values()),
        features=len(CATALOG),
        catalog_version=CATALOG_VERSION,
        seconds=seconds,
        by_service=by_service,
    )
    log.info("snapshot %s built on %s: %d subscribers", asof, engine, info.subscribers)
    return info


def _partitions(backend: Any, rows: int) -> int:
    """How many subscriber partitions keep a snapshot build near ``rows`` subscribers each."""
    got = backend.con.execute("SELECT count(*) FROM subscribers").fetchall()
    return max(1, -(-int(got[0][0] if got else 0) // rows))


@contextmanager
def _stored(
    settings: Settings, as_of: date | str, *, memory_limit: str | None = None
) -> Iterator[tuple[Any, date]]:
    """The warehouse (read-only) and the month, once it is known to hold that snapshot."""
    from . import engines, store

    asof = AsOf(parse_month(as_of))
    con = engines.open_warehouse(settings, read_only=True, memory_limit=memory_limit)
    try:
        if not store.has_snapshot(con, asof.month):
            raise NotFoundError(
                f"no feature snapshot for {asof} in {settings.warehouse_path}; run "
                f"'churnguard features build --as-of {asof} --workspace {settings.workspace}'"
            )
        yield con, asof.month
    finally:
        con.disconnect()


def load_snapshot(
    settings: Settings,
    *,
    as_of: date | str,
    subscriber_ids: Sequence[str] | None = None,
    ordered: bool = True,
) -> pd.DataFrame:
    """The stored snapshot at ``as_of`` as a pandas DataFrame (only ``subscriber_ids`` if given).

    Rows come by subscriber; ``ordered=False`` leaves them in storage order.

    Raises
    ------
    NotFoundError
        No snapshot of that month (or one built by an older catalog) is stored.
    """
    from . import store

    with _stored(settings, as_of) as (con, month):
        return store.read_snapshot(con, month, subscriber_ids=subscriber_ids, ordered=ordered)


def load_snapshot_table(settings: Settings, *, as_of: date | str) -> pa.Table:
    """The stored snapshot at ``as_of`` as an Arrow table, rows in storage order.

    For callers that go through a whole base a slice at a time (see
    :func:`~churnguard.features.store.read_snapshot_table`). Raises
    :class:`NotFoundError` as :func:`load_snapshot` does.
    """
    from . import store

    with _stored(settings, as_of) as (con, month):
        return store.read_snapshot_table(con, month)


def iter_snapshot(
    settings: Settings,
    *,
    as_of: date | str,
    subscriber_ids: Sequence[str] | None = None,
    rows_per_chunk: int = 250_000,
    ordered: bool = True,
) -> Iterator[pd.DataFrame]:
    """:func:`load_snapshot` in frames of at most ``rows_per_chunk`` rows, by subscriber.

    ``ordered=False`` streams the rows as stored: the engine does not sort (and
    hold) them all before the first frame, and runs within
    ``warehouse.stream_memory_limit`` (it would otherwise keep the blocks it scanned
    cached up to ``memory_limit``, beside what the caller holds). Raises
    :class:`NotFoundError` as :func:`load_snapshot` does.
    """
    from . import store

    limit = None if ordered else settings.warehouse.stream_memory_limit
    with _stored(settings, as_of, memory_limit=limit) as (con, month):
        yield from store.iter_snapshot(
            con,
            month,
            subscriber_ids=subscriber_ids,
            rows_per_chunk=rows_per_chunk,
            ordered=ordered,
        )
