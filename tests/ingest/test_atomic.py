"""A batch is all or nothing: a child process really SIGKILLed mid-load changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from churnguard.config import Settings
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, USAGE, batch

CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import date
    from pathlib import Path
    from churnguard.config import load_settings
    from churnguard.ingest import ingest

    source, workspace, pause_at, marker = sys.argv[1:5]

    def on_progress(event):
        if event == pause_at:
            Path(marker).write_text(event)
            time.sleep(120)

    ingest(Path(source), settings=load_settings(workspace), as_of=date(2024, 6, 1),
           on_progress=on_progress)
    """
)


def _snapshot(settings: Settings) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables ORDER BY 1"
            ).fetchall()
        ]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}
    finally:
        con.close()


def _second_batch(tmp_path: Path) -> Path:
    subs = [*SUBSCRIBERS, ["S4", "13600000000", "赵六", "tv", "2024-01-01", "20", "33"]]
    usage = [
        USAGE[0],
        ["S1", "2024-02-01", "999", "2100", "28"],  # update
        ["S4", "2024-03-01", "1", "1", "1"],  # new
        ["S9", "2024-03-01", "1", "1", "1"],  # quarantined
    ]
    return batch(tmp_path / "second", subscribers=subs, usage=usage)


def _kill_child_at(source: Path, settings: Settings, event: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / f"marker-{event.replace(' ', '-')}"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(source), str(settings.workspace), event, str(marker)]
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, f"child ended before reaching {event!r}"
            assert time.monotonic() < deadline, f"child never reached {event!r}"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.parametrize(
    "event", ["validated subscribers", "loaded subscribers", "loaded usage", "committing"]
)
def test_sigkill_inside_the_transaction_leaves_no_trace(
    clean_batch: Path, tmp_path: Path, workspace: Settings, event: str
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    before = _snapshot(workspace)
    second = _second_batch(tmp_path)
    _kill_child_at(second, workspace, event, tmp_path)
    assert _snapshot(workspace) == before
    # A re-run then loads the batch exactly once.
    report = ingest(second, settings=workspace, as_of=AS_OF)
    u, s = report.tables["usage"], report.tables["subscribers"]
    assert (u.loaded, u.updated, u.unchanged, u.quarantined) == (1, 1, 0, 1)
    assert (s.loaded, s.unchanged) == (1, 3)
    after = _snapshot(workspace)
    assert len(after["usage"]) == 5 and len(after["quarantine"]) == 1
    assert len(after["ingest_batches"]) == 2


@pytest.mark.slow
def test_commit_not_seen_by_the_caller_is_idempotent(
    clean_batch: Path, tmp_path: Path, workspace: Settings
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    second = _second_batch(tmp_path)
    _kill_child_at(second, workspace, "committed", tmp_path)
    committed = _snapshot(workspace)
    assert len(committed["ingest_batches"]) == 2  # the batch did commit
    report = ingest(second, settings=workspace, as_of=AS_OF)
    for t in report.tables.values():
        assert (t.loaded, t.updated, t.new_quarantine_entries) == (0, 0, 0)
    after = _snapshot(workspace)
    assert {k: v for k, v in after.items() if k != "ingest_batches"} == {
        k: v for k, v in committed.items() if k != "ingest_batches"
    }
    assert len(after["ingest_batches"]) == 3


def test_error_inside_the_transaction_rolls_back(
    clean_batch: Path, tmp_path: Path, workspace: Settings
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    before = _snapshot(workspace)

    def fail(event: str) -> None:
        if event == "loaded usage":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        ingest(_second_batch(tmp_path), settings=workspace, as_of=AS_OF, on_progress=fail)
    assert _snapshot(workspace) == before
