from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from churnguard.errors import NotFoundError, StateError
from churnguard.models.artifacts import TrainedModel, load_model, save_model
from churnguard.models.calibration import Calibrator
from churnguard.models.families import make_family
from churnguard.models.preprocessing import infer_plan, prepare_frame
from churnguard.models.skops_io import load_pipeline


@pytest.fixture(scope="module", params=["logistic", "lightgbm", "blend"])
def saved(
    request: pytest.FixtureRequest, flat: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple:
    plan = infer_plan(flat, exclude=("churned",))
    y = (flat["churned"] == "Yes").to_numpy(dtype=np.int64)
    fam = make_family(request.param, plan).fit(prepare_frame(flat, plan), y)
    model = TrainedModel(
        family=fam, plan=plan, calibrator=Calibrator("platt", {"coef": [1.1, -0.2]})
    )
    root = tmp_path_factory.mktemp(request.param)
    checksum = save_model(model, root / "m")
    return root / "m", checksum, model.predict(flat), flat


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_round_trip_gives_the_same_predictions(saved: tuple) -> None:
    path, checksum, expected, flat = saved
    model = load_model(path, expected_checksum=checksum)
    np.testing.assert_allclose(model.predict(flat), expected, rtol=1e-9)
    assert model.checksum == checksum
    assert (path / "metadata.sha256").read_text().strip() == checksum
    assert not list(path.rglob("*.pkl")) and not list(path.rglob("*.pickle"))


def test_a_changed_byte_in_a_model_file_is_refused(saved: tuple, tmp_path: Path) -> None:
    path = _copy(saved[0], tmp_path / "m")
    target = next(p for p in sorted((path / "family").rglob("*")) if p.suffix in (".skops", ".txt"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(StateError, match="fails its SHA-256 check"):
        load_model(path)


def test_edited_metadata_is_refused(saved: tuple, tmp_path: Path) -> None:
    path = _copy(saved[0], tmp_path / "m")
    meta = json.loads((path / "metadata.json").read_text())
    meta["calibrator"] = {"method": "identity", "params": {}}
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(StateError, match=r"does not match metadata\.sha256"):
        load_model(path)


def test_registry_checksum_must_match(saved: tuple) -> None:
    with pytest.raises(StateError, match="does not match the registry"):
        load_model(saved[0], expected_checksum="0" * 64)


def test_added_file_is_refused(saved: tuple, tmp_path: Path) -> None:
    path = _copy(saved[0], tmp_path / "m")
    (path / "family" / "extra.skops").write_bytes(b"x")
    with pytest.raises(StateError, match="added"):
        load_model(path)


def test_missing_model_dir() -> None:
    with pytest.raises(NotFoundError, match="no churnguard model"):
        load_model(Path("/nonexistent/model"))


def _shout(x: np.ndarray) -> np.ndarray:  # a function skops does not know
    return x


def test_skops_refuses_types_outside_the_allow_list(tmp_path: Path) -> None:
    pipe = Pipeline([("f", FunctionTransformer(_shout))]).fit(np.ones((3, 1)))
    sio.dump(pipe, tmp_path / "p.skops")
    with pytest.raises(StateError, match="does not trust"):
        load_pipeline(tmp_path / "p.skops")
