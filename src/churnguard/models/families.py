"""Model families behind one small interface: ``fit``, ``predict_proba``, ``explain``.

Every family takes the prepared feature frame (see
:func:`churnguard.models.preprocessing.prepare_frame`) and a 0/1 target, and
explains a prediction as one additive contribution per input column in
log-odds units (positive raises the churn risk). A family owns its encoding, its
handling of missing values and class imbalance, and how it is written to disk
(see :mod:`churnguard.models.artifacts`).

Add a family by subclassing :class:`Family` and listing it in ``FAMILIES``.
"""

from __future__ import annotations

import json
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from ..errors import InputError
from .compiled import CompiledEnsemble
from .encoding import dense_encoder, output_sources, tree_encoder
from .preprocessing import ColumnPlan
from .skops_io import load_pipeline, save_pipeline

__all__ = [
    "EXPLAINERS",
    "FAMILIES",
    "BlendFamily",
    "Family",
    "ForestFamily",
    "LightGBMFamily",
    "LogisticFamily",
    "MLPFamily",
    "SVMFamily",
    "TreeFamily",
    "make_family",
    "parse_families",
    "use_explainer",
]

EXPLAINERS = ("path", "shap")

_EPS = 1e-6
# Rows scored per chunk by the LightGBM family (see LightGBMFamily.predict_proba).
_SCORE_CHUNK = 65_536


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def _subsample(
    x: pd.DataFrame, y: np.ndarray, *, max_rows: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """A stratified subsample of at most ``max_rows`` rows (slow families only)."""
    if len(x) <= max_rows:
        return x, y
    idx, _ = train_test_split(np.arange(len(x)), train_size=max_rows, stratify=y, random_state=seed)
    idx = np.sort(idx)
    return x.iloc[idx], y[idx]


class Family(ABC):
    """One model family: encoding + estimator, fitted on prepared frames.

    Parameters
    ----------
    plan
        The column plan (which columns are numeric / categorical).
    seed
        Random seed; the same seed and data give the same model.
    threads
        Threads the estimator may use (0: all cores).
    max_rows
        Cap on training rows for the slow families (stratified subsample).
    """

    code: ClassVar[str]
    en: ClassVar[str]
    zh: ClassVar[str]

    def __init__(
        self, plan: ColumnPlan, *, seed: int = 42, threads: int = 1, max_rows: int = 200_000
    ) -> None:
        self.plan = plan
        self.seed = seed
        self.threads = threads
        self.max_rows = max_rows
        self.reference_: dict[str, Any] = {}

    # -- the interface -------------------------------------------------------------------
    def fit(self, x: pd.DataFrame, y: np.ndarray) -> Family:
        """Fit on prepared features ``x`` and the 0/1 target ``y``."""
        y = np.asarray(y, dtype=np.int64)
        if len(np.unique(y)) != 2:
            raise InputError("the training target needs both classes (churners and stayers)")
        self.reference_ = _reference_values(x, self.plan)
        self._fit(x, y)
        return self

    @abstractmethod
    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None: ...

    @abstractmethod
    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class (churn), one value per row."""

    def explain(self, x: pd.DataFrame) -> pd.DataFrame:
        """Per-row contribution of each input column to the churn log-odds.

        The generic version replaces one column at a time by its typical training
        value (median or most frequent level) and measures how the log-odds move:
        one batch prediction per column, vectorised over the rows.
        """
        base = _logit(self.predict_proba(x))
        out = np.empty((len(x), len(self.plan.features)))
        for j, name in enumerate(self.plan.features):
            typical = x.copy()
            typical[name] = self.reference_[name]
            out[:, j] = base - _logit(self.predict_proba(typical))
        return pd.DataFrame(out, columns=list(self.plan.features), index=x.index)

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the fitted family into ``directory`` (safe formats only)."""
        directory.mkdir(parents=True, exist_ok=True)
        state = {"code": self.code, "seed": self.seed, "reference": self.reference_}
        state.update(self._state())
        (directory / "family.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
        self._save(directory)

    @classmethod
    def load(cls, directory: Path, plan: ColumnPlan, *, threads: int = 1) -> Family:
        """Read a family written by :meth:`save` (checksums are checked by the caller)."""
        state = json.loads((directory / "family.json").read_text(encoding="utf-8"))
        family = cls(plan, seed=int(state["seed"]), threads=threads)
        family.reference_ = dict(state["reference"])
        family._restore(directory, state)
        return family

    def _state(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _save(self, directory: Path) -> None: ...

    @abstractmethod
    def _restore(self, directory: Path, state: dict[str, Any]) -> None: ...


def _reference_values(x: pd.DataFrame, plan: ColumnPlan) -> dict[str, Any]:
    ref: dict[str, Any] = {}
    for name in plan.numeric:
        med = x[name].median()
        ref[name] = float(med) if pd.notna(med) else 0.0
    for name in plan.categorical:
        mode = x[name].mode(dropna=True)
        ref[name] = str(mode.iloc[0]) if len(mode) else ""
    return ref


class _SklearnFamily(Family):
    """A family that is one scikit-learn pipeline, stored with skops."""

    pipeline_: Pipeline

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline_.predict_proba(x[list(self.plan.features)])[:, 1])

    def _save(self, directory: Path) -> None:
        save_pipeline(self.pipeline_, directory / "model.skops")

    def _restore(self, directory: Path, state: dict[str, Any]) -> None:
        self.pipeline_ = load_pipeline(directory / "model.skops")
        self._after_restore()

    def _after_restore(self) -> None:
        """Hook for derived attributes after loading."""


class _LinearExplained(_SklearnFamily):
    """Linear families explain by coefficient × standardised value, summed per input column."""

    sources_: np.ndarray

    @abstractmethod
    def _coef(self) -> np.ndarray:
        """Coefficients per encoded column (each linear family knows where they live)."""

    def _after_restore(self) -> None:
        self.sources_ = output_sources(self.pipeline_.named_steps["encode"], self.plan)

    def explain(self, x: pd.DataFrame) -> pd.DataFrame:
        z = np.asarray(self.pipeline_.named_steps["encode"].transform(x[list(self.plan.features)]))
        terms = z * self._coef()[None, :]
        out = np.zeros((len(x), len(self.plan.features)))
        valid = self.sources_ >= 0
        # Sum the output columns of each input column: one scatter-add over columns.
        np.add.at(out.T, self.sources_[valid], terms[:, valid].T)
        return pd.DataFrame(out, columns=list(self.plan.features), index=x.index)


class LogisticFamily(_LinearExplained):
    """L2 logistic regression; the penalty is chosen on an inner hold-out of the training data."""

    code = "logistic"
    en = "logistic regression"
    zh = "逻辑回归"
    _GRID = (0.01, 0.1, 1.0)

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        self.c_ = self._choose_c(x, y)
        self.pipeline_ = self._pipeline(self.c_, rows=len(x)).fit(x[list(self.plan.features)], y)
        self._after_restore()

    def _pipeline(self, c: float, *, rows: int) -> Pipeline:
        return Pipeline(
            [
                ("encode", dense_encoder(self.plan, rows=rows)),
                ("model", LogisticRegression(C=c, max_iter=2000, tol=1e-4)),
            ]
        )

    def _choose_c(self, x: pd.DataFrame, y: np.ndarray) -> float:
        if int(y.sum()) < 20 or int((1 - y).sum()) < 20:
            return 1.0
        xs, ys = _subsample(x, y, max_rows=min(self.max_rows, 50_000), seed=self.seed)
        tr, va = train_test_split(
            np.arange(len(xs)), test_size=0.25, stratify=ys, random_state=self.seed
        )
        cols = list(self.plan.features)
        encoder = dense_encoder(self.plan, rows=len(tr)).fit(xs.iloc[tr][cols])
        z_tr = encoder.transform(xs.iloc[tr][cols])
        z_va = encoder.transform(xs.iloc[va][cols])
        best_c, best = 1.0, -np.inf
        for c in self._GRID:
            model = LogisticRegression(C=c, max_iter=2000, tol=1e-4).fit(z_tr, ys[tr])
            score = roc_auc_score(ys[va], model.predict_proba(z_va)[:, 1])
            if score > best + 1e-4:
                best_c, best = c, score
        return best_c

    def _coef(self) -> np.ndarray:
        return np.asarray(self.pipeline_.named_steps["model"].coef_[0])


class SVMFamily(_LinearExplained):
    """Linear SVM (hinge loss, averaged SGD), calibrated by Platt scaling over 3 folds.

    Stochastic gradient descent keeps training linear in the rows (200 k rows
    in seconds, where liblinear's solvers took minutes on wide one-hot data);
    the dense encoding's signed-log copies give it some curvature. No class
    weights: they hurt its ranking on rare churn, and Platt scaling restores
    probabilities.
    """

    code = "svm"
    en = "support vector machine"
    zh = "支持向量机"

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        xs, ys = _subsample(x, y, max_rows=self.max_rows, seed=self.seed)
        svm = SGDClassifier(
            loss="hinge", alpha=1e-3, average=True, max_iter=15, tol=None, random_state=self.seed
        )
        self.pipeline_ = Pipeline(
            [
                ("encode", dense_encoder(self.plan, rows=len(xs))),
                ("model", CalibratedClassifierCV(svm, method="sigmoid", cv=3)),
            ]
        )
        with warnings.catch_warnings():
            # A fixed number of epochs is intended (averaged SGD); not a convergence failure.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_.fit(xs[list(self.plan.features)], ys)
        self._after_restore()

    def _coef(self) -> np.ndarray:
        fitted = self.pipeline_.named_steps["model"].calibrated_classifiers_
        return np.asarray(np.mean([np.asarray(c.estimator.coef_[0]) for c in fitted], axis=0))


class MLPFamily(_SklearnFamily):
    """A small feed-forward neural network (two hidden layers, early stopping)."""

    code = "mlp"
    en = "neural network (MLP)"
    zh = "神经网络"

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        # A network's cost grows with rows x epochs; 50 k rows are plenty for a net
        # this size, and keep "all families on 200 k rows" within minutes.
        xs, ys = _subsample(x, y, max_rows=min(self.max_rows, 50_000), seed=self.seed)
        net = MLPClassifier(
            hidden_layer_sizes=(32, 16),
            alpha=1e-3,
            batch_size=512,
            learning_rate_init=1e-3,
            early_stopping=len(xs) >= 1000,
            n_iter_no_change=4,
            max_iter=60,
            random_state=self.seed,
        )
        self.pipeline_ = Pipeline(
            [("encode", dense_encoder(self.plan, rows=len(xs))), ("model", net)]
        )
        with warnings.catch_warnings():
            # Early stopping bounds the epochs; hitting max_iter first is not an error here.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_.fit(xs[list(self.plan.features)], ys)


class TreeFamily(_SklearnFamily):
    """One decision tree, depth-limited, with leaves of at least 0.5 % of the rows."""

    code = "tree"
    en = "decision tree"
    zh = "决策树"

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        tree = DecisionTreeClassifier(
            max_depth=8,
            min_samples_leaf=max(20, len(x) // 200),
            class_weight="balanced",
            random_state=self.seed,
        )
        self.pipeline_ = Pipeline([("encode", tree_encoder(self.plan)), ("model", tree)]).fit(
            x[list(self.plan.features)], y
        )


class ForestFamily(_SklearnFamily):
    """Random forest of 80 trees, each grown on a bootstrap of at most 20 k rows."""

    code = "forest"
    en = "random forest"
    zh = "随机森林"

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        xs, ys = _subsample(x, y, max_rows=self.max_rows, seed=self.seed)
        forest = RandomForestClassifier(
            n_estimators=80,
            min_samples_leaf=10,
            max_features="sqrt",
            max_samples=min(1.0, 20_000 / len(xs)),
            class_weight="balanced_subsample",
            n_jobs=self.threads or -1,
            random_state=self.seed,
        )
        self.pipeline_ = Pipeline([("encode", tree_encoder(self.plan)), ("model", forest)]).fit(
            xs[list(self.plan.features)], ys
        )

    def _after_restore(self) -> None:
        self.pipeline_.named_steps["model"].n_jobs = self.threads or -1


class LightGBMFamily(Family):
    """Gradient-boosted trees (LightGBM), regularised, rounds chosen by early stopping.

    Categoricals are coded against a stored vocabulary (unseen levels → missing)
    and passed as LightGBM categorical features. Stored in LightGBM's own text
    format. Predictions come from the compiled evaluator
    (:class:`~churnguard.models.compiled.CompiledEnsemble`, identical to
    ``booster.predict`` and several times faster). Explanations are path
    attributions from the same evaluator by default (``explainer="path"``: one
    tree walk per row), or LightGBM's exact tree SHAP values (``explainer="shap"``:
    ``pred_contrib``, ~100× slower).
    """

    code = "lightgbm"
    en = "gradient boosting (LightGBM)"
    zh = "梯度提升树"

    booster_: lgb.Booster
    vocab_: dict[str, list[str]]
    explainer: str = "path"
    _compiled: CompiledEnsemble | None = None

    def _params(self, rows: int) -> dict[str, Any]:
        # Small tables (a few thousand customers) overfit with many leaves: grow the
        # trees' capacity with the data instead of fixing it for one data set.
        small = rows < 50_000
        return {
            "objective": "binary",
            "learning_rate": 0.02 if small else 0.05,
            "num_leaves": 7 if small else 31,
            "min_data_in_leaf": max(20, rows // 1000),
            "feature_fraction": 0.7,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 5.0,
            "cat_smooth": 20.0,
            "min_data_per_group": 50,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _columns(self, x: pd.DataFrame) -> list[np.ndarray]:
        """The model's input columns as float arrays: numerics, then categorical codes.

        Numeric columns of ``x`` that are float already are shared, not copied; an
        unseen category's code is NaN.
        """
        cols = [x[name].to_numpy(dtype=np.float64) for name in self.plan.numeric]
        for name in self.plan.categorical:
            levels = pd.Index(self.vocab_[name])
            codes = levels.get_indexer(x[name].astype(object)).astype(np.float64)
            codes[codes < 0] = np.nan
            cols.append(codes)
        return cols

    @staticmethod
    def _fill(
        cols: list[np.ndarray], start: int, stop: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows ``start:stop`` of ``cols`` as one column-major matrix (into ``out`` if given).

        Column-major: filling whole columns is ~20x faster than ``np.column_stack``'s
        row-major copy on a million rows, and both LightGBM and the compiled evaluator
        read it as it is.
        """
        if out is None:
            out = np.empty((stop - start, len(cols)), dtype=np.float64, order="F")
        for j, col in enumerate(cols):
            out[:, j] = col[start:stop]
        return out

    def _matrix(self, x: pd.DataFrame) -> np.ndarray:
        """The model's input matrix: numeric columns, then categorical codes (NaN: unseen)."""
        return self._fill(self._columns(x), 0, len(x))

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        self.vocab_ = {
            name: [str(v) for v in x[name].value_counts().index[:250]]
            for name in self.plan.categorical
        }
        m = self._matrix(x)
        cat_idx = list(range(len(self.plan.numeric), len(self.plan.features)))
        params = self._params(len(x))
        names = [f"f{i}" for i in range(m.shape[1])]
        rounds = 300
        if int(y.sum()) >= 20:
            tr, va = train_test_split(
                np.arange(len(y)), test_size=0.2, stratify=y, random_state=self.seed
            )
            dtr = lgb.Dataset(m[tr], y[tr], feature_name=names, categorical_feature=cat_idx)
            dva = lgb.Dataset(m[va], y[va], reference=dtr)
            probe = lgb.train(
                params,
                dtr,
                num_boost_round=1500,
                valid_sets=[dva],
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
            # Refit on all rows with a little more rounds for the extra 25 % of data.
            rounds = max(20, int(probe.best_iteration * 1.15))
        full = lgb.Dataset(m, y, feature_name=names, categorical_feature=cat_idx)
        self.booster_ = lgb.train(params, full, num_boost_round=rounds)
        self._compiled = None

    @property
    def compiled(self) -> CompiledEnsemble:
        """The booster flattened for the compiled evaluator (built once, on first use)."""
        if self._compiled is None:
            self._compiled = CompiledEnsemble.from_booster(self.booster_)
        return self._compiled

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Probabilities, scored in row chunks through one reused matrix buffer.

        A whole base's matrix is large (a million rows × 100 features is 0.8 GB) and
        fresh memory is slow to touch the first time (page faults, zeroing; ~2 s for
        that matrix on the 2-core build machine). Chunks of ``_SCORE_CHUNK`` rows
        reuse one buffer instead; each row's score is the same either way.
        """
        cols = self._columns(x)
        n = len(x)
        proba = np.empty(n, dtype=np.float64)
        buffer = np.empty((min(n, _SCORE_CHUNK), len(cols)), dtype=np.float64, order="F")
        for start in range(0, n, _SCORE_CHUNK):
            stop = min(n, start + _SCORE_CHUNK)
            # the last, shorter chunk gets its own (contiguous) matrix
            m = self._fill(cols, start, stop, buffer if stop - start == len(buffer) else None)
            proba[start:stop] = self.compiled.probabilities(m, threads=self.threads)
        return proba

    def explain(self, x: pd.DataFrame) -> pd.DataFrame:
        m = self._matrix(x)
        if self.explainer == "shap":
            contrib = np.asarray(
                self.booster_.predict(m, pred_contrib=True, num_threads=self.threads)
            )
        else:
            contrib = self.compiled.contributions(m, threads=self.threads)
        return pd.DataFrame(contrib[:, :-1], columns=list(self.plan.features), index=x.index)

    def _state(self) -> dict[str, Any]:
        return {"vocab": self.vocab_}

    def _save(self, directory: Path) -> None:
        self.booster_.save_model(str(directory / "model.lgb.txt"))

    def _restore(self, directory: Path, state: dict[str, Any]) -> None:
        self.vocab_ = {k: list(v) for k, v in state["vocab"].items()}
        self.booster_ = lgb.Booster(model_file=str(directory / "model.lgb.txt"))
        self._compiled = None


class BlendFamily(Family):
    """The average of logistic regression and LightGBM on the log-odds scale.

    The two err differently (smooth additive effects vs interactions and
    thresholds); their blend is usually better than either on tabular churn data.
    """

    code = "blend"
    en = "blend of logistic regression and LightGBM"
    zh = "融合模型"

    parts_: tuple[LogisticFamily, LightGBMFamily]

    def _fit(self, x: pd.DataFrame, y: np.ndarray) -> None:
        kw: dict[str, Any] = {"seed": self.seed, "threads": self.threads, "max_rows": self.max_rows}
        self.parts_ = (
            LogisticFamily(self.plan, **kw).fit(x, y),  # type: ignore[assignment]
            LightGBMFamily(self.plan, **kw).fit(x, y),  # type: ignore[assignment]
        )

    @classmethod
    def from_parts(cls, logistic: Family, lightgbm: Family) -> BlendFamily:
        """A blend of two already fitted parts (saves refitting them when both were trained)."""
        if not isinstance(logistic, LogisticFamily) or not isinstance(lightgbm, LightGBMFamily):
            raise InputError("a blend needs a fitted logistic and a fitted lightgbm family")
        blend = cls(logistic.plan, seed=logistic.seed, threads=logistic.threads)
        blend.reference_ = dict(logistic.reference_)
        blend.parts_ = (logistic, lightgbm)
        return blend

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        z = np.mean([_logit(p.predict_proba(x)) for p in self.parts_], axis=0)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def explain(self, x: pd.DataFrame) -> pd.DataFrame:
        a, b = (p.explain(x) for p in self.parts_)
        return (a + b) / 2.0

    def _save(self, directory: Path) -> None:
        for part in self.parts_:
            part.save(directory / part.code)

    def _restore(self, directory: Path, state: dict[str, Any]) -> None:
        self.parts_ = (
            LogisticFamily.load(directory / "logistic", self.plan, threads=self.threads),  # type: ignore[assignment]
            LightGBMFamily.load(directory / "lightgbm", self.plan, threads=self.threads),  # type: ignore[assignment]
        )


FAMILIES: dict[str, type[Family]] = {
    cls.code: cls
    for cls in (
        LogisticFamily,
        TreeFamily,
        ForestFamily,
        SVMFamily,
        MLPFamily,
        LightGBMFamily,
        BlendFamily,
    )
}


def make_family(
    code: str, plan: ColumnPlan, *, seed: int = 42, threads: int = 1, max_rows: int = 200_000
) -> Family:
    """A new, unfitted family by its code (``logistic``, ``lightgbm``, ...)."""
    try:
        cls = FAMILIES[code]
    except KeyError:
        raise InputError(
            f"unknown model family {code!r}; choose from {', '.join(FAMILIES)}"
        ) from None
    return cls(plan, seed=seed, threads=threads, max_rows=max_rows)


def use_explainer(family: Family, explainer: str) -> Family:
    """Choose how LightGBM parts of ``family`` explain: ``"path"`` (fast) or ``"shap"`` (exact).

    Other families explain one way only and are left as they are. Returns ``family``.

    Raises
    ------
    InputError
        ``explainer`` is neither ``"path"`` nor ``"shap"``.
    """
    if explainer not in EXPLAINERS:
        raise InputError(f"unknown explainer {explainer!r}; choose from {', '.join(EXPLAINERS)}")
    parts = getattr(family, "parts_", ()) if isinstance(family, BlendFamily) else (family,)
    for part in parts:
        if isinstance(part, LightGBMFamily):
            part.explainer = explainer
    return family


def parse_families(text: str | None, *, default: tuple[str, ...]) -> tuple[str, ...]:
    """Family codes from a comma-separated option (``None``: the default list), validated."""
    codes = tuple(c.strip() for c in text.split(",") if c.strip()) if text else default
    unknown = [c for c in codes if c not in FAMILIES]
    if unknown or not codes:
        raise InputError(
            f"unknown model family {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(FAMILIES)}, comma-separated"
        )
    return codes
