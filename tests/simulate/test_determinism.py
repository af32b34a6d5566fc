"""Same seed, same bytes; another seed, another operator."""

from __future__ import annotations

import filecmp
from pathlib import Path

from churnguard.simulate import simulate


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out in (a, b):
        simulate(out, subscribers=600, months=4, seed=21, dirty_rate=0.02)
    assert _files(a) == _files(b)
    assert len(_files(a)) >= 9 + 6
    for rel in _files(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    simulate(c, subscribers=600, months=4, seed=22, dirty_rate=0.02)
    assert not filecmp.cmp(a / "usage.parquet", c / "usage.parquet", shallow=False)


def test_same_seed_csv_is_identical_and_rerun_replaces_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, subscribers=300, months=3, seed=4, fmt="csv", encoding="gbk")
    simulate(b, subscribers=300, months=3, seed=4, fmt="parquet")
    simulate(b, subscribers=300, months=3, seed=4, fmt="csv", encoding="gbk")
    assert not (b / "usage.parquet").exists()
    for rel in _files(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
