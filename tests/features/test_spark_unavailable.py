"""Spark is optional: a missing Java or PySpark gives an error with the fix."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from churnguard.config import Settings
from churnguard.errors import StateError
from churnguard.features import build_snapshot
from churnguard.warehouse import spark


def test_missing_java_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark.shutil, "which", lambda name: None)
    with pytest.raises(spark.SparkUnavailable, match="openjdk-17-jre-headless"):
        spark.session()


def test_missing_pyspark_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyspark"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(StateError, match=r"pip install 'churnguard\[spark\]'"):
        spark.session()


def test_spark_build_fails_before_writing(
    synth_workspace: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_snapshot(synth_workspace, as_of="2024-05")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark.shutil, "which", lambda name: None)
    with pytest.raises(spark.SparkUnavailable):
        build_snapshot(synth_workspace, as_of="2024-05", engine="spark")
    assert not (synth_workspace.workspace / "spark").exists()
    from churnguard.features import load_snapshot

    assert len(load_snapshot(synth_workspace, as_of="2024-05")) > 0  # the old one is intact
