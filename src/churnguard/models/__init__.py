"""The model lab: families, metrics, validation, calibration, explanations, artifacts, registry.

Public entry points (import from here):

- flat tables: :func:`evaluate_table`, :func:`train_table`, :func:`score_table`
- snapshots: :func:`train_models`, :func:`score_month`, :func:`evaluate_month`
- building blocks: :class:`Family` / :func:`make_family`, :func:`classification_metrics`,
  :func:`fit_calibrator`, :func:`save_model` / :func:`load_model`.
"""

from __future__ import annotations

from .artifacts import TrainedModel, load_model, save_model
from .calibration import Calibrator, fit_calibrator
from .families import FAMILIES, Family, make_family
from .flat import evaluate_table, read_table, score_table, train_table
from .metrics import METRICS, Economics, classification_metrics, emp
from .preprocessing import ColumnPlan, infer_plan, prepare_frame

__all__ = [
    "FAMILIES",
    "METRICS",
    "Calibrator",
    "ColumnPlan",
    "Economics",
    "Family",
    "TrainedModel",
    "classification_metrics",
    "emp",
    "evaluate_table",
    "fit_calibrator",
    "infer_plan",
    "load_model",
    "make_family",
    "prepare_frame",
    "read_table",
    "save_model",
    "score_table",
    "train_table",
]
