"""Trained models on disk: safe formats, a manifest of SHA-256 checksums, verified on load.

A model directory holds the family's files (LightGBM text, skops, JSON), a
``metadata.json`` that lists every file with its SHA-256, and
``metadata.sha256`` with the checksum of ``metadata.json`` itself (the
*artifact checksum* the registry records). Loading recomputes all of them and
refuses a directory where any byte changed. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError, NotFoundError, StateError
from .calibration import Calibrator
from .families import EXPLAINERS, FAMILIES, Family, use_explainer
from .preprocessing import ColumnPlan, prepare_frame

__all__ = ["FORMAT", "TrainedModel", "load_model", "save_model"]

FORMAT = "churnguard-model/2"  # bump when a family's stored layout changes
_META = "metadata.json"
_SUM = "metadata.sha256"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class TrainedModel:
    """A fitted family with its column plan, calibrator and metadata.

    ``predict`` and ``explain`` take raw frames (any extra columns are ignored).
    """

    family: Family
    plan: ColumnPlan
    calibrator: Calibrator = field(default_factory=lambda: Calibrator("identity"))
    meta: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated scores of the family."""
        return self.family.predict_proba(prepare_frame(frame, self.plan))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities, one per row of ``frame``."""
        return self.calibrator.transform(self.raw_scores(frame))

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-row log-odds contribution of each feature column."""
        return self.family.explain(prepare_frame(frame, self.plan))


def save_model(model: TrainedModel, directory: Path) -> str:
    """Write ``model`` into ``directory`` (replaced if it exists); returns the artifact checksum."""
    if directory.exists():
        shutil.rmtree(directory)
    files_dir = directory / "family"
    model.family.save(files_dir)
    files = {
        str(p.relative_to(directory)): _sha256(p)
        for p in sorted(files_dir.rglob("*"))
        if p.is_file()
    }
    meta = {
        **model.meta,
        "format": FORMAT,
        "churnguard_version": __version__,
        "family": model.family.code,
        "plan": model.plan.to_dict(),
        "calibrator": model.calibrator.to_dict(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    (directory / _META).write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, default=_json_default), encoding="utf-8"
    )
    checksum = _sha256(directory / _META)
    (directory / _SUM).write_text(checksum + "\n", encoding="ascii")
    model.meta = meta
    model.checksum = checksum
    return checksum


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def load_model(
    directory: Path,
    *,
    expected_checksum: str | None = None,
    threads: int = 1,
    explainer: str = "path",
) -> TrainedModel:
    """Read a model directory after verifying every checksum.

    Parameters
    ----------
    directory
        A directory written by :func:`save_model`.
    expected_checksum
        The artifact checksum recorded elsewhere (the registry); must match too.
    threads
        Threads for prediction (0: all cores).
    explainer
        How LightGBM models explain: ``"path"`` (path attributions, fast) or
        ``"shap"`` (exact tree SHAP, ~100× slower). Other families ignore it.

    Raises
    ------
    InputError
        Unknown ``explainer``.
    NotFoundError
        No model in ``directory``.
    StateError
        A file was changed, added or removed since the model was saved.
    """
    if explainer not in EXPLAINERS:
        raise InputError(f"unknown explainer {explainer!r}; choose from {', '.join(EXPLAINERS)}")
    meta_path = directory / _META
    if not meta_path.is_file() or not (directory / _SUM).is_file():
        raise NotFoundError(
            f"no churnguard model in {directory} (metadata.json / metadata.sha256 missing); "
            "train one first ('churnguard table train' or 'churnguard model train')"
        )
    actual = _sha256(meta_path)
    recorded = (directory / _SUM).read_text(encoding="ascii").strip()
    for label, want in (("metadata.sha256", recorded), ("the registry", expected_checksum)):
        if want is not None and actual != want:
            raise StateError(
                f"model {directory}: metadata.json checksum {actual[:12]}… does not match "
                f"{label} ({want[:12]}…); the artifact was altered — retrain or restore it"
            )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise StateError(f"model {directory} has format {meta.get('format')!r}, expected {FORMAT}")
    files: dict[str, str] = meta["files"]
    present = {
        str(p.relative_to(directory)) for p in (directory / "family").rglob("*") if p.is_file()
    }
    if present != set(files):
        extra = sorted(present - set(files))
        gone = sorted(set(files) - present)
        raise StateError(
            f"model {directory}: files changed since it was saved (added: {extra or '-'}, "
            f"missing: {gone or '-'}); retrain or restore it"
        )
    for rel, want in files.items():
        if _sha256(directory / rel) != want:
            raise StateError(
                f"model {directory}: {rel} fails its SHA-256 check; the artifact was altered — "
                "retrain or restore it"
            )
    plan = ColumnPlan.from_dict(meta["plan"])
    family_cls = FAMILIES.get(meta["family"])
    if family_cls is None:
        raise StateError(f"model {directory} uses unknown family {meta['family']!r}")
    try:
        family = family_cls.load(directory / "family", plan, threads=threads)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"model {directory} cannot be rebuilt by this churnguard "
            f"({type(exc).__name__}: {exc}); retrain it"
        ) from None
    return TrainedModel(
        family=use_explainer(family, explainer),
        plan=plan,
        calibrator=Calibrator.from_dict(meta["calibrator"]),
        meta=meta,
        checksum=actual,
    )
