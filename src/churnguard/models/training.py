"""``model train``: snapshots → out-of-time comparison of families → calibrated, registered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError, StateError
from .artifacts import TrainedModel, save_model
from .calibration import fit_calibrator
from .drift import reference_profile, reference_profiles
from .families import FAMILIES, BlendFamily, Family, make_family
from .metrics import METRICS, Economics, classification_metrics
from .preprocessing import infer_plan, prepare_frame
from .registry import ModelVersion, next_run_id
from .validation import out_of_time_split

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["KEY_COLUMNS", "TrainReport", "choose_champion", "train_models", "training_months"]

log = logging.getLogger(__name__)

KEY_COLUMNS = ("as_of", "subscriber_id", "label")
_IMPORTANCE_ROWS = 2_000


@dataclass
class TrainReport:
    """What one ``model train`` run did.

    Attributes
    ----------
    run_id
        Registry run id.
    months
        Snapshot months used (the last one validates).
    metrics
        Family → out-of-time metrics (raw scores) plus ``seconds``.
    champion
        Family code of the champion.
    versions
        Family → registered version.
    """

    run_id: int
    as_of: date
    months: list[date]
    rows_train: int
    rows_validation: int
    champion_metric: str
    champion: str
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "months": [m.isoformat() for m in self.months],
            "train_months": [m.isoformat() for m in self.months[:-1]],
            "validation_month": self.months[-1].isoformat(),
            "rows_train": self.rows_train,
            "rows_validation": self.rows_validation,
            "champion_metric": self.champion_metric,
            "champion": self.champion,
            "champion_version": self.versions.get(self.champion),
            "families": self.metrics,
            "versions": self.versions,
            "seconds": self.seconds,
        }


def training_months(settings: Settings, *, as_of: date | str, snapshots: int) -> list[date]:
    """The ``snapshots`` latest months whose labels are known by ``as_of``.

    Raises
    ------
    StateError
        Fewer than two such months.
    """
    from ..features import labeled_as_ofs
    from ..features.context import parse_month

    month = parse_month(as_of)
    known = [m for m in labeled_as_ofs(settings, month) if m <= month]
    if len(known) < 2:
        raise StateError(
            f"only {len(known)} snapshot month(s) have known labels by {month:%Y-%m}; "
            "out-of-time training needs 2 or more: ingest more months or pick a later --as-of"
        )
    return known[-snapshots:]


def choose_champion(metrics: dict[str, dict[str, Any]], *, metric: str) -> str:
    """The family with the best ``metric`` (ties: the order given)."""
    if metric not in METRICS:
        raise InputError(f"unknown champion metric {metric!r}; choose from {', '.join(METRICS)}")
    higher = METRICS[metric][2]
    values = {f: m[metric] for f, m in metrics.items() if not np.isnan(m[metric])}
    if not values:
        raise StateError(f"no family has a value for {metric}")
    return max(values, key=lambda f: values[f] if higher else -values[f])


def _importance(model: TrainedModel, valid: pd.DataFrame, *, seed: int) -> dict[str, float]:
    rows = valid.sample(n=min(_IMPORTANCE_ROWS, len(valid)), random_state=seed)
    contrib = model.explain(rows)
    imp = contrib.abs().mean().sort_values(ascending=False)
    return {str(k): float(v) for k, v in imp.items()}


def train_models(
    settings: Settings,
    *,
    as_of: date | str,
    snapshots: int | None = None,
    families: Sequence[str] | None = None,
    frame: pd.DataFrame | None = None,
    on_family: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train, compare out of time, calibrate and register every family.

    Parameters
    ----------
    settings
        Workspace settings (``settings.models`` drives families, metric, economics).
    as_of
        The month up to which data may be used.
    snapshots
        Snapshot months in the training set (default ``settings.models.snapshots``).
    families
        Family codes (default ``settings.models.families``).
    frame
        A ready training frame (``as_of``, ``subscriber_id``, ``label`` and
        features); built from the warehouse when ``None``.
    on_family
        Called after each family is fitted (progress display).

    Returns
    -------
    TrainReport
        Per-family out-of-time metrics, the champion and the registered versions.
    """
    from ..features import CATALOG_VERSION
    from ..features.context import parse_month
    from ..warehouse.operational import session_scope

    t0 = time.perf_counter()
    cfg = settings.models
    month = parse_month(as_of)
    codes = tuple(families) if families else cfg.families
    unknown = [c for c in codes if c not in FAMILIES]
    if unknown:
        raise InputError(
            f"unknown model family {', '.join(unknown)}; choose from {', '.join(FAMILIES)}"
        )
    if frame is None:
        from ..features import training_frame

        months = training_months(settings, as_of=month, snapshots=snapshots or cfg.snapshots)
        frame = training_frame(settings, as_ofs=months, target="voluntary")
    else:
        months = sorted(pd.Series(frame["as_of"].unique()).tolist())
    train, valid = out_of_time_split(frame)
    y_tr = train["label"].to_numpy(dtype=np.int64)
    y_va = valid["label"].to_numpy(dtype=np.int64)
    for part, y in (("training", y_tr), ("validation", y_va)):
        if len(np.unique(y)) != 2:
            raise StateError(
                f"the {part} months have {'no' if y.sum() == 0 else 'only'} churners; "
                "models need both classes: use more --snapshots or check the labels"
            )
    plan = infer_plan(train, exclude=KEY_COLUMNS)
    x_tr = prepare_frame(train, plan)
    x_va = prepare_frame(valid, plan)
    econ = Economics.from_settings(cfg)
    log.info(
        "training on %d rows (%s), validating on %d rows (%s)",
        len(train),
        ", ".join(f"{m:%Y-%m}" for m in months[:-1]),
        len(valid),
        f"{months[-1]:%Y-%m}",
    )
    fitted: dict[str, TrainedModel] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for code in codes:
        start = time.perf_counter()
        if code == "blend" and {"logistic", "lightgbm"} <= set(fitted):
            fam: Family = BlendFamily.from_parts(
                fitted["logistic"].family, fitted["lightgbm"].family
            )
        else:
            fam = make_family(
                code, plan, seed=cfg.seed, threads=cfg.threads, max_rows=cfg.max_train_rows
            ).fit(x_tr, y_tr)
        fit_seconds = time.perf_counter() - start
        raw = fam.predict_proba(x_va)
        m = classification_metrics(y_va, raw, economics=econ, threshold=cfg.operating_threshold)
        calibrator = fit_calibrator(raw, y_va, method=cfg.calibration)
        cal = calibrator.transform(raw)
        m["brier_calibrated"] = float(np.mean((cal - y_va) ** 2))
        m["fit_seconds"] = fit_seconds
        m["seconds"] = time.perf_counter() - start
        metrics[code] = m
        fitted[code] = TrainedModel(family=fam, plan=plan, calibrator=calibrator)
        fitted[code].meta["_cal_scores"] = cal
        log.info(
            "%s: roc_auc %.4f pr_auc %.4f in %.1fs", code, m["roc_auc"], m["pr_auc"], m["seconds"]
        )
        if on_family is not None:
            on_family(code)
    champ = choose_champion(metrics, metric=cfg.champion_metric)
    refit = cfg.refit_champion
    if refit:
        # The champion scores months after the validation month: refit it on every
        # month, the validation month included, so it learns from the freshest labels.
        # Its metrics stay the out-of-time ones of the same recipe without that month,
        # and it keeps the calibrator fitted on that month.
        x_all = prepare_frame(frame, plan)
        y_all = frame["label"].to_numpy(dtype=np.int64)
        fitted[champ].family = make_family(
            champ, plan, seed=cfg.seed, threads=cfg.threads, max_rows=cfg.max_train_rows
        ).fit(x_all, y_all)
        if on_family is not None:
            on_family(champ)
    features = list(plan.features)
    feature_ref = reference_profiles(valid, features)
    models_dir = settings.models_dir
    now = datetime.now(UTC)
    versions: dict[str, str] = {}
    with session_scope(settings) as session:
        run_id = next_run_id(session)
        # A new run replaces the previous champion and challengers of the target.
        for old in session.query(ModelVersion).filter(
            ModelVersion.target == "voluntary", ModelVersion.status != "retired"
        ):
            old.status = "retired"
        for code, model in fitted.items():
            version = f"{month:%Y%m}-r{run_id}-{code}"
            cal_scores = model.meta.pop("_cal_scores")
            model.meta.update(
                {
                    "kind": "snapshot",
                    "refit_on_all_months": bool(refit and code == champ),
                    "version": version,
                    "target": "voluntary",
                    "as_of": month.isoformat(),
                    "months": [m.isoformat() for m in months],
                    "catalog_version": CATALOG_VERSION,
                    "metrics": _finite(metrics[code]),
                    "importance": _importance(model, valid, seed=cfg.seed),
                    "reference": {
                        "features": feature_ref,
                        "score": reference_profile(pd.Series(cal_scores)),
                        "roc_auc": metrics[code]["roc_auc"],
                    },
                }
            )
            path = models_dir / version
            checksum = save_model(model, path)
            session.add(
                ModelVersion(
                    version=version,
                    run_id=run_id,
                    family=code,
                    target="voluntary",
                    status="champion" if code == champ else "challenger",
                    as_of=month,
                    train_start=months[0],
                    train_end=months[-1] if refit and code == champ else months[-2],
                    validation_month=months[-1],
                    rows_train=len(train),
                    rows_validation=len(valid),
                    features=features,
                    catalog_version=CATALOG_VERSION,
                    metrics=_finite(metrics[code]),
                    calibration=model.calibrator.method,
                    artifact_path=str(path.relative_to(settings.workspace)),
                    checksum=checksum,
                    created_at=now,
                    promoted_at=now if code == champ else None,
                )
            )
            versions[code] = version
    return TrainReport(
        run_id=run_id,
        as_of=month,
        months=list(months),
        rows_train=len(train),
        rows_validation=len(valid),
        champion_metric=cfg.champion_metric,
        champion=champ,
        metrics=metrics,
        versions=versions,
        seconds=time.perf_counter() - t0,
    )


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    # JSON columns must not hold NaN (PostgreSQL rejects it).
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()
    }
