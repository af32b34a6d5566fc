"""Idempotent re-ingest, updates by natural key, new months appended, partial updates."""

from __future__ import annotations

from pathlib import Path

from churnguard.config import Settings
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, batch, query


def test_reingest_loads_nothing(clean_batch: Path, workspace: Settings) -> None:
    first = ingest(clean_batch, settings=workspace, as_of=AS_OF)
    again = ingest(clean_batch, settings=workspace, as_of=AS_OF)
    for name, t in again.tables.items():
        assert (t.loaded, t.updated, t.quarantined) == (0, 0, 0)
        assert t.unchanged == t.read == first.tables[name].read
    assert query(workspace, "SELECT count(*) FROM usage") == [(4,)]
    assert query(workspace, "SELECT count(*) FROM ingest_batches") == [(2,)]
    # Unchanged rows keep the batch that loaded them.
    assert query(workspace, "SELECT DISTINCT _batch_id FROM usage") == [(first.batch_id,)]


def test_corrected_row_replaces_and_new_month_appends(
    clean_batch: Path, tmp_path: Path, workspace: Settings
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    usage = [
        ["subscriber_id", "month", "voice_minutes", "data_mb", "active_days"],
        ["S1", "2024-01-01", "100", "2000", "30"],  # unchanged
        ["S1", "2024-02-01", "125", "2100", "28"],  # corrected
        ["S1", "2024-03-01", "90", "1800", "25"],  # new month
    ]
    second = ingest(batch(tmp_path / "b2", usage=usage), settings=workspace, as_of=AS_OF)
    u = second.tables["usage"]
    assert (u.read, u.loaded, u.updated, u.unchanged, u.quarantined) == (3, 1, 1, 1, 0)
    rows = query(
        workspace,
        "SELECT month, voice_minutes, _batch_id FROM usage "
        "WHERE subscriber_id = 'S1' ORDER BY month",
    )
    assert [(str(m), v) for m, v, _ in rows] == [
        ("2024-01-01", 100.0),
        ("2024-02-01", 125.0),
        ("2024-03-01", 90.0),
    ]
    assert rows[1][2] == rows[2][2] == second.batch_id != rows[0][2]
    assert query(workspace, "SELECT count(*) FROM usage") == [(5,)]


def test_subscriber_update_with_fewer_columns_keeps_the_rest(
    clean_batch: Path, tmp_path: Path, workspace: Settings
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    update = [
        [
            "subscriber_id",
            "service_type",
            "activation_date",
            "status",
            "churn_date",
            "churn_reason",
        ],
        ["S2", "broadband", "2023-02-01", "churned", "2024-05-20", "port_out"],
        ["S4", "mobile", "2024-05-01", "active", "", ""],
    ]
    report = ingest(batch(tmp_path / "b2", subscribers=update), settings=workspace, as_of=AS_OF)
    s = report.tables["subscribers"]
    assert (s.loaded, s.updated, s.unchanged) == (1, 1, 0)
    row = query(
        workspace,
        "SELECT msisdn, monthly_fee, status, churn_date, churn_reason "
        "FROM subscribers WHERE subscriber_id = 'S2'",
    )[0]
    assert (row[0], row[1], row[2], str(row[3]), row[4]) == (
        "13900001111",
        99.0,
        "churned",
        "2024-05-20",
        "port_out",
    )
    assert query(workspace, "SELECT count(*) FROM subscribers") == [(4,)]


def test_events_may_reference_subscribers_of_an_earlier_batch(
    clean_batch: Path, tmp_path: Path, workspace: Settings
) -> None:
    ingest(clean_batch, settings=workspace, as_of=AS_OF)
    surveys = [
        ["subscriber_id", "surveyed_at", "csat", "nps"],
        ["S3", "2024-02-03 10:00:00", "4", "9"],
        ["S99", "2024-02-03 10:00:00", "6", "11"],
    ]
    report = ingest(batch(tmp_path / "b2", surveys=surveys), settings=workspace, as_of=AS_OF)
    assert report.tables["surveys"].loaded == 1
    assert report.tables["surveys"].reasons == {"out_of_range": 1, "unknown_subscriber": 1}


def test_extra_columns_kept_and_added_later(tmp_path: Path, workspace: Settings) -> None:
    subs = [[*SUBSCRIBERS[0], "vip_level"], *[[*r, "gold"] for r in SUBSCRIBERS[1:]]]
    ingest(batch(tmp_path / "b1", subscribers=subs), settings=workspace, as_of=AS_OF)
    subs2 = [[*SUBSCRIBERS[0], "vip_level", "crm_segment"], [*SUBSCRIBERS[1], "gold", "A"]]
    report = ingest(batch(tmp_path / "b2", subscribers=subs2), settings=workspace, as_of=AS_OF)
    assert report.tables["subscribers"].updated == 1  # the new column changed the row
    assert query(
        workspace, "SELECT subscriber_id, vip_level, crm_segment FROM subscribers ORDER BY 1"
    ) == [("S1", "gold", "A"), ("S2", "gold", None), ("S3", "gold", None)]
