"""The world state: every subscriber ever seen, their hidden traits and current state.

One row per subscriber in aligned numpy arrays (index = position, id = ``S%08d``
of position + 1). The state is saved under ``OUT_DIR/truth/`` so that
:func:`churnguard.simulate.step` can continue the same world deterministically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NotFoundError, StateError
from .catalog import ACQUISITION_CHANNELS, BROADBAND, MOBILE, PLANS, REGIONS, TV, plan_arrays
from .identities import make_identities
from .regions import make_timeline

__all__ = ["ACTIVE", "CHURNED", "SILENT", "World", "add_subscribers", "month_day"]

ACTIVE, SILENT, CHURNED = 0, 1, 2
STATE_FILE = "world_state.parquet"
PEOPLE_FILE = "world_people.parquet"
GROUPS_FILE = "world_groups.parquet"
META_FILE = "world_meta.json"


def month_day(start: date, t: int | npt.NDArray[np.int64]) -> Any:
    """Days since 1970-01-01 of the first day of month ``t`` counted from ``start``."""
    base = (start.year - 1970) * 12 + start.month - 1
    return (
        np.asarray(base + np.asarray(t)).astype("datetime64[M]").astype("datetime64[D]")
    ).astype(np.int64)


def _f32(n: int, value: float = 0.0) -> npt.NDArray[np.float32]:
    return np.full(n, value, dtype=np.float32)


@dataclass
class World:
    """All subscribers' traits and state; arrays grow as customers join.

    Month indices (``t``, ``*_month``) count from ``start`` (0 = first simulated month);
    days are days since 1970-01-01.
    """

    seed: int
    start: date
    t: int  # next month to simulate
    fmt: str
    encoding: str
    next_complaint: int = 1
    # a chunk of a larger world (see simulate(chunk_size=...)): world index 0 is global
    # index ``index_offset``; phone numbers are keyed by ``id_seed`` (the whole world's seed)
    index_offset: int = 0
    id_seed: int | None = None
    mix: tuple[float, float, float] = (0.7, 0.2, 0.1)  # mobile, broadband, tv of new customers
    # identity and contract
    service: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    prepaid: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    region: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    group: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    activation_day: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    activation_month: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    contract_end_day: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    contract_end_month: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    plan: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    birth_day: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    male: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    acquisition: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    opt_out: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    msisdn_value: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    # hidden traits
    price_sens: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    quality_sens: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    loyalty: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    usage_level: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    pay_risk: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    cell_bad: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    second_sim: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    value_churner: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    sleeping_dog: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    # dynamic state
    state: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    churn_day: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    churn_reason: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    silent_since: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    intent: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    use_1: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))  # usage index t-1
    use_2: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))  # t-2
    use_3: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))  # t-3
    compl_1: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    compl_2: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    unpaid: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    arrears: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    last_csat: npt.NDArray[np.float32] = field(default_factory=lambda: _f32(0))
    csat_month: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    downgrade_month: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    touched_month: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    # decisions drawn at the end of month t-1, applied in month t
    pend_vol: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    pend_u: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    pend_p: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    pend_silent: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    pend_kind: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    pend_other: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    # groups (VPMN): region and whether the group is deciding to leave this month
    group_region: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, np.int16))
    # personal data, aligned with the arrays above
    people: pa.Table | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def size(self) -> int:
        return len(self.service)

    # ---- persistence -------------------------------------------------------------
    def _array_fields(self) -> list[str]:
        return [
            f.name
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray) and f.name != "group_region"
        ]

    def save(self, truth_dir: Path) -> None:
        """Write the state, personal data, groups and RNG state under ``truth_dir``."""
        truth_dir.mkdir(parents=True, exist_ok=True)
        cols = {name: pa.array(getattr(self, name)) for name in self._array_fields()}
        pq.write_table(pa.table(cols), truth_dir / STATE_FILE)
        assert self.people is not None
        pq.write_table(self.people, truth_dir / PEOPLE_FILE)
        pq.write_table(
            pa.table({"group_region": pa.array(self.group_region)}), truth_dir / GROUPS_FILE
        )
        meta = {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "t": self.t,
            "fmt": self.fmt,
            "encoding": self.encoding,
            "next_complaint": self.next_complaint,
            "index_offset": self.index_offset,
            "id_seed": self.id_seed,
            "mix": list(self.mix),
            "rng": self.rng.bit_generator.state,
        }
        (truth_dir / META_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))

    @classmethod
    def load(cls, truth_dir: Path) -> World:
        """Read a world saved by :meth:`save`."""
        meta_path = truth_dir / META_FILE
        if not meta_path.exists():
            raise NotFoundError(
                f"no simulated world under {truth_dir}: run 'churnguard simulate' into its "
                "parent folder first"
            )
        try:
            meta = json.loads(meta_path.read_text())
            state = pq.read_table(truth_dir / STATE_FILE)
            people = pq.read_table(truth_dir / PEOPLE_FILE)
            groups = pq.read_table(truth_dir / GROUPS_FILE)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise StateError(
                f"the world state under {truth_dir} is unreadable ({exc}); re-run simulate"
            ) from exc
        rng = np.random.default_rng()
        rng.bit_generator.state = meta["rng"]
        w = cls(
            seed=int(meta["seed"]),
            start=date.fromisoformat(meta["start"]),
            t=int(meta["t"]),
            fmt=str(meta["fmt"]),
            encoding=str(meta["encoding"]),
            next_complaint=int(meta["next_complaint"]),
            index_offset=int(meta.get("index_offset", 0)),
            id_seed=None if meta.get("id_seed") is None else int(meta["id_seed"]),
            mix=(float(meta["mix"][0]), float(meta["mix"][1]), float(meta["mix"][2])),
            people=people,
            rng=rng,
        )
        for name in w._array_fields():
            setattr(w, name, state.column(name).to_numpy().copy())
        w.group_region = groups.column("group_region").to_numpy().copy()
        return w


_PLAN_WEIGHTS = {
    (MOBILE, False): (0.25, 0.3, 0.25, 0.12, 0.08),
    (MOBILE, True): (0.4, 0.35, 0.25),
    (BROADBAND, False): (0.2, 0.4, 0.25, 0.15),
    (TV, False): (0.5, 0.3, 0.2),
}


def _plan_codes(
    rng: np.random.Generator, service: npt.NDArray[np.int8], prepaid: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int16]:
    out = np.zeros(len(service), dtype=np.int16)
    for (svc, pre), weights in _PLAN_WEIGHTS.items():
        codes = [
            i
            for i, p in enumerate(PLANS)
            if p.service == svc and (p.prepaid == pre or svc != MOBILE)
        ]
        sel = np.flatnonzero((service == svc) & ((prepaid == pre) | (svc != MOBILE)))
        w = np.asarray(weights)
        out[sel] = np.asarray(codes, dtype=np.int16)[
            rng.choice(len(codes), size=sel.size, p=w / w.sum())
        ]
    return out


def add_subscribers(
    w: World,
    n: int,
    *,
    mix: tuple[float, float, float],
    first_day: int,
    last_day: int,
    initial: bool,
) -> npt.NDArray[np.int64]:
    """Append ``n`` new subscribers activated between ``first_day`` and ``last_day``.

    ``initial`` marks the base that exists when the simulation starts: it gets
    long tenures, VPMN groups and contracts at every stage. Returns the new indices.
    """
    rng = w.rng
    pa_ = plan_arrays()
    svc = rng.choice(3, size=n, p=np.asarray(mix)).astype(np.int8)
    prepaid = np.where(
        svc == MOBILE, rng.random(n) < 0.35, np.where(svc == TV, rng.random(n) < 0.5, False)
    )
    region_w = np.array([r.weight for r in REGIONS])
    region = rng.choice(len(REGIONS), size=n, p=region_w / region_w.sum()).astype(np.int16)
    if initial:  # tenures of the existing base: roughly exponential, mean ~40 months
        back = np.minimum(np.floor(rng.exponential(1200.0, size=n)), 5400)
        act = (last_day - back).astype(np.int32)
    else:
        act = rng.integers(first_day, last_day + 1, size=n).astype(np.int32)
    plan = _plan_codes(rng, svc, prepaid)
    # VPMN groups: among postpaid mobile lines of the initial base, companies of 5-40 lines.
    group = np.full(n, -1, dtype=np.int32)
    if initial:
        cand = np.flatnonzero((svc == MOBILE) & ~prepaid & (rng.random(n) < 0.25))
        sizes = np.minimum(5 + rng.geometric(1 / 10, size=max(cand.size // 5, 1)), 40)
        bounds = np.cumsum(sizes)
        k = int(np.searchsorted(bounds, cand.size))
        gid = np.searchsorted(bounds[: k + 1], np.arange(cand.size), side="right")
        base = len(w.group_region)
        n_groups = int(gid.max()) + 1 if cand.size else 0
        g_region = rng.choice(len(REGIONS), size=n_groups, p=region_w / region_w.sum()).astype(
            np.int16
        )
        w.group_region = np.concatenate([w.group_region, g_region])
        group[cand] = base + gid
        region[cand] = g_region[gid]
    # Contracts: postpaid mobile and broadband; initial contracts end anywhere -6..+24 months.
    has_contract = (
        (~prepaid) & (svc != TV) & (rng.random(n) < np.where(svc == BROADBAND, 0.7, 0.55))
    )
    term = np.where(rng.random(n) < 0.5, 12, 24)
    act_month = act.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    start_month = np.datetime64(w.start, "M").astype(np.int64)
    end_month = np.where(
        initial,
        start_month + rng.integers(-6, 25, size=n),
        act_month + term,
    )
    end_month = np.maximum(end_month, act_month + 1)
    end_day = (end_month.astype("datetime64[M]").astype("datetime64[D]")).astype(
        np.int64
    ) + np.minimum(
        (act.astype("datetime64[D]") - act.astype("datetime64[D]").astype("datetime64[M]")).astype(
            np.int64
        ),
        27,
    )
    contract_end_day = np.where(has_contract, end_day, -1).astype(np.int32)
    contract_end_month = np.where(has_contract, end_month - start_month, -10_000).astype(np.int32)
    age_target = np.clip(rng.normal(38, 13, size=n), 18, 85).astype(np.int64)
    prefixes = np.array([int(r.id_prefix) for r in REGIONS], dtype=np.int64)
    home = np.where(rng.random(n) < 0.7, region, rng.integers(0, len(REGIONS), size=n))
    people = make_identities(
        rng,
        age=age_target,
        reference_day=int(last_day),
        home_prefix=prefixes[home],
        first_index=w.index_offset + w.size,
        seed=w.seed if w.id_seed is None else w.id_seed,
    )
    acq_p = np.array([0.35, 0.25, 0.2, 0.1, 0.1, 0.0])
    acquisition = rng.choice(len(ACQUISITION_CHANNELS), size=n, p=acq_p / acq_p.sum()).astype(
        np.int8
    )
    acquisition[group >= 0] = ACQUISITION_CHANNELS.index("集团拓展")
    fee = pa_.fee[plan]
    tenure_years = np.maximum(first_day - act, 0) / 365.25
    second = (svc == MOBILE) & ~prepaid & (rng.random(n) < np.where(fee >= 128, 0.25, 0.04))
    pay_risk = np.where(rng.random(n) < 0.05, rng.uniform(0.15, 0.45, n), rng.beta(1.0, 60.0, n))
    new = {
        "service": svc,
        "prepaid": prepaid.astype(np.bool_),
        "region": region,
        "group": group,
        "activation_day": act,
        "activation_month": (act_month - start_month).astype(np.int32),
        "contract_end_day": contract_end_day,
        "contract_end_month": contract_end_month,
        "plan": plan,
        "birth_day": people.birth_day,
        "male": people.male,
        "acquisition": acquisition,
        "opt_out": rng.random(n) < 0.08,
        "msisdn_value": people.msisdn_value,
        "price_sens": rng.beta(2.0, 3.0, n).astype(np.float32),
        "quality_sens": rng.beta(2.0, 3.0, n).astype(np.float32),
        "loyalty": (rng.normal(0, 1, n) + 0.25 * np.log1p(tenure_years)).astype(np.float32),
        "usage_level": rng.lognormal(0.0, 0.45, n).astype(np.float32),
        "pay_risk": pay_risk.astype(np.float32),
        "cell_bad": np.clip(rng.beta(1.5, 6.0, n) + 0.5 * _region_quality(w, region), 0, 1).astype(
            np.float32
        ),
        "second_sim": second,
        "value_churner": rng.random(n) < 0.06,
        "sleeping_dog": rng.random(n) < 0.07,
        "state": np.full(n, ACTIVE, np.int8),
        "churn_day": np.full(n, -1, np.int32),
        "churn_reason": np.full(n, -1, np.int8),
        "silent_since": np.full(n, -1, np.int32),
        "intent": np.zeros(n, np.float32),
        "use_1": _f32(n, np.nan),
        "use_2": _f32(n, np.nan),
        "use_3": _f32(n, np.nan),
        "compl_1": np.zeros(n, np.int8),
        "compl_2": np.zeros(n, np.int8),
        "unpaid": np.zeros(n, np.int8),
        "arrears": np.zeros(n, np.float64),
        "last_csat": _f32(n, np.nan),
        "csat_month": np.full(n, -10_000, np.int32),
        "downgrade_month": np.full(n, -10_000, np.int32),
        "touched_month": np.full(n, w.t, np.int32),
        "pend_vol": np.zeros(n, np.bool_),
        "pend_u": np.ones(n, np.float64),
        "pend_p": np.zeros(n, np.float64),
        "pend_silent": np.zeros(n, np.bool_),
        "pend_kind": np.full(n, -1, np.int8),
        "pend_other": np.full(n, -1, np.int8),
    }
    base = w.size
    for name, values in new.items():
        setattr(
            w,
            name,
            np.concatenate([getattr(w, name), np.asarray(values).astype(getattr(w, name).dtype)]),
        )
    batch = pa.table(
        {
            "msisdn": people.msisdn,
            "name": people.name,
            "id_number": people.id_number,
            "email": people.email,
        }
    )
    w.people = batch if w.people is None else pa.concat_tables([w.people, batch])
    return np.arange(base, base + n, dtype=np.int64)


def _region_quality(w: World, region: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    """Base coverage problem of each subscriber's region (0 good ... 1 poor)."""
    quality: npt.NDArray[np.float64] = make_timeline(w.seed).base_quality[region]
    return quality
