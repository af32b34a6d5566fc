"""Refused batches: each error says what to do, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnguard.config import Settings
from churnguard.errors import DataContractError, InputError, NotFoundError
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, USAGE, batch, write_csv


def _nothing_written(settings: Settings) -> bool:
    import duckdb

    if not settings.warehouse_path.exists():
        return True
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM information_schema.tables").fetchone() == (0,)
    finally:
        con.close()


def test_missing_folder(tmp_path: Path, workspace: Settings) -> None:
    with pytest.raises(NotFoundError, match=r"does not exist; pass the folder"):
        ingest(tmp_path / "nope", settings=workspace)


def test_file_instead_of_folder(tmp_path: Path, workspace: Settings) -> None:
    path = write_csv(tmp_path, "subscribers", SUBSCRIBERS)
    with pytest.raises(InputError, match="is a file; pass the folder"):
        ingest(path, settings=workspace)


def test_empty_folder(tmp_path: Path, workspace: Settings) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("notes")
    with pytest.raises(InputError, match=r"holds no data file.*subscribers"):
        ingest(tmp_path / "empty", settings=workspace)


def test_unknown_table_file_lists_tables(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS, usages=USAGE)
    with pytest.raises(InputError) as err:
        ingest(folder, settings=workspace)
    msg = str(err.value)
    assert "usages.csv is not named after a contract table (did you mean usage?)" in msg
    assert "subscribers, plans, usage, billing" in msg
    assert _nothing_written(workspace)


def test_non_data_files_and_folders_are_ignored(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    (folder / "README.md").write_text("read me")
    (folder / ".done").write_text("")
    (folder / "truth").mkdir()
    write_csv(folder / "truth", "anything", [["a"], ["1"]])
    report = ingest(folder, settings=workspace, as_of=AS_OF)
    assert report.ignored_files == (".done", "README.md", "truth/")
    assert list(report.tables) == ["subscribers"]


def test_table_file_not_csv_or_parquet(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    (folder / "usage.xlsx").write_bytes(b"PK\x03\x04 workbook")
    with pytest.raises(InputError, match=r"usage.xlsx is not CSV or Parquet; export the usage"):
        ingest(folder, settings=workspace)


def test_binary_content_named_csv(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    (folder / "usage.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(InputError, match=r"usage.csv is an Excel workbook, not a CSV file"):
        ingest(folder, settings=workspace)
    assert _nothing_written(workspace)


def test_corrupt_parquet(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS)
    (folder / "usage.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match=r"usage.parquet is not a readable Parquet file"):
        ingest(folder, settings=workspace)


def test_two_files_for_one_table(tmp_path: Path, workspace: Settings) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=USAGE)
    (folder / "usage.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputError, match="two files for table usage"):
        ingest(folder, settings=workspace)


def test_missing_required_column_refuses_batch(tmp_path: Path, workspace: Settings) -> None:
    usage = [["subscriber_id", "bill_month", "voice_minutes"], ["S1", "2024-01-01", "3"]]
    complaints = [["complaint_id", "subscriber_id", "created_at"], ["C1", "S1", "2024-01-01"]]
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=usage, complaints=complaints)
    with pytest.raises(DataContractError) as err:
        ingest(folder, settings=workspace)
    msg = str(err.value)
    assert msg.startswith("the batch was refused, nothing was written")
    assert "usage.csv: required column 'month' of table usage is missing" in msg
    assert "close matches in the file: bill_month" in msg
    assert "columns: {usage: {bill_month: month}}" in msg
    assert "complaints.csv: required column 'category' of table complaints is missing" in msg
    # The clean subscribers file was not loaded either.
    assert _nothing_written(workspace)


def test_no_subscribers_anywhere(tmp_path: Path, workspace: Settings) -> None:
    with pytest.raises(InputError, match="no subscribers anywhere"):
        ingest(batch(tmp_path / "b", usage=USAGE), settings=workspace)


def test_bad_encoding_option(clean_batch: Path, workspace: Settings) -> None:
    with pytest.raises(InputError, match="use auto, utf-8 or gbk"):
        ingest(clean_batch, settings=workspace, encoding="latin-1")
