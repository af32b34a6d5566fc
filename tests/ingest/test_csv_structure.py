"""Broken CSV lines are quarantined with their line; positions stay exact."""

from __future__ import annotations

from pathlib import Path

from churnguard.config import Settings
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, batch, query


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_malformed_lines_are_quarantined(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    _write(
        folder,
        "usage.csv",
        "subscriber_id,month,voice_minutes\n"
        "S1,2024-01-01,1\n"
        "S1,2024-02-01\n"  # too few fields
        "S1,2024-03-01,3\n"
        "S1,2024-04-01,4,extra\n",  # too many fields (last line: must not hide the file)
    )
    report = ingest(folder, settings=workspace, as_of=AS_OF)
    u = report.tables["usage"]
    assert (u.read, u.loaded, u.quarantined, u.reasons) == (4, 2, 2, {"bad_type": 2})
    rows = query(
        workspace, "SELECT source_row, source_line, detail, raw FROM quarantine ORDER BY source_row"
    )
    assert [(r[0], r[1]) for r in rows] == [(2, 3), (4, 5)]
    assert "MISSING COLUMNS" in str(rows[0][2]) and "TOO MANY COLUMNS" in str(rows[1][2])
    assert str(rows[1][3]) == '{"_line":"S1,2024-04-01,4,extra"}'
    # Good rows keep their true positions around the broken lines.
    assert query(workspace, "SELECT _source_row FROM usage ORDER BY 1") == [(1,), (3,)]


def test_values_spanning_lines(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    _write(
        folder,
        "complaints.csv",
        "complaint_id,subscriber_id,created_at,category,text\n"
        'C1,S1,2024-01-01 10:00:00,network,"no signal\nat home\nat all"\n'
        "C2,S1,2024-01-02 10:00:00,billing,ok\n"
        "C3,S1,2024-01-03 10:00:00,unknown,bad category\n",
    )
    report = ingest(folder, settings=workspace, as_of=AS_OF)
    assert report.tables["complaints"].loaded == 2
    assert query(workspace, "SELECT source_row, source_line FROM quarantine") == [(3, 6)]
    assert query(workspace, "SELECT text FROM complaints WHERE complaint_id = 'C1'") == [
        ("no signal\nat home\nat all",)
    ]


def test_semicolon_and_tab_separated(tmp_path: Path, workspace: Settings) -> None:
    folder = tmp_path / "b"
    _write(
        folder,
        "subscribers.csv",
        "subscriber_id;service_type;activation_date\nS1;mobile;2023-01-01\n",
    )
    _write(folder, "plans.tsv", "plan_id\tservice_type\tmonthly_fee\nP1\tmobile\t58\n")
    report = ingest(folder, settings=workspace, as_of=AS_OF)
    assert report.tables["subscribers"].loaded == 1 and report.tables["plans"].loaded == 1
