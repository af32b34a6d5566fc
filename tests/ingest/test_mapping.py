"""The mapping file renames an operator's files and columns onto the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from churnguard.config import Settings
from churnguard.errors import InputError, NotFoundError
from churnguard.ingest import ingest
from churnguard.ingest.mapping import load_mapping

from .batches import AS_OF, query, write_csv

MAPPING = """
files:
  yonghu: subscribers
  CDR_Monthly: usage
columns:
  "*":
    user_id: subscriber_id
  usage:
    Bill Month: month
    call_min: voice_minutes
"""


def test_yaml_mapping_renames_files_and_columns(tmp_path: Path, workspace: Settings) -> None:
    folder = tmp_path / "b"
    write_csv(
        folder,
        "yonghu",
        [
            ["USER_ID", "Service_Type", "activation_date", "_note"],
            ["S1", "mobile", "2023-01-01", "x"],
        ],
    )
    write_csv(
        folder,
        "cdr_monthly",
        [["user_id", "Bill Month", "call_min", "cell"], ["S1", "2024-01", "33", "A12"]],
    )
    (tmp_path / "map.yaml").write_text(MAPPING, encoding="utf-8")
    report = ingest(folder, settings=workspace, mapping=tmp_path / "map.yaml", as_of=AS_OF)
    assert report.tables["subscribers"].ignored_columns == ("_note",)
    assert report.tables["usage"].extra_columns == ("cell",)
    assert query(workspace, "SELECT subscriber_id, month, voice_minutes, cell FROM usage")[0][
        2:
    ] == (33.0, "A12")


def test_toml_mapping(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[columns.billing]\n"due" = "due_date"\n')
    m = load_mapping(tmp_path / "m.toml")
    assert m.renames("billing") == {"due": "due_date"}


def test_mapping_from_workspace_settings(tmp_path: Path) -> None:
    from churnguard.config import load_settings

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "churnguard.toml").write_text('[ingest]\nmapping = "map.yaml"\n')
    (ws / "map.yaml").write_text("columns:\n  subscribers:\n    uid: subscriber_id\n")
    settings = load_settings(ws)
    write_csv(
        tmp_path / "b",
        "subscribers",
        [["uid", "service_type", "activation_date"], ["S1", "tv", "2023-01-01"]],
    )
    assert ingest(tmp_path / "b", settings=settings, as_of=AS_OF).tables["subscribers"].loaded == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("files:\n  x: usages\n", "not a contract table (did you mean usage?)"),
        ("columns:\n  usage:\n    a: minutes\n", "not a contract column of usage"),
        ("columns:\n  usage: [a, b]\n", "must map source column names"),
        ("tables: {}\n", "only the sections 'files' and 'columns'"),
        ("columns: [\n", "cannot be parsed"),
    ],
)
def test_bad_mapping_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        load_mapping(tmp_path / "m.yaml")


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"mapping file .* not found"):
        load_mapping(tmp_path / "none.yaml")


def test_two_columns_onto_one(tmp_path: Path, workspace: Settings) -> None:
    write_csv(
        tmp_path / "b", "subscribers", [["subscriber_id", "uid", "service_type", "activation_date"]]
    )
    (tmp_path / "m.yaml").write_text("columns:\n  subscribers:\n    uid: subscriber_id\n")
    with pytest.raises(InputError, match=r"both map to subscribers.subscriber_id"):
        ingest(tmp_path / "b", settings=workspace, mapping=tmp_path / "m.yaml")
