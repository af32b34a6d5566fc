"""Exact duplicates (first copy loads) and conflicting duplicates (all quarantined)."""

from __future__ import annotations

from pathlib import Path

from churnguard.config import Settings
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, batch, quarantined, query

HEAD = ["subscriber_id", "month", "voice_minutes"]


def test_exact_copy_keeps_first(tmp_path: Path, workspace: Settings) -> None:
    usage = [
        HEAD,
        ["S1", "2024-01-01", "5"],
        ["S2", "2024-01-01", "6"],
        ["S1", "2024-01-01", "5"],
        ["S1", "2024-01-01", "5"],
    ]
    report = ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace, as_of=AS_OF
    )
    assert quarantined(workspace, "usage") == {3: ["duplicate"], 4: ["duplicate"]}
    assert report.tables["usage"].loaded == 2
    details = dict(query(workspace, "SELECT source_row, detail FROM quarantine"))
    assert details == {3: "duplicate of row 1", 4: "duplicate of row 1"}


def test_same_key_other_values_quarantines_all(tmp_path: Path, workspace: Settings) -> None:
    usage = [
        HEAD,
        ["S1", "2024-01-01", "5"],  # 1 conflicting
        ["S1", "2024-01", "7"],  # 2 conflicting: same month written differently
        ["S1", "2024-01-01", "5"],  # 3 conflicting and a duplicate of 1
        ["S2", "2024-01-01", "1"],  # 4 clean
        ["S3", "2024-01-01", "-1"],  # 5 out of range
        ["S3", "2024-01-01", "-1"],  # 6 out of range, duplicate
    ]
    report = ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace, as_of=AS_OF
    )
    assert quarantined(workspace, "usage") == {
        1: ["conflicting_duplicate"],
        2: ["conflicting_duplicate"],
        3: ["conflicting_duplicate", "duplicate"],
        5: ["out_of_range"],
        6: ["duplicate", "out_of_range"],
    }
    assert report.tables["usage"].to_dict()["reasons"] == {
        "conflicting_duplicate": 3,
        "duplicate": 2,
        "out_of_range": 2,
    }
    assert query(workspace, "SELECT subscriber_id FROM usage") == [("S2",)]


def test_duplicates_with_empty_key(tmp_path: Path, workspace: Settings) -> None:
    usage = [HEAD, ["", "2024-01-01", "5"], ["", "2024-01-01", "5"]]
    ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace, as_of=AS_OF
    )
    assert quarantined(workspace, "usage") == {
        1: ["missing_required"],
        2: ["duplicate", "missing_required"],
    }
