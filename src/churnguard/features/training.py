"""Training sets: several monthly snapshots stacked, each with its label."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ..errors import InputError, StateError
from .context import parse_month
from .labels import label_expr, label_lag_months, labeled_as_ofs
from .registry import feature_columns

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["training_frame"]

log = logging.getLogger(__name__)

Target = Literal["voluntary", "value"]


def training_frame(
    settings: Settings,
    *,
    as_ofs: Sequence[date | str],
    target: Target = "voluntary",
) -> pd.DataFrame:
    """Features, ``label`` and ``as_of`` for each snapshot month, exclusions applied.

    Snapshots missing from the warehouse (or built by an older catalog) are
    built first on DuckDB. Rows are ordered by ``as_of`` then ``subscriber_id``.

    Parameters
    ----------
    settings
        Workspace settings; ``settings.labels`` defines the labels.
    as_ofs
        Snapshot months; each needs its labels known (:func:`labeled_as_ofs`).
    target
        ``"voluntary"`` (churn) or ``"value"`` (ARPU decline).

    Raises
    ------
    InputError
        No months, or an unknown target.
    StateError
        A month whose labels are not known yet.
    """
    from . import engines, store
    from .snapshot import build_snapshot

    if target not in ("voluntary", "value"):
        raise InputError(f"unknown target '{target}'; use voluntary or value")
    months = sorted({parse_month(m) for m in as_ofs})
    if not months:
        raise InputError("no snapshot months given; pass at least one as-of month")
    known = set(labeled_as_ofs(settings, date.max.replace(day=1)))
    unknown = [m for m in months if m not in known]
    if unknown:
        raise StateError(
            f"labels of {', '.join(f'{m:%Y-%m}' for m in unknown)} are not known yet: each "
            f"snapshot needs {label_lag_months(settings.labels)} months of data after it; "
            "pick earlier months"
        )
    con = engines.open_warehouse(settings, read_only=True)
    try:
        missing = [m for m in months if not store.has_snapshot(con, m)]
    finally:
        con.disconnect()
    for m in missing:
        log.info("building missing snapshot %s", f"{m:%Y-%m}")
        build_snapshot(settings, as_of=m)

    columns = feature_columns()
    frames = []
    con = engines.open_warehouse(settings, read_only=True)
    try:
        snaps = con.table(store.SNAPSHOT_TABLE)
        for m in months:
            snap = snaps.filter(snaps.as_of == m)
            lab = label_expr(con, as_of=m, labels=settings.labels)
            lab = lab.filter(~lab.excluded)
            joined = snap.join(lab, "subscriber_id").select(
                snap.as_of,
                snap.subscriber_id,
                *[snap[c] for c in columns],
                label=lab[f"label_{target}"],
            )
            frames.append(con.execute(joined.order_by("subscriber_id")))
    finally:
        con.disconnect()
    df = pd.concat(frames, ignore_index=True)
    df["as_of"] = pd.to_datetime(df["as_of"]).dt.date
    df["label"] = df["label"].astype("int64")
    return df
