"""CSV text: UTF-8 or GBK detected, wrong encodings refused with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnguard.config import Settings
from churnguard.errors import InputError
from churnguard.ingest import ingest

from .batches import AS_OF, SUBSCRIBERS, query, write_csv


def test_gbk_detected(tmp_path: Path, workspace: Settings) -> None:
    write_csv(tmp_path / "b", "subscribers", SUBSCRIBERS, encoding="gbk")
    report = ingest(tmp_path / "b", settings=workspace, as_of=AS_OF)
    assert report.files[0].encoding == "gbk"
    assert query(workspace, "SELECT name FROM subscribers ORDER BY 1") == [
        ("张三",),
        ("李四",),
        ("王五",),
    ]


def test_gbk_after_the_first_megabyte(tmp_path: Path, workspace: Settings) -> None:
    rows = [SUBSCRIBERS[0]] + [
        [f"S{i}", "13800000000", "Li", "mobile", "2023-01-01", "1", "20"] for i in range(30000)
    ]
    rows.append(["S_last", "13800000000", "张三", "mobile", "2023-01-01", "1", "20"])
    write_csv(tmp_path / "b", "subscribers", rows, encoding="gbk")
    report = ingest(tmp_path / "b", settings=workspace, as_of=AS_OF)
    assert report.tables["subscribers"].loaded == 30001
    assert query(workspace, "SELECT name FROM subscribers WHERE subscriber_id = 'S_last'") == [
        ("张三",)
    ]


def test_explicit_utf8_on_gbk_file(tmp_path: Path, workspace: Settings) -> None:
    write_csv(tmp_path / "b", "subscribers", SUBSCRIBERS, encoding="gbk")
    with pytest.raises(InputError, match="not valid UTF-8 text; try --encoding gbk"):
        ingest(tmp_path / "b", settings=workspace, encoding="utf-8")


def test_explicit_gbk(tmp_path: Path, workspace: Settings) -> None:
    write_csv(tmp_path / "b", "subscribers", SUBSCRIBERS, encoding="gbk")
    report = ingest(tmp_path / "b", settings=workspace, encoding="gbk", as_of=AS_OF)
    assert report.tables["subscribers"].loaded == 3


def test_undecodable_text(tmp_path: Path, workspace: Settings) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "subscribers.csv").write_bytes(
        b"subscriber_id,service_type,activation_date\nS1,\x80\xff\x80,2023-01-01\n"
    )
    with pytest.raises(InputError, match="neither UTF-8 nor GBK"):
        ingest(tmp_path / "b", settings=workspace)


def test_utf16_refused(tmp_path: Path, workspace: Settings) -> None:
    (tmp_path / "b").mkdir()
    text = "subscriber_id,service_type,activation_date\nS1,mobile,2023-01-01\n"
    (tmp_path / "b" / "subscribers.csv").write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16 text; save it as UTF-8 or GBK"):
        ingest(tmp_path / "b", settings=workspace)


def test_bom_and_crlf(tmp_path: Path, workspace: Settings) -> None:
    (tmp_path / "b").mkdir()
    text = "subscriber_id,service_type,activation_date\r\nS1,mobile,2023-01-01\r\n"
    (tmp_path / "b" / "subscribers.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = ingest(tmp_path / "b", settings=workspace, as_of=AS_OF)
    assert report.tables["subscribers"].loaded == 1


def test_gzipped_gbk_csv(tmp_path: Path, workspace: Settings) -> None:
    import gzip

    (tmp_path / "b").mkdir()
    text = "subscriber_id,name,service_type,activation_date\nS1,张三,mobile,2023-01-01\n"
    (tmp_path / "b" / "subscribers.csv.gz").write_bytes(gzip.compress(text.encode("gbk")))
    report = ingest(tmp_path / "b", settings=workspace, as_of=AS_OF)
    assert report.files[0].encoding == "gbk" and report.files[0].file == "subscribers.csv.gz"
    assert query(workspace, "SELECT name FROM subscribers") == [("张三",)]
