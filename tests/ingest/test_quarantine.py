"""The quarantine: kept whole, deduplicated on re-ingest, listed, shown masked, exported."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from churnguard.config import Settings
from churnguard.errors import InputError, NotFoundError
from churnguard.ingest import export_quarantine, ingest, quarantine_rows, quarantine_summary

from .batches import AS_OF, batch, query

SUBS = [
    ["subscriber_id", "msisdn", "name", "id_number", "email", "service_type", "activation_date"],
    ["S1", "13812345678", "张三", "110101199003071234", "zs@example.com", "mobile", "2023-01-01"],
    ["S2", "13900001111", "李四丰", "110101199003075678", "ls@example.com", "fax", "2023-01-01"],
]
USAGE = [
    ["subscriber_id", "month", "voice_minutes", "note"],
    ["S1", "2024-01-01", "-1", "a"],
    ["S9", "2024-01-01", "5", "b"],
    ["S1", "2024-02-01", "5", "c"],
]


@pytest.fixture
def dirty(tmp_path: Path, workspace: Settings) -> Path:
    folder = batch(tmp_path / "dirty", subscribers=SUBS, usage=USAGE)
    ingest(folder, settings=workspace, as_of=AS_OF)
    return folder


def test_reingest_does_not_duplicate_entries(dirty: Path, workspace: Settings) -> None:
    again = ingest(dirty, settings=workspace, as_of=AS_OF)
    assert again.tables["usage"].quarantined == 2
    assert again.tables["usage"].new_quarantine_entries == 0
    assert query(workspace, "SELECT count(*) FROM quarantine") == [(3,)]


def test_summary_counts(dirty: Path, workspace: Settings) -> None:
    counts = {(c.table, c.reason): c.rows for c in quarantine_summary(workspace)}
    assert counts == {
        ("subscribers", "bad_value"): 1,
        ("usage", "out_of_range"): 1,
        ("usage", "unknown_subscriber"): 1,
    }
    only = quarantine_summary(workspace, table="usage", reason="out_of_range")
    assert [(c.table, c.reason, c.rows) for c in only] == [("usage", "out_of_range", 1)]
    assert quarantine_summary(workspace, batch="no-such-batch") == []


def test_show_masks_personal_data(dirty: Path, workspace: Settings) -> None:
    (row,) = quarantine_rows(workspace, table="subscribers")
    assert row.reasons == ("bad_value",)
    assert row.values["msisdn"] == "139****1111"
    assert row.values["id_number"] == "110***********5678"
    assert row.values["name"] == "李**"
    assert row.values["email"] == "l***@example.com"
    assert row.values["service_type"] == "fax"
    assert (row.source_file, row.source_row, row.source_line) == ("subscribers.csv", 2, 3)


def test_show_masks_mapped_personal_columns(tmp_path: Path, workspace: Settings) -> None:
    subs = [
        ["subscriber_id", "shouji", "service_type", "activation_date"],
        ["S1", "13812345678", "tv", "2099-01-01"],
    ]
    (tmp_path / "m.yaml").write_text("columns:\n  subscribers:\n    shouji: msisdn\n")
    ingest(
        batch(tmp_path / "b", subscribers=subs),
        settings=workspace,
        mapping=tmp_path / "m.yaml",
        as_of=AS_OF,
    )
    (row,) = quarantine_rows(workspace)
    assert row.values["shouji"] == "138****5678"


def test_bad_filters(dirty: Path, workspace: Settings) -> None:
    with pytest.raises(InputError, match="not a contract table"):
        quarantine_summary(workspace, table="usages")
    with pytest.raises(InputError, match="not a reason code"):
        quarantine_rows(workspace, reason="ugly")


def test_no_warehouse_yet(workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match="nothing has been ingested"):
        quarantine_summary(workspace)


def test_export_fix_and_reingest(dirty: Path, tmp_path: Path, workspace: Settings) -> None:
    out = tmp_path / "fix" / "usage_fix.csv"
    assert export_quarantine(workspace, out, table="usage") == 2
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["subscriber_id"] for r in rows] == ["S1", "S9"]
    assert rows[0]["_reasons"] == "out_of_range" and rows[0]["note"] == "a"
    assert rows[1]["_source_row"] == "2"
    # The operator fixes the file and sends it back as usage.csv.
    rows[0]["voice_minutes"] = "1"
    rows[1]["subscriber_id"] = "S1"
    rows[1]["month"] = "2024-03-01"
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    with (fixed / "usage.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = ingest(fixed, settings=workspace, as_of=AS_OF)
    u = report.tables["usage"]
    assert (u.loaded, u.quarantined) == (2, 0)
    assert set(u.ignored_columns) == {"_reasons", "_detail", "_source_file", "_source_row"}
    assert query(workspace, "SELECT count(*) FROM usage") == [(3,)]


def test_export_needs_one_table(dirty: Path, tmp_path: Path, workspace: Settings) -> None:
    with pytest.raises(InputError, match="span tables subscribers, usage; pass --table"):
        export_quarantine(workspace, tmp_path / "q.csv")
    with pytest.raises(InputError, match="no quarantined rows match"):
        export_quarantine(workspace, tmp_path / "q.csv", table="billing")


def test_identical_file_elsewhere_is_the_same_rows(
    dirty: Path, tmp_path: Path, workspace: Settings
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(dirty, copy)
    ingest(copy, settings=workspace, as_of=AS_OF)
    assert query(workspace, "SELECT count(*) FROM quarantine") == [(3,)]
