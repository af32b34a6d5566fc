"""Every contract rule, as a SQL predicate, on hand-made rows with known defects."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnguard.config import Settings
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, batch, quarantined, query

SUB_HEADER = [
    "subscriber_id",
    "service_type",
    "activation_date",
    "age",
    "status",
    "churn_date",
    "marketing_opt_out",
]


def test_clean_batch_loads_every_row(clean_batch: Path, workspace: Settings) -> None:
    report = ingest(clean_batch, settings=workspace, as_of=AS_OF)
    assert report.tables["subscribers"].to_dict() | {"reasons": {}} == {
        "read": 3,
        "loaded": 3,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 0,
        "reasons": {},
        "new_quarantine_entries": 0,
        "extra_columns": [],
        "ignored_columns": [],
    }
    assert report.tables["usage"].loaded == 4
    rows = query(
        workspace,
        "SELECT subscriber_id, month, voice_minutes, active_days, "
        "calls_in FROM usage ORDER BY 1, 2",
    )
    assert [(r[0], str(r[1]), r[2], r[3], r[4]) for r in rows] == [
        ("S1", "2024-01-01", 100.0, 30, None),
        ("S1", "2024-02-01", 120.0, 28, None),
        ("S2", "2024-01-01", 50.0, 10, None),
        ("S3", "2024-01-01", 0.0, 0, None),
    ]
    # Every contract column exists, typed; bookkeeping columns record the batch.
    types = dict(
        query(
            workspace,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'usage'",
        )
    )
    assert types["month"] == "DATE" and types["active_days"] == "BIGINT"
    assert types["device_offline_days"] == "BIGINT" and types["_batch_id"] == "VARCHAR"
    assert query(workspace, "SELECT DISTINCT _batch_id FROM usage") == [(report.batch_id,)]


def test_each_reason_with_row_positions(tmp_path: Path, workspace: Settings) -> None:
    subs = [
        SUB_HEADER,
        ["S1", "mobile", "2023-01-05", "30", "active", "", "yes"],  # 1 clean
        ["S2", "satellite", "2023-01-05", "30", "active", "", ""],  # 2 bad_value
        ["S3", "mobile", "2023-02-30", "30", "active", "", ""],  # 3 bad_date
        ["S4", "mobile", "2023-01-05", "thirty", "active", "", ""],  # 4 bad_type
        ["S5", "mobile", "2023-01-05", "130", "active", "", ""],  # 5 out_of_range
        ["S6", "", "2023-01-05", "30", "active", "", ""],  # 6 missing_required
        ["S7", "tv", "2023-05-01", "30", "churned", "2023-04-01", "0"],  # 7 churn_before_act.
        ["S8", "tv", "2031-05-01", "30", "active", "", ""],  # 8 future activation
        ["S9", "tv", "2023-05-01", "-1", "unknown", "", "maybe"],  # 9 three reasons
        ["S10", " broadband ", "2023/05/01", "1e1", "active", "20240101", "是"],  # 10 clean
    ]
    usage = [
        ["subscriber_id", "month", "voice_minutes", "active_days"],
        ["S1", "2024-01-01", "10", "3"],  # 1 clean
        ["S1", "2024-02-15", "10", "3"],  # 2 bad_date: month not on the 1st
        ["S1", "2024-07-01", "10", "3"],  # 3 future_date (as-of 2024-06)
        ["S404", "2024-01-01", "10", "3"],  # 4 unknown_subscriber
        ["S2", "2024-03", "1.5", "2.5"],  # 5 S2 known (quarantined row counts); bad_type
        ["S1", "202404", "inf", ""],  # 6 bad_type (inf is no number)
        ["S1", "", "1", "1"],  # 7 missing_required (key part)
    ]
    report = ingest(
        batch(tmp_path / "b", subscribers=subs, usage=usage), settings=workspace, as_of=AS_OF
    )
    q = quarantined(workspace, "subscribers")
    assert q == {
        2: ["bad_value"],
        3: ["bad_date"],
        4: ["bad_type"],
        5: ["out_of_range"],
        6: ["missing_required"],
        7: ["churn_before_activation"],
        8: ["future_date"],
        9: ["bad_type", "bad_value", "out_of_range"],
    }
    assert quarantined(workspace, "usage") == {
        2: ["bad_date"],
        3: ["future_date"],
        4: ["unknown_subscriber"],
        5: ["bad_type"],
        6: ["bad_type"],
        7: ["missing_required"],
    }
    subs_report = report.tables["subscribers"]
    assert (subs_report.read, subs_report.loaded, subs_report.quarantined) == (10, 2, 8)
    assert subs_report.reasons == {
        "bad_date": 1,
        "bad_type": 2,
        "bad_value": 2,
        "churn_before_activation": 1,
        "future_date": 1,
        "missing_required": 1,
        "out_of_range": 2,
    }
    rows = query(
        workspace,
        "SELECT subscriber_id, service_type, activation_date, age, churn_date,"
        " marketing_opt_out FROM subscribers ORDER BY 1",
    )
    assert [(a, b, str(c), d, None if e is None else str(e), f) for a, b, c, d, e, f in rows] == [
        ("S1", "mobile", "2023-01-05", 30, None, True),
        ("S10", "broadband", "2023-05-01", 10, "2024-01-01", True),
    ]
    assert query(workspace, "SELECT subscriber_id, month FROM usage")[0][0] == "S1"
    details = dict(
        query(
            workspace, "SELECT source_row, detail FROM quarantine WHERE table_name = 'subscribers'"
        )
    )
    assert details[5] == "age: 130 must be between 0 and 120"
    assert details[9].count(";") == 2


def test_month_formats_are_normalised(tmp_path: Path, workspace: Settings) -> None:
    usage = [
        ["subscriber_id", "month"],
        ["S1", "2024-01"],
        ["S1", "202402"],
        ["S1", "2024/03/01"],
        ["S1", "2024-04-01"],
        ["S2", "2024-05-01 00:00:00"],
    ]
    report = ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace, as_of=AS_OF
    )
    assert report.tables["usage"].loaded == 5
    months = [str(m) for (m,) in query(workspace, "SELECT month FROM usage ORDER BY 1")]
    assert months == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]


def test_as_of_defaults_to_current_month(tmp_path: Path, workspace: Settings) -> None:
    usage = [["subscriber_id", "month"], ["S1", "2024-01-01"], ["S1", "2199-01-01"]]
    report = ingest(batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace)
    assert report.as_of.day == 1 and report.as_of.year >= 2026
    assert quarantined(workspace, "usage") == {2: ["future_date"]}


def test_timestamps_and_events(tmp_path: Path, workspace: Settings) -> None:
    complaints = [
        ["complaint_id", "subscriber_id", "created_at", "category", "satisfied"],
        ["C1", "S1", "2024-01-05 10:00:00", "network", "true"],
        ["C2", "S1", "2024/01/06 11:30", "billing", "N"],
        ["C3", "S2", "2024-06-30 23:59:59", "price", ""],  # last second of the as-of month
        ["C4", "S2", "2024-07-01 00:00:00", "price", ""],  # future
        ["C5", "S2", "2024-05-01 25:61:00", "other", ""],  # bad_date
        ["C6", "S2", "晚上八点", "spam", "2"],  # bad_date, bad_value, bad_type
    ]
    ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, complaints=complaints),
        settings=workspace,
        as_of=AS_OF,
    )
    assert quarantined(workspace, "complaints") == {
        4: ["future_date"],
        5: ["bad_date"],
        6: ["bad_date", "bad_type", "bad_value"],
    }
    rows = query(workspace, "SELECT complaint_id, created_at, satisfied FROM complaints ORDER BY 1")
    assert [(a, str(b), c) for a, b, c in rows] == [
        ("C1", "2024-01-05 10:00:00", True),
        ("C2", "2024-01-06 11:30:00", False),
        ("C3", "2024-06-30 23:59:59", None),
    ]


def test_parquet_with_native_types(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    table = pa.table(
        {
            "subscriber_id": ["S1", "S1", "S2", "S3"],
            "month": pa.array(
                [
                    AS_OF.replace(month=1),
                    AS_OF.replace(month=2, day=15),
                    AS_OF.replace(month=1),
                    AS_OF.replace(month=1),
                ],
                pa.date32(),
            ),
            "voice_minutes": [1.5, 2.0, -3.0, 4.0],
            "active_days": pa.array([1, 2, 3, 40], pa.int64()),
            "operator_flag": pa.array([1, 2, 3, 4], pa.int32()),
        }
    )
    pq.write_table(table, folder / "usage.parquet")
    report = ingest(folder, settings=workspace, as_of=AS_OF)
    assert report.tables["usage"].loaded == 1
    assert quarantined(workspace, "usage") == {
        2: ["bad_date"],
        3: ["out_of_range"],
        4: ["out_of_range"],
    }
    assert report.tables["usage"].extra_columns == ("operator_flag",)
    assert query(workspace, "SELECT voice_minutes, operator_flag FROM usage") == [(1.5, "1")]
    raw = query(workspace, "SELECT raw FROM quarantine WHERE source_row = 3")[0][0]
    assert '"voice_minutes":-3.0' in str(raw)


@pytest.mark.parametrize("value", ["NaN", "-inf", "1,5"])
def test_non_numbers_are_bad_type(tmp_path: Path, workspace: Settings, value: str) -> None:
    usage = [["subscriber_id", "month", "data_mb"], ["S1", "2024-01-01", value]]
    ingest(
        batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage), settings=workspace, as_of=AS_OF
    )
    assert quarantined(workspace, "usage") == {1: ["bad_type"]}
