"""``step``: move a simulated world one month forward with retention treatments applied.

A campaign planned on the last simulated month ``M`` contacts customers during
``M+1``: each treatment multiplies the subscriber's pending probability of
voluntary churn by the true response to that offer (``truth/offer_response``),
the outcome is re-drawn with the same random number, and month ``M+1`` is lived
and written as a delta batch of contract tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..contract import TABLES
from ..errors import InputError
from .catalog import OFFER_TYPES
from .dynamics import advance_month, apply_treatments
from .regions import make_timeline
from .runner import GROUP_EVENTS_FILE, MONTHLY_TABLES, TRUTH_DIR, write_batch
from .snapshots import (
    offer_matrix,
    offer_response_table,
    plans_table,
    subscribers_table,
    traits_table,
)
from .winback import WINBACK_OFFER_TYPES, apply_returns
from .world import World, month_day
from .writers import TableSink

__all__ = ["StepSummary", "step"]

log = logging.getLogger(__name__)

RETURNED_FILE = "winback_returned.parquet"
WINBACK_LOG_FILE = "winback_log.parquet"


@dataclass(frozen=True)
class StepSummary:
    """What one step did."""

    out: Path
    month: str  # the month simulated, YYYY-MM
    treated: int
    saved: int  # treated subscribers who would have churned and now stay
    pushed: int  # treated subscribers who churn only because of the contact
    voluntary_churn_untreated: float  # share of last month's base, without treatments
    voluntary_churn: float  # the same with treatments
    rows: dict[str, int]
    winback_treated: int = 0  # churned customers given a win-back offer
    returned: int = 0  # churned customers who came back this month (treated or not)
    returned_treated: int = 0  # of the treated, those who came back
    returned_incremental: int = 0  # true returns the offers caused (returned only thanks to it)

    def as_dict(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "month": self.month,
            "treated": self.treated,
            "saved": self.saved,
            "pushed": self.pushed,
            "voluntary_churn_untreated": self.voluntary_churn_untreated,
            "voluntary_churn": self.voluntary_churn,
            "rows": dict(self.rows),
            "winback_treated": self.winback_treated,
            "returned": self.returned,
            "returned_treated": self.returned_treated,
            "returned_incremental": self.returned_incremental,
        }


def _resolve_treatments(
    w: World, treatments: pd.DataFrame | None, *, offer_types: tuple[str, ...] = OFFER_TYPES
) -> pd.DataFrame | None:
    if treatments is None or len(treatments) == 0:
        return None
    missing = {"subscriber_id", "offer_type"} - set(treatments.columns)
    if missing:
        raise InputError(
            f"treatments lack column(s) {', '.join(sorted(missing))}; "
            "expected subscriber_id, offer_type"
        )
    sid = treatments["subscriber_id"].astype(str)
    ok_id = sid.str.fullmatch(r"S\d{8}")
    idx = pd.to_numeric(sid.str.slice(1).where(ok_id), errors="coerce") - 1
    known = ok_id & idx.between(0, w.size - 1)
    if not known.all():
        bad = sid[~known].head(3).tolist()
        raise InputError(
            f"{int((~known).sum())} treatment row(s) name subscribers this world does not have "
            f"(e.g. {', '.join(bad)}); use subscriber_id values from subscribers"
        )
    offer = treatments["offer_type"].astype(str)
    unknown = sorted(set(offer) - set(offer_types))
    if unknown:
        raise InputError(
            f"unknown offer type(s) {', '.join(unknown)}; use one of {', '.join(offer_types)}"
        )
    frame = pd.DataFrame(
        {
            "subscriber_index": idx.astype(np.int64).to_numpy(),
            "offer_code": offer.map({o: i for i, o in enumerate(offer_types)}).to_numpy(np.int64),
        }
    )
    # One contact per subscriber and month: the first listed offer counts.
    return frame.drop_duplicates("subscriber_index", keep="first").reset_index(drop=True)


def step(
    out_dir: Path,
    *,
    treatments: pd.DataFrame | None,
    out: Path,
    winback: pd.DataFrame | None = None,
) -> StepSummary:
    """Advance the world saved in ``out_dir`` by one month.

    Parameters
    ----------
    out_dir
        Folder written by :func:`churnguard.simulate.simulate` (its ``truth/`` holds the world).
    treatments
        Columns ``subscriber_id, offer_type``; applied in the month being simulated.
        ``None`` or empty: no campaign.
    winback
        Columns ``subscriber_id, offer_type`` of churned customers given a win-back
        offer (one of :data:`~churnguard.simulate.winback.WINBACK_OFFER_TYPES`).
        Given (even empty), churned customers come back this month with a small
        probability of their own, which the offer multiplies by the true response
        (see :mod:`churnguard.simulate.winback`); a returner opens a new
        subscription with the same ID number (and often the same number).
        ``None``: nobody comes back, as in :func:`~churnguard.simulate.simulate`'s
        history, so an untreated step continues exactly like a longer simulation.
    out
        Folder for the delta batch: changed/new subscribers rows and the new month's
        rows of every other contract table (same format as the original simulation).

    The truth under ``out_dir/truth`` is updated: the last month's outcomes reflect
    the treatments, the new month is appended, and ``treatment_log.parquet`` records
    each treated subscriber's probability and outcome with and without the contact;
    ``winback_log.parquet`` does the same for win-back offers and
    ``winback_returned.parquet`` lists every return (old and new subscriber id).
    """
    out_dir = Path(out_dir)
    out = Path(out)
    if out.resolve() == out_dir.resolve():
        raise InputError(
            "--out must be another folder than the simulated world's, e.g. OUT_DIR/step-1"
        )
    truth_dir = out_dir / TRUTH_DIR
    w = World.load(truth_dir)
    plan = _resolve_treatments(w, treatments)
    wb_plan = _resolve_treatments(w, winback, offer_types=WINBACK_OFFER_TYPES)
    returns_on = winback is not None
    multipliers = offer_matrix(w)
    pending_before = w.pend_vol.copy()
    log_frame = apply_treatments(w, plan, multipliers)
    t = w.t
    prev_month = int(month_day(w.start, t - 1))

    # Rewrite last month's truth outcomes with the treated ones.
    truth_path = truth_dir / "churn_probability.parquet"
    truth = pq.read_table(truth_path)
    month_col = truth.column("month").cast(pa.int32()).to_numpy()
    last = month_col == prev_month
    sid_last = truth.column("subscriber_id").to_numpy(zero_copy_only=False)[last]
    last_idx = np.char.lstrip(sid_last.astype(str), "S").astype(np.int64) - 1
    churned = truth.column("churned_voluntary").to_numpy(zero_copy_only=False).copy()
    churned[np.flatnonzero(last)] = w.pend_vol[last_idx]

    fmt = cast(Literal["parquet", "csv"], w.fmt)
    encoding = cast(Literal["utf-8", "gbk"], w.encoding)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:  # a delta batch holds exactly this step's files
        for ext in ("parquet", "csv"):
            (out / f"{name}.{ext}").unlink(missing_ok=True)
    returned_path = truth_dir / RETURNED_FILE
    returned_before = pq.read_table(returned_path) if returned_path.exists() else None
    wb_log, returns = apply_returns(
        w,
        wb_plan,
        returned_before=returned_before,
        first_day=int(month_day(w.start, t)),
        last_day=int(month_day(w.start, t + 1)) - 1,
        enabled=returns_on,
    )
    result = advance_month(w, timeline=make_timeline(w.seed))
    sinks = {name: TableSink(out, name, fmt=fmt, encoding=encoding) for name in TABLES}
    try:
        for name in MONTHLY_TABLES:
            write_batch(sinks[name], result.tables[name])
        touched = np.flatnonzero(w.touched_month == t).astype(np.int64)
        end_day = int(month_day(w.start, t + 1))
        write_batch(sinks["subscribers"], subscribers_table(w, touched, reference_day=end_day))
        write_batch(sinks["plans"], plans_table())
    finally:
        for sink in sinks.values():
            sink.close()

    new_truth = pa.concat_tables(
        [
            truth.set_column(
                truth.schema.get_field_index("churned_voluntary"),
                "churned_voluntary",
                pa.array(churned),
            ),
            result.truth,
        ]
    )
    pq.write_table(new_truth, truth_path, compression="zstd")
    multipliers = offer_matrix(w)
    pq.write_table(
        offer_response_table(w, multipliers),
        truth_dir / "offer_response.parquet",
        compression="zstd",
    )
    pq.write_table(traits_table(w), truth_dir / "traits.parquet", compression="zstd")
    _append_log(truth_dir, log_frame, month_day_value=prev_month)
    _append_returns(
        truth_dir, wb_log, returns, returned_before, month_day_value=int(month_day(w.start, t))
    )
    events_path = truth_dir / GROUP_EVENTS_FILE
    pq.write_table(pa.concat_tables([pq.read_table(events_path), result.group_events]), events_path)
    w.save(truth_dir)

    n_base = int(last.sum())
    untreated_rate = float(pending_before[last_idx].mean()) if n_base else 0.0
    treated_rate = float(churned[last].mean()) if n_base else 0.0
    saved = (
        int((log_frame["churned_untreated"] & ~log_frame["churned_treated"]).sum())
        if len(log_frame)
        else 0
    )
    pushed = (
        int((~log_frame["churned_untreated"] & log_frame["churned_treated"]).sum())
        if len(log_frame)
        else 0
    )
    month_str = str(np.datetime64(int(month_day(w.start, t)), "D").astype("datetime64[M]"))
    log.info(
        "stepped to %s: %d treated, %d saved, %d pushed", month_str, len(log_frame), saved, pushed
    )
    return StepSummary(
        out=out,
        month=month_str,
        treated=len(log_frame),
        saved=saved,
        pushed=pushed,
        voluntary_churn_untreated=untreated_rate,
        voluntary_churn=treated_rate,
        rows={name: sink.rows for name, sink in sinks.items()},
        winback_treated=len(wb_log),
        returned=returns.num_rows,
        returned_treated=int(wb_log["returned_treated"].sum()) if len(wb_log) else 0,
        returned_incremental=(
            int((wb_log["returned_treated"] & ~wb_log["returned_untreated"]).sum())
            if len(wb_log)
            else 0
        ),
    )


def _append_log(
    truth_dir: Path,
    frame: pd.DataFrame,
    *,
    month_day_value: int,
    name: str = "treatment_log.parquet",
    outcome: str = "churned",
) -> None:
    """Append treated subscribers' probability and outcome with and without the offer."""
    path = truth_dir / name
    idx = frame["subscriber_index"].to_numpy(np.int64)
    from .identities import subscriber_ids

    table = pa.table(
        {
            "subscriber_id": subscriber_ids(idx),
            "month": pa.array(
                np.full(len(frame), month_day_value, dtype=np.int32), type=pa.date32()
            ),
            "offer_type": pa.array(frame["offer_type"].astype(str).to_numpy(), type=pa.string()),
            "p_untreated": pa.array(frame["p_untreated"].to_numpy(np.float64)),
            "p_treated": pa.array(frame["p_treated"].to_numpy(np.float64)),
            f"{outcome}_untreated": pa.array(frame[f"{outcome}_untreated"].to_numpy(bool)),
            f"{outcome}_treated": pa.array(frame[f"{outcome}_treated"].to_numpy(bool)),
        }
    )
    if path.exists():
        table = pa.concat_tables([pq.read_table(path), table])
    pq.write_table(table, path)


def _append_returns(
    truth_dir: Path,
    frame: pd.DataFrame,
    returns: pa.Table,
    returned_before: pa.Table | None,
    *,
    month_day_value: int,
) -> None:
    """Record this month's returns and the win-back treatments' true effect."""
    from .identities import subscriber_ids

    old = returns.column("subscriber_index").to_numpy()
    new = returns.column("new_index").to_numpy()
    table = returns.append_column("subscriber_id", subscriber_ids(old.astype(np.int64)))
    table = table.append_column("new_subscriber_id", subscriber_ids(new.astype(np.int64)))
    table = table.set_column(
        table.schema.get_field_index("month"),
        "month",
        pa.array(np.full(len(old), month_day_value, dtype=np.int32), type=pa.date32()),
    )
    if returned_before is not None:
        table = pa.concat_tables([returned_before, table])
    pq.write_table(table, truth_dir / RETURNED_FILE)
    if len(frame):
        _append_log(
            truth_dir,
            frame,
            month_day_value=month_day_value,
            name=WINBACK_LOG_FILE,
            outcome="returned",
        )
