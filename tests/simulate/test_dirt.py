"""Injected defects are real, listed exactly once, and clean rows stay clean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnguard.contract import TABLES, ColumnType, RejectReason

from .conftest import Sim

DATE_TYPES = (ColumnType.DATE, ColumnType.MONTH, ColumnType.TIMESTAMP)


def _read(sim: Sim, name: str) -> pd.DataFrame:
    csv = sim.out / f"{name}.csv"
    if csv.exists():
        return pd.read_csv(csv, encoding="gbk", dtype=str, keep_default_na=False).replace("", None)
    df = pd.read_parquet(sim.out / f"{name}.parquet")
    return df


def _as_dates(values: pd.Series, ctype: ColumnType) -> pd.Series:
    fmt = "%Y-%m-%d %H:%M:%S" if ctype == ColumnType.TIMESTAMP else "%Y-%m-%d"
    if values.dtype == object and values.map(lambda v: isinstance(v, str)).any():
        return pd.to_datetime(values, format=fmt, errors="coerce")
    return pd.to_datetime(values)


def _defects(sim: Sim, name: str, known_ids: set[str]) -> pd.DataFrame:
    """Every defect found in the file by checking the contract, one row per (row, reason)."""
    schema = TABLES[name]
    df = _read(sim, name)
    found: list[pd.DataFrame] = []

    def add(mask: pd.Series | np.ndarray, reason: RejectReason) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool)) + 1
        found.append(pd.DataFrame({"row_number": rows, "reason": str(reason)}))

    add(df.astype(str).duplicated(keep="first"), RejectReason.DUPLICATE)
    for col in schema.columns:
        v = df[col.name]
        if col.required:
            add(v.isna(), RejectReason.MISSING_REQUIRED)
        if col.type in (ColumnType.INT, ColumnType.FLOAT):
            num = pd.to_numeric(v, errors="coerce")
            lo = -np.inf if col.minimum is None else col.minimum
            hi = np.inf if col.maximum is None else col.maximum
            add((num < lo) | (num > hi), RejectReason.OUT_OF_RANGE)
        if col.allowed:
            add(v.notna() & ~v.isin(col.allowed), RejectReason.BAD_VALUE)
        if col.type in DATE_TYPES:
            d = _as_dates(v, col.type)
            add(v.notna() & d.isna(), RejectReason.BAD_DATE)
            if col.type == ColumnType.MONTH:
                add(d.notna() & (d.dt.day != 1), RejectReason.BAD_DATE)
            add(d.dt.year >= 2090, RejectReason.FUTURE_DATE)
    if schema.references_subscribers:
        add(
            df.subscriber_id.notna() & ~df.subscriber_id.isin(known_ids),
            RejectReason.UNKNOWN_SUBSCRIBER,
        )
    if name == "subscribers":
        act = _as_dates(df.activation_date, ColumnType.DATE)
        churn = _as_dates(df.churn_date, ColumnType.DATE)
        add(churn < act, RejectReason.CHURN_BEFORE_ACTIVATION)
    return pd.concat(found, ignore_index=True)


@pytest.mark.parametrize("which", ["dirty_csv", "dirty_parquet"])
def test_manifest_matches_the_defects_in_the_files(
    which: str, request: pytest.FixtureRequest
) -> None:
    sim: Sim = request.getfixturevalue(which)
    manifest = pd.read_parquet(sim.out / "truth" / "dirt_manifest.parquet")
    assert list(manifest.columns) == ["table", "row_number", "reason", "detail"]
    assert set(manifest.reason) <= {str(r) for r in RejectReason}
    subs = _read(sim, "subscribers")
    known = set(subs.subscriber_id.dropna())
    expected = {
        RejectReason.DUPLICATE,
        RejectReason.OUT_OF_RANGE,
        RejectReason.BAD_VALUE,
        RejectReason.MISSING_REQUIRED,
        RejectReason.UNKNOWN_SUBSCRIBER,
        RejectReason.FUTURE_DATE,
        RejectReason.BAD_DATE,
    }
    assert {str(r) for r in expected} <= set(manifest.reason)
    for name in TABLES:
        m = manifest[manifest.table == name]
        n_rows = len(_read(sim, name))
        if n_rows >= 200:
            assert len(m) > 0, name
        assert m.row_number.is_unique, name  # one defect per row
        found = _defects(sim, name, known)
        # Every listed defect is really there (ignore defects the detector sees as a side effect).
        listed = set(zip(m.row_number, m.reason, strict=True))
        detected = set(zip(found.row_number, found.reason, strict=True))
        missing = listed - detected
        assert not missing, (name, sorted(missing)[:5])
        # Rows not in the manifest are clean.
        dirty_rows = set(m.row_number)
        extra = found[~found.row_number.isin(dirty_rows)]
        assert extra.empty, (name, extra.head())
        assert m.row_number.between(1, n_rows).all()


def test_dirty_rate_is_about_the_requested_share(dirty_parquet: Sim) -> None:
    manifest = pd.read_parquet(dirty_parquet.out / "truth" / "dirt_manifest.parquet")
    usage_rows = len(pd.read_parquet(dirty_parquet.out / "usage.parquet"))
    share = (manifest.table == "usage").sum() / usage_rows
    assert 0.035 < share < 0.065
    assert dirty_parquet.summary.dirt == manifest.reason.value_counts().to_dict()


def test_duplicates_are_later_copies_and_originals_stay_clean(dirty_csv: Sim) -> None:
    manifest = pd.read_parquet(dirty_csv.out / "truth" / "dirt_manifest.parquet")
    for name in ("usage", "interactions"):
        lines = (dirty_csv.out / f"{name}.csv").read_bytes().decode("gbk").splitlines()[1:]
        dups = manifest[(manifest.table == name) & (manifest.reason == "duplicate")].row_number
        assert len(dups) > 0
        for r in dups:
            assert lines[r - 1] == lines[r - 2]
        assert not set(dups - 1) & set(manifest[manifest.table == name].row_number)


def test_gbk_csv_is_really_gbk(dirty_csv: Sim) -> None:
    raw = (dirty_csv.out / "complaints.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "投诉" in raw.decode("gbk") or "信号" in raw.decode("gbk")
