"""scikit-learn pipelines on disk with skops, loaded only against an explicit allow-list.

skops refuses to build any type not in ``TRUSTED_TYPES``, so a tampered or
foreign file cannot run code on load (unlike pickle). The list holds exactly the
extra types our pipelines need; everything else skops already trusts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StateError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# skops is imported where it is used: importing it walks every scikit-learn module
# (their tests included, which import pytest), ~0.5 s that commands scoring with
# LightGBM never need.

__all__ = ["TRUSTED_TYPES", "load_pipeline", "save_pipeline"]

TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "numpy.arcsinh",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.tree._tree.Tree",
)


def save_pipeline(pipeline: Pipeline, path: Path) -> None:
    """Write ``pipeline`` with skops."""
    import skops.io as sio

    sio.dump(pipeline, path)


def load_pipeline(path: Path) -> Pipeline:
    """Read a skops file, refusing any type outside ``TRUSTED_TYPES``."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline

    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        raise StateError(
            f"{path} holds types churnguard does not trust ({', '.join(untrusted[:5])}); "
            "it was not written by churnguard or was altered: retrain the model"
        )
    model = sio.load(path, trusted=list(TRUSTED_TYPES))
    if not isinstance(model, Pipeline):
        raise StateError(f"{path} does not hold a scikit-learn pipeline; retrain the model")
    return model
