"""The simulator's injected dirt is caught row by row; no clean row is lost."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest

from churnguard.config import Settings
from churnguard.contract import TABLES
from churnguard.ingest import ingest
from churnguard.simulate import simulate

from .batches import query


def _really_out_of_range(path: Path, table: str, rows: list[int]) -> set[int]:
    """Of the given 1-based rows, those with a value outside the contract's range."""
    frame = (
        pd.read_parquet(path)
        if path.suffix == ".parquet"
        else pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="gbk" if "gbk" in path.parent.name else "utf-8",
        )
    )
    out = set()
    for row in rows:
        rec = frame.iloc[row - 1]
        for col in TABLES[table].columns:
            if col.minimum is None and col.maximum is None:
                continue
            value = pd.to_numeric(pd.Series([rec[col.name]]), errors="coerce").iloc[0]
            if pd.isna(value):
                continue
            if (col.minimum is not None and value < col.minimum) or (
                col.maximum is not None and value > col.maximum
            ):
                out.add(row)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "encoding"), [("parquet", "utf-8"), ("csv", "gbk")])
def test_every_injected_defect_is_quarantined(
    tmp_path: Path,
    workspace: Settings,
    fmt: Literal["parquet", "csv"],
    encoding: Literal["utf-8", "gbk"],
) -> None:
    source = tmp_path / f"sim-{fmt}-{encoding}"
    simulate(
        source,
        subscribers=400,
        months=4,
        seed=11,
        start=date(2024, 1, 1),
        dirty_rate=0.04,
        fmt=fmt,
        encoding=encoding,
    )
    report = ingest(source, settings=workspace, as_of=date(2024, 4, 1))
    assert "truth/" in report.ignored_files

    manifest = pd.read_parquet(source / "truth" / "dirt_manifest.parquet")
    assert len(manifest) > 100
    quarantine = {
        (t, int(r)): (list(reasons), json.loads(str(raw)))  # type: ignore[call-overload]
        for t, r, reasons, raw in query(
            workspace, "SELECT table_name, source_row, reasons, raw FROM quarantine"
        )
    }
    # The simulator may mark as out_of_range a value that is inside the range
    # (e.g. a signal of -35 dBm for a maximum of -20): such a row is clean and loads.
    not_defects: set[tuple[str, int]] = set()
    for table, group in manifest[manifest.reason == "out_of_range"].groupby("table"):
        path = source / f"{table}.{fmt}"
        rows = [int(r) for r in group.row_number]
        really = _really_out_of_range(path, str(table), rows)
        not_defects |= {(str(table), r) for r in rows if r not in really}
    missed = []
    for rec in manifest.itertuples():
        key = (str(rec.table), int(rec.row_number))
        if key in not_defects:
            assert key not in quarantine
            continue
        if key not in quarantine or rec.reason not in quarantine[key][0]:
            missed.append((key, rec.reason, quarantine.get(key, ([], {}))[0]))
    assert missed == []

    # Rows quarantined without an injected defect are events of subscribers whose
    # own row lost its id (an injected missing_required): unknown to the batch.
    subs = (
        pd.read_parquet(source / "subscribers.parquet")
        if fmt == "parquet"
        else pd.read_csv(source / "subscribers.csv", dtype=str, encoding=encoding)
    )
    known = set(subs.subscriber_id.dropna())
    injected = {(str(t), int(r)) for t, r in zip(manifest.table, manifest.row_number, strict=True)}
    consequential = {k: v for k, v in quarantine.items() if k not in injected}
    for (_table, _row), (reasons, raw) in consequential.items():
        assert reasons == ["unknown_subscriber"]
        assert raw["subscriber_id"] not in known

    # Every other row loaded: nothing clean was lost.
    per_table = manifest.groupby("table").size().to_dict()
    for name, t in report.tables.items():
        defects = per_table.get(name, 0) - sum(1 for k in not_defects if k[0] == name)
        orphans = sum(1 for k in consequential if k[0] == name)
        assert t.quarantined == defects + orphans, name
        assert t.loaded == t.read - t.quarantined, name
        assert query(workspace, f'SELECT count(*) FROM "{name}"') == [(t.loaded,)]


@pytest.mark.slow
def test_reingest_of_simulated_batch_loads_nothing(tmp_path: Path, workspace: Settings) -> None:
    source = tmp_path / "sim"
    simulate(source, subscribers=200, months=3, seed=3, dirty_rate=0.02)
    first = ingest(source, settings=workspace, as_of=date(2024, 3, 1))
    entries = query(workspace, "SELECT count(*) FROM quarantine")
    second = ingest(source, settings=workspace, as_of=date(2024, 3, 1))
    assert sum(t.loaded + t.updated for t in second.tables.values()) == 0
    for name, t in second.tables.items():
        assert t.unchanged == first.tables[name].loaded
        assert t.quarantined == first.tables[name].quarantined
    assert query(workspace, "SELECT count(*) FROM quarantine") == entries
