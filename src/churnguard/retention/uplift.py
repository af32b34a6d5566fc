"""Learning from outcomes: a multi-treatment uplift model fitted on resolved campaigns.

Each resolved campaign member is one experiment: the control arm shows what the
customer does untouched, the treatment arm what one offer does. The model
estimates, per customer and offer, the **save** = P(churn | control, x) −
P(churn | offer, x), and implements :class:`~churnguard.retention.actions.EffectModel`
so it replaces the catalog's priors in the next plan.

The offset learners model the *multiplier* of the churn odds, not the raw
difference, because that is how offers act: the save scales with the customer's
churn risk. They are built from up to three layers, each fitted where data is
plentiful:

1. control: logistic recalibration ``a + b·logit(p)`` of the scored churn
   probability ``p`` on the control rows, penalised toward the identity;
2. offer: one log-odds shift per offer, measured from the catalog's prior effect
   (so a small first campaign corrects the priors instead of replacing them) and
   shrunk toward the pooled shift of all offers by empirical Bayes;
3. customer: one small LightGBM per offer, boosted from that offset, whose output
   is scaled by ``n / (n + shrink_rows)`` so rarely tried offers keep the
   pooled estimate.

The default learner is ``offset_intercept`` (layers 1–2): the customer-level part
varies only through the churn risk and the catalog prior of the customer's top
reason. With a few thousand resolved members (~200 churners) every learned
per-customer layer tried — per-offer trees (``offset_t``), pooled trees, ridge or
log-linear slopes on all or on a few eligibility features — made the budgeted plan
worse, judged by the simulator's truth; ``offset_t`` stays available through
``learner=`` for larger campaign histories (``docs/uplift.md`` has the figures).

Quality is the Qini coefficient / AUUC on held-out campaigns (the latest one),
computed per offer against the control rows and for the policy "give each
customer the offer with the largest predicted save". See ``docs/uplift.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import func, select, update

from ..errors import InputError, NotFoundError, StateError
from ..models.preprocessing import ColumnPlan, infer_plan, prepare_frame
from ..warehouse.operational import session_scope
from .store import Campaign, CampaignMember, UpliftModel

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "LEARNERS",
    "UpliftLearner",
    "UpliftSummary",
    "active_uplift",
    "auuc",
    "evaluate_uplift",
    "fit_and_register",
    "fit_uplift",
    "load_uplift",
    "offer_qini",
    "policy_qini",
    "qini_coefficient",
    "qini_curve",
    "save_uplift",
    "split_heldout",
    "uplift_curve",
    "uplift_training_frame",
    "with_features",
]

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
Learner = Literal["offset_linear", "offset_t", "offset_pooled", "offset_intercept", "s_learner"]
LEARNERS: tuple[str, ...] = (
    "offset_linear",
    "offset_t",
    "offset_pooled",
    "offset_intercept",
    "s_learner",
)
DEFAULT_LEARNER: Learner = "offset_intercept"

FORMAT = "churnguard-uplift/1"
_META = "uplift.json"
_SUM = "uplift.sha256"
# Columns of the training frame that are not customer features.
META_COLUMNS = (
    "member_id",
    "campaign_id",
    "as_of",
    "subscriber_id",
    "arm",
    "offer",
    "outcome",
    "churned",
    "churn_probability",
    "top_category",
)
_EPS = 1e-4


# --------------------------------------------------------------------------- metrics


def _prepare_curve_inputs(
    score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(churned, dtype=np.float64)
    t = np.asarray(treated, dtype=bool)
    if not (s.shape == y.shape == t.shape) or s.ndim != 1:
        raise InputError(
            f"score, churned and treated must be 1-D arrays of one length, got shapes "
            f"{s.shape}, {y.shape}, {t.shape}"
        )
    if np.isnan(s).any() or np.isnan(y).any():
        raise InputError("score and churned must not contain NaN")
    return s, y, t


def _cumulative(
    score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike
) -> tuple[F64, F64, F64, F64, F64]:
    """Cumulative counts at each distinct score threshold, best score first.

    Returns ``(k, n_t, n_c, saves_t, saves_c)`` where ``saves`` counts retained
    (not churned) customers; the first entry is the empty prefix (all zeros).
    """
    s, y, t = _prepare_curve_inputs(score, churned, treated)
    order = np.argsort(-s, kind="mergesort")
    s, y, t = s[order], y[order], t[order]
    kept = 1.0 - y
    n_t = np.cumsum(t)
    n_c = np.cumsum(~t)
    r_t = np.cumsum(kept * t)
    r_c = np.cumsum(kept * ~t)
    # Tied scores cannot be ordered: keep only the last position of each tie group.
    last = np.r_[s[1:] != s[:-1], True] if s.size else np.zeros(0, dtype=bool)
    k = np.arange(1, s.size + 1, dtype=np.float64)[last]
    zero = np.zeros(1)
    return (
        np.r_[zero, k],
        np.r_[zero, n_t[last].astype(np.float64)],
        np.r_[zero, n_c[last].astype(np.float64)],
        np.r_[zero, r_t[last]],
        np.r_[zero, r_c[last]],
    )


def qini_curve(
    score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike
) -> tuple[F64, F64]:
    """The Qini curve of an uplift score on a randomised sample.

    Customers are targeted in decreasing ``score``; after the top ``k`` the curve is
    the incremental number of retained customers among the treated,
    ``R_t(k) − R_c(k) · N_t(k) / N_c(k)`` (0 while no control is reached).

    Parameters
    ----------
    score
        Predicted save (higher: target first).
    churned
        Observed outcome (1 = churned).
    treated
        True for treated rows, False for control rows.

    Returns
    -------
    (fraction, gain)
        ``fraction`` = k / n from 0 to 1 at each distinct score, ``gain`` = incremental
        saves divided by n (so the areas below are per customer).
    """
    k, n_t, n_c, r_t, r_c = _cumulative(score, churned, treated)
    n = max(k[-1], 1.0)
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c > 0)
    gain = r_t - r_c * ratio
    return k / n, gain / n


def uplift_curve(
    score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike
) -> tuple[F64, F64]:
    """The uplift (cumulative gain) curve: ``(R_t/N_t − R_c/N_c) · k`` over ``n``.

    Like :func:`qini_curve` but both arms' retention rates are compared and scaled by
    all ``k`` targeted customers; 0 while either arm is still empty.
    """
    k, n_t, n_c, r_t, r_c = _cumulative(score, churned, treated)
    n = max(k[-1], 1.0)
    both = (n_t > 0) & (n_c > 0)
    rate_t = np.divide(r_t, n_t, out=np.zeros_like(r_t), where=both)
    rate_c = np.divide(r_c, n_c, out=np.zeros_like(r_c), where=both)
    return k / n, (rate_t - rate_c) * k / n


def _area(x: F64, y: F64) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def qini_coefficient(score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike) -> float:
    """Area between the Qini curve and the random-targeting diagonal (per customer).

    0 for a score no better than random, positive when the customers with the
    largest true save come first; the largest possible value depends on the data.
    """
    x, g = qini_curve(score, churned, treated)
    return _area(x, g) - float(g[-1]) / 2.0


def auuc(score: npt.ArrayLike, churned: npt.ArrayLike, treated: npt.ArrayLike) -> float:
    """Area under the uplift curve (per customer); random targeting gives half the end value."""
    x, u = uplift_curve(score, churned, treated)
    return _area(x, u)


def offer_qini(
    frame: pd.DataFrame, saves: pd.DataFrame, *, offer: str
) -> dict[str, float | int] | None:
    """Qini / AUUC of one offer's predicted save on its treated rows vs all control rows.

    ``frame`` has ``arm``, ``offer`` and ``churned``; ``saves`` has one column per offer
    (predicted save, aligned with ``frame``). ``None`` when either side is empty.
    """
    arm = frame["arm"].to_numpy()
    rows = (arm == "control") | ((arm == "treatment") & (frame["offer"] == offer).to_numpy())
    treated = arm[rows] == "treatment"
    if treated.all() or not treated.any():
        return None
    score = saves[offer].to_numpy(dtype=np.float64)[rows]
    y = frame["churned"].to_numpy(dtype=np.float64)[rows]
    x, u = uplift_curve(score, y, treated)
    return {
        "rows_treated": int(treated.sum()),
        "rows_control": int((~treated).sum()),
        "qini": qini_coefficient(score, y, treated),
        "auuc": _area(x, u),
        "auuc_random": float(u[-1] / 2.0),
        "observed_uplift": float(u[-1]),
    }


def policy_qini(frame: pd.DataFrame, saves: pd.DataFrame) -> dict[str, float | int] | None:
    """Qini / AUUC of the policy "give each customer the offer with the largest predicted save".

    Evaluated on the treated rows whose received offer is the policy's choice and
    all control rows, ranked by that largest save (Zhao & Harinen's matching
    estimator for multiple treatments). ``None`` when either side is empty.
    """
    offers = [c for c in saves.columns]
    values = saves.to_numpy(dtype=np.float64)
    best_idx = np.argmax(values, axis=1)
    best = np.asarray(offers, dtype=object)[best_idx]
    arm = frame["arm"].to_numpy()
    matched = (arm == "treatment") & (frame["offer"].to_numpy(dtype=object) == best)
    rows = matched | (arm == "control")
    treated = matched[rows]
    if treated.all() or not treated.any():
        return None
    score = values[np.arange(len(values)), best_idx][rows]
    y = frame["churned"].to_numpy(dtype=np.float64)[rows]
    x, u = uplift_curve(score, y, treated)
    return {
        "rows_matched": int(treated.sum()),
        "rows_control": int((~treated).sum()),
        "qini": qini_coefficient(score, y, treated),
        "auuc": _area(x, u),
        "auuc_random": float(u[-1] / 2.0),
        "observed_uplift": float(u[-1]),
    }


# --------------------------------------------------------------------------- the learner


def _logit(p: F64) -> F64:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    out: F64 = np.log(q / (1.0 - q))
    return out


def _sigmoid(z: F64) -> F64:
    out: F64 = 1.0 / (1.0 + np.exp(-z))
    return out


def _penalised_logistic(
    x: F64, y: F64, *, offset: F64, prior: F64, strength: float, iterations: int = 50
) -> F64:
    """Logistic regression with an offset and a ridge penalty toward ``prior`` (Newton)."""
    beta = prior.copy()
    eye = np.eye(len(prior))
    for _ in range(iterations):
        p = _sigmoid(offset + x @ beta)
        grad = x.T @ (y - p) - strength * (beta - prior)
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + strength * eye
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


@dataclass
class UpliftLearner:
    """A fitted multi-treatment uplift model; ``predict`` gives the save per customer.

    Attributes ending in ``_`` are set by :func:`fit_uplift` (or :func:`load_uplift`).
    """

    learner: str = DEFAULT_LEARNER
    shrink_rows: float = 2500.0  # rows at which an offer's own trees get half weight
    seed: int = 42
    threads: int = 1
    plan_: ColumnPlan = field(default_factory=lambda: ColumnPlan((), (), ()))
    vocab_: dict[str, list[str]] = field(default_factory=dict)
    offers_: tuple[str, ...] = ()
    rows_: dict[str, int] = field(default_factory=dict)
    control_: tuple[float, float] = (0.0, 1.0)
    shift_: dict[str, float] = field(default_factory=dict)
    pooled_shift_: float = 0.0
    shrinkage_: dict[str, Any] = field(default_factory=dict)
    weight_: dict[str, float] = field(default_factory=dict)
    boosters_: dict[str, lgb.Booster] = field(default_factory=dict)
    encoding_: dict[str, Any] = field(default_factory=dict)
    coef_: dict[str, list[float]] = field(default_factory=dict)
    ridge_rows: float = 2000.0  # ridge strength of an offer's slopes toward the pooled ones
    ridge_pooled: float = 200.0  # ridge strength of the pooled slopes toward 0
    priors: dict[str, dict[str, float]] = field(default_factory=dict)  # catalog effects
    prior_rows: float = 300.0  # weight of the catalog's priors, in members
    meta: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""

    # -- design matrix ---------------------------------------------------------
    def _matrix(self, frame: pd.DataFrame) -> F64:
        x = prepare_frame(frame, self.plan_)
        cols = [x[name].to_numpy(dtype=np.float64) for name in self.plan_.numeric]
        for name in self.plan_.categorical:
            codes = pd.Index(self.vocab_[name]).get_indexer(x[name].astype(object))
            codes_f = codes.astype(np.float64)
            codes_f[codes < 0] = np.nan
            cols.append(codes_f)
        p = frame["churn_probability"].to_numpy(dtype=np.float64)
        cols.append(p)
        out: F64 = np.column_stack(cols)
        return out

    def _anchor(self, base: F64, frame: pd.DataFrame, offers: npt.NDArray[np.object_]) -> F64:
        """Treated log-odds under the catalog's prior effect (``base`` where none is known).

        The prior effect ``e`` of an offer for the customer's top reason category
        multiplies the untreated churn probability by ``1 − e``, as in the action table.
        """
        if not self.priors:
            return base
        category = (
            frame["top_category"].astype(object).to_numpy()
            if "top_category" in frame.columns
            else np.full(len(frame), "default", dtype=object)
        )
        effect = np.zeros(len(frame))
        for offer, table in self.priors.items():
            rows = offers == offer
            if rows.any():
                cats = pd.Series(category[rows])
                effect[rows] = cats.map(table).fillna(table.get("default", 0.0)).to_numpy()
        p = _sigmoid(base) * (1.0 - np.clip(effect, -1.0, 0.99))
        return _logit(np.clip(p, 0.0, 1.0))

    def _fit_shifts(self, y: F64, base: F64, offers: npt.NDArray[np.object_]) -> None:
        ones = np.ones((len(y), 1))
        # With catalog priors the shifts are deviations from them, and the pooled deviation
        # is itself held toward 0 with the weight of `prior_rows` members.
        strength = self.prior_rows * 0.1 if self.priors else 0.01
        pooled = float(
            _penalised_logistic(ones, y, offset=base, prior=np.zeros(1), strength=strength)[0]
        )
        raw = np.zeros(len(self.offers_))
        var = np.zeros(len(self.offers_))
        for j, o in enumerate(self.offers_):
            rows = offers == o
            c = _penalised_logistic(
                ones[rows], y[rows], offset=base[rows], prior=np.array([pooled]), strength=0.01
            )
            p = _sigmoid(base[rows] + c[0])
            raw[j] = float(c[0])
            var[j] = 1.0 / max(float(np.sum(p * (1.0 - p))), 1e-6)
        # Between-offer variance by the method of moments (DerSimonian-Laird style).
        tau2 = max(0.0, float(np.var(raw, ddof=1)) - float(var.mean())) if raw.size > 1 else 0.0
        weight = tau2 / (tau2 + var) if tau2 > 0 else np.zeros_like(var)
        shrunk = pooled + weight * (raw - pooled)
        self.pooled_shift_ = pooled
        self.shift_ = {o: float(v) for o, v in zip(self.offers_, shrunk, strict=True)}
        self.shrinkage_ = {
            "between_offer_variance": tau2,
            "raw_shift": {o: float(v) for o, v in zip(self.offers_, raw, strict=True)},
            "shift_variance": {o: float(v) for o, v in zip(self.offers_, var, strict=True)},
            "weight": {o: float(v) for o, v in zip(self.offers_, weight, strict=True)},
        }

    def _fit_encoding(self, frame: pd.DataFrame) -> None:
        """Standardisation of the linear learner's inputs (medians, means, scales, levels)."""
        x = prepare_frame(frame, self.plan_)
        numeric: dict[str, list[float]] = {}
        for name in self.plan_.numeric:
            v = x[name].to_numpy(dtype=np.float64)
            if name in self.plan_.continuous:
                v = np.sign(v) * np.log1p(np.abs(v))
            med = float(np.nanmedian(v)) if np.isfinite(v).any() else 0.0
            filled = np.where(np.isnan(v), med, v)
            sd = float(filled.std())
            numeric[name] = [med, float(filled.mean()), sd if sd > 1e-9 else 1.0]
        levels = {name: self.vocab_[name][:20] for name in self.plan_.categorical}
        missing = [n for n in self.plan_.numeric if x[n].isna().any()]
        self.encoding_ = {"numeric": numeric, "levels": levels, "missing": missing}

    def _linear(self, frame: pd.DataFrame) -> F64:
        """Standardised design matrix of the linear learner (no intercept column)."""
        x = prepare_frame(frame, self.plan_)
        cols: list[F64] = []
        for name, (med, mean, sd) in self.encoding_["numeric"].items():
            v = x[name].to_numpy(dtype=np.float64)
            if name in self.plan_.continuous:
                v = np.sign(v) * np.log1p(np.abs(v))
            cols.append(np.clip((np.where(np.isnan(v), med, v) - mean) / sd, -5.0, 5.0))
        for name in self.encoding_["missing"]:
            cols.append(x[name].isna().to_numpy(dtype=np.float64))
        for name, levels in self.encoding_["levels"].items():
            values = x[name].astype(object).to_numpy()
            cols.extend((values == level).astype(np.float64) for level in levels)
        logit_p = _logit(frame["churn_probability"].to_numpy(dtype=np.float64))
        cols.append((logit_p + 2.0) / 1.5)
        out: F64 = np.column_stack(cols)
        return out

    def _fit_linear(
        self, frame: pd.DataFrame, y: F64, init: F64, offers: npt.NDArray[np.object_]
    ) -> None:
        # Slopes of the log-odds shift: pooled over all offers, then each offer's own,
        # ridge-shrunk toward the pooled ones (a two-level hierarchy).
        self._fit_encoding(frame)
        z = self._linear(frame)
        weight = 0.1  # ≈ p(1 − p) of a row, turns "rows" into a penalty on the log-likelihood
        pooled = _penalised_logistic(
            z, y, offset=init, prior=np.zeros(z.shape[1]), strength=self.ridge_pooled * weight
        )
        self.coef_ = {"__pooled__": [float(v) for v in pooled]}
        for o in self.offers_:
            rows = offers == o
            beta = _penalised_logistic(
                z[rows],
                y[rows],
                offset=init[rows],
                prior=pooled,
                strength=self.ridge_rows * weight,
            )
            self.coef_[o] = [float(v) for v in beta]

    def _onehot(self, offers: npt.NDArray[np.object_]) -> F64:
        out: F64 = (offers[:, None] == np.asarray(self.offers_, dtype=object)[None, :]).astype(
            np.float64
        )
        return out

    def _params(self, rows: int) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": 0.05,
            "num_leaves": 5,
            "max_depth": 3,
            "min_data_in_leaf": max(40, rows // 40),
            "min_sum_hessian_in_leaf": 1.0,
            "feature_fraction": 0.7,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 20.0,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _boost(self, m: F64, y: F64, init: F64) -> lgb.Booster | None:
        """Small trees boosted from ``init`` (log-odds); rounds by early stopping."""
        events = int(y.sum())
        if len(y) < 80 or events < 10 or events > len(y) - 10:
            return None
        params = self._params(len(y))
        rng = np.random.default_rng(self.seed)
        va = np.zeros(len(y), dtype=bool)
        for cls in (0.0, 1.0):  # stratified 25 % validation
            idx = np.flatnonzero(y == cls)
            va[rng.choice(idx, size=max(1, len(idx) // 4), replace=False)] = True
        dtr = lgb.Dataset(m[~va], y[~va], init_score=init[~va], free_raw_data=True)
        dva = lgb.Dataset(m[va], y[va], init_score=init[va], reference=dtr)
        probe = lgb.train(
            params,
            dtr,
            num_boost_round=400,
            valid_sets=[dva],
            callbacks=[lgb.early_stopping(30, verbose=False)],
        )
        rounds = int(probe.best_iteration or 0)
        if rounds < 1:
            return None
        full = lgb.Dataset(m, y, init_score=init)
        return lgb.train(params, full, num_boost_round=rounds)

    # -- fitting ---------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> UpliftLearner:
        """Fit on a training frame (see :func:`uplift_training_frame`)."""
        _check_frame(frame)
        if self.learner not in LEARNERS:
            raise InputError(f"unknown uplift learner {self.learner!r}; use one of {LEARNERS}")
        features = frame.drop(columns=[c for c in META_COLUMNS if c in frame.columns])
        self.plan_ = infer_plan(features) if features.shape[1] else ColumnPlan((), (), ())
        x = prepare_frame(frame, self.plan_)
        self.vocab_ = {
            name: [str(v) for v in x[name].value_counts().index[:250]]
            for name in self.plan_.categorical
        }
        arm = frame["arm"].to_numpy()
        control = arm == "control"
        offers = frame["offer"].to_numpy(dtype=object)
        treated_offers = offers[~control]
        self.offers_ = tuple(sorted({str(o) for o in treated_offers}))
        self.rows_ = {o: int((treated_offers == o).sum()) for o in self.offers_}
        self.rows_["control"] = int(control.sum())
        y = frame["churned"].to_numpy(dtype=np.float64)
        logit_p = _logit(frame["churn_probability"].to_numpy(dtype=np.float64))
        m = self._matrix(frame)
        self.boosters_ = {}
        self.weight_ = {}
        if self.learner == "s_learner":
            self._fit_s(m, y, logit_p, offers, control)
            return self
        # 1. control: recalibrate the scored probability on the untreated rows.
        a, b = _penalised_logistic(
            np.column_stack([np.ones(control.sum()), logit_p[control]]),
            y[control],
            offset=np.zeros(int(control.sum())),
            prior=np.array([0.0, 1.0]),
            strength=20.0,
        )
        self.control_ = (float(a), float(b))
        base = a + b * logit_p
        # 2. offer: a log-odds shift per offer, shrunk toward the pooled shift by empirical
        # Bayes — the spread between offers is estimated from the data, so an offer tried
        # on few customers keeps close to the pooled shift.
        tr = ~control
        anchor = self._anchor(base, frame, offers)
        self._fit_shifts(y[tr], anchor[tr], offers[tr])
        if self.learner == "offset_intercept":
            return self
        shift = np.array([self.shift_.get(str(o), 0.0) for o in offers])
        init = anchor + shift
        if self.learner == "offset_linear":
            self._fit_linear(frame[tr], y[tr], init[tr], offers[tr])
            return self
        # 3. customer: trees on top of the offset, per offer or pooled over offers.
        if self.learner == "offset_pooled":
            mm = np.column_stack([m[tr], self._onehot(offers[tr])])
            booster = self._boost(mm, y[tr], init[tr])
            if booster is not None:
                self.boosters_["__pooled__"] = booster
            return self
        for o in self.offers_:
            rows = tr & (offers == o)
            booster = self._boost(m[rows], y[rows], init[rows])
            if booster is not None:
                self.boosters_[o] = booster
                n = float(rows.sum())
                self.weight_[o] = n / (n + self.shrink_rows)
        return self

    def _fit_s(
        self,
        m: F64,
        y: F64,
        logit_p: F64,
        offers: npt.NDArray[np.object_],
        control: npt.NDArray[np.bool_],
    ) -> None:
        # One model over all rows: features + treated flag + offer one-hot, offset logit(p).
        received = offers.copy()
        received[control] = None
        design = np.column_stack([m, (~control).astype(np.float64), self._onehot(received)])
        booster = self._boost(design, y, logit_p)
        if booster is None:
            raise StateError(
                "too few churners to fit the S-learner; wait for more resolved campaigns"
            )
        self.boosters_["__s__"] = booster

    # -- prediction ------------------------------------------------------------
    def _log_odds(
        self, m: F64, zlin: F64 | None, logit_p: F64, offer: str, customers: pd.DataFrame
    ) -> tuple[F64, F64]:
        """Log-odds of churn without and with ``offer``."""
        n = len(logit_p)
        if self.learner == "s_learner":
            booster = self.boosters_["__s__"]
            none = np.full(n, None, dtype=object)
            given = np.full(n, offer, dtype=object)
            z0 = np.column_stack([m, np.zeros(n), self._onehot(none)])
            z1 = np.column_stack([m, np.ones(n), self._onehot(given)])
            f0 = np.asarray(booster.predict(z0, raw_score=True, num_threads=self.threads))
            f1 = np.asarray(booster.predict(z1, raw_score=True, num_threads=self.threads))
            return logit_p + f0, logit_p + f1
        a, b = self.control_
        base = a + b * logit_p
        anchor = self._anchor(base, customers, np.full(n, offer, dtype=object))
        if offer not in self.shift_:  # not tried: its prior and the pooled deviation
            return base, anchor + self.pooled_shift_
        treated = anchor + self.shift_[offer]
        if zlin is not None and self.coef_:
            treated = treated + zlin @ np.asarray(self.coef_[offer])
        elif self.learner == "offset_pooled" and "__pooled__" in self.boosters_:
            given = np.full(n, offer, dtype=object)
            mm = np.column_stack([m, self._onehot(given)])
            treated = treated + np.asarray(
                self.boosters_["__pooled__"].predict(mm, raw_score=True, num_threads=self.threads)
            )
        elif self.learner == "offset_t" and offer in self.boosters_:
            raw = np.asarray(
                self.boosters_[offer].predict(m, raw_score=True, num_threads=self.threads)
            )
            treated = treated + self.weight_[offer] * raw
        return base, treated

    def predict(self, customers: pd.DataFrame, *, offer: str) -> np.ndarray:
        """Predicted save of ``offer`` per customer: P(churn | control) − P(churn | offer).

        ``customers`` needs ``churn_probability`` and the feature columns the model was
        fitted on (extra columns are ignored), and ``top_category`` when the model was
        anchored on catalog priors. An offer never tried in a resolved campaign gets its
        catalog prior adjusted by the pooled deviation of the tried offers when the model
        knows that prior, else the row-weighted average save of the tried offers. Values
        lie in [−1, 1]; negative means the contact makes churn more likely.
        """
        if not self.offers_:
            raise StateError("the uplift model is not fitted; fit it or load a saved one")
        if "churn_probability" not in customers.columns:
            raise InputError("customers lack the column churn_probability the uplift model needs")
        if customers.empty:
            return np.zeros(0)
        m = self._matrix(customers)
        zlin = self._linear(customers) if self.learner == "offset_linear" else None
        logit_p = _logit(customers["churn_probability"].to_numpy(dtype=np.float64))
        anchored = offer in self.priors and self.learner != "s_learner"
        known = [offer] if offer in self.offers_ or anchored else list(self.offers_)
        weights = np.array([self.rows_.get(o, 1) for o in known], dtype=np.float64)
        save = np.zeros(len(customers))
        for o, wgt in zip(known, weights / weights.sum(), strict=True):
            z0, z1 = self._log_odds(m, zlin, logit_p, o, customers)
            save += wgt * (_sigmoid(z0) - _sigmoid(z1))
        out: np.ndarray = np.clip(save, -1.0, 1.0)
        return out

    def predict_all(self, customers: pd.DataFrame) -> pd.DataFrame:
        """Predicted save of every fitted offer: one column per offer, aligned with the rows."""
        return pd.DataFrame(
            {o: self.predict(customers, offer=o) for o in self.offers_}, index=customers.index
        )

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: learner, offers, rows, shifts and shrinkage weights."""
        return {
            "learner": self.learner,
            "offers": list(self.offers_),
            "rows": dict(self.rows_),
            "control_calibration": {"a": self.control_[0], "b": self.control_[1]},
            "pooled_shift": self.pooled_shift_,
            "offer_shift": dict(self.shift_),
            "tree_weight": dict(self.weight_),
            "ridge_rows": self.ridge_rows,
            "ridge_pooled": self.ridge_pooled,
            "shrink_rows": self.shrink_rows,
            "shift_shrinkage": self.shrinkage_,
            "priors": bool(self.priors),
            "trees": {k: int(v.num_trees()) for k, v in self.boosters_.items()},
        }


def _check_frame(frame: pd.DataFrame) -> None:
    need = {"arm", "offer", "churned", "churn_probability"}
    missing = sorted(need - set(frame.columns))
    if missing:
        raise InputError(f"the uplift training frame lacks columns {missing}")
    arms = set(frame["arm"].dropna().unique())
    if not arms <= {"treatment", "control"}:
        raise InputError(f"arm must be treatment or control, got {sorted(map(str, arms))}")
    if "control" not in arms or "treatment" not in arms:
        raise StateError(
            "the resolved campaigns need both treated and control customers; "
            "plan campaigns with a control group (--holdout 0.1)"
        )
    treated_offer = frame.loc[frame["arm"] == "treatment", "offer"]
    if treated_offer.isna().any():
        raise InputError(f"{int(treated_offer.isna().sum())} treated rows have no offer")
    p = frame["churn_probability"]
    if p.isna().any() or (p < 0).any() or (p > 1).any():
        raise InputError("churn_probability must lie in [0, 1] without gaps")


def fit_uplift(
    frame: pd.DataFrame,
    *,
    learner: str = DEFAULT_LEARNER,
    seed: int = 42,
    threads: int = 1,
    shrink_rows: float = 2500.0,
    priors: Mapping[str, Mapping[str, float]] | None = None,
) -> UpliftLearner:
    """Fit a multi-treatment uplift model on a training frame.

    Parameters
    ----------
    frame
        One row per resolved member: ``arm``, ``offer``, ``churned``,
        ``churn_probability`` and feature columns (everything not in ``META_COLUMNS``).
    learner
        One of ``LEARNERS`` (``offset_intercept`` by default, see the module docstring).
    shrink_rows
        An offer's own trees get weight ``n / (n + shrink_rows)``.
    priors
        The catalog's prior effects (offer → reason category → effect, with
        ``default``): the offer shifts are then learnt as deviations from them, so
        with few members the model stays near the priors (not for ``s_learner``).
    """
    if learner not in LEARNERS:
        raise InputError(f"unknown uplift learner {learner!r}; use one of {', '.join(LEARNERS)}")
    model = UpliftLearner(
        learner=learner,
        seed=seed,
        threads=threads,
        shrink_rows=shrink_rows,
        priors={o: dict(t) for o, t in (priors or {}).items()},
    )
    return model.fit(frame)


# --------------------------------------------------------------------------- evaluation


def split_heldout(
    frame: pd.DataFrame, *, seed: int = 42, share: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Training and held-out rows: the latest campaign when there are two or more.

    With a single campaign, a random ``share`` of the rows stratified by arm, offer
    and outcome is held out. Returns ``(train, heldout, description)``.
    """
    if "campaign_id" in frame.columns and frame["campaign_id"].nunique() >= 2:
        keys = frame[["campaign_id"]].copy()
        keys["as_of"] = frame["as_of"] if "as_of" in frame.columns else 0
        latest = keys.sort_values(["as_of", "campaign_id"]).iloc[-1]["campaign_id"]
        held = (frame["campaign_id"] == latest).to_numpy()
        desc: dict[str, Any] = {"split": "latest_campaign", "heldout_campaign": int(latest)}
    else:
        strata = (
            frame["arm"].astype(str)
            + "|"
            + frame["offer"].astype(str)
            + "|"
            + frame["churned"].astype(int).astype(str)
        )
        rng = np.random.default_rng(seed)
        u = rng.random(len(frame))
        # Rank within each stratum: the lowest `share` of each stratum is held out.
        rank = pd.Series(u).groupby(strata.to_numpy()).rank(pct=True).to_numpy()
        held = rank <= share
        desc = {"split": f"random_{round(share * 100)}pct_stratified"}
    desc["rows_train"] = int((~held).sum())
    desc["rows_heldout"] = int(held.sum())
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True), desc


def evaluate_uplift(model: UpliftLearner, heldout: pd.DataFrame) -> dict[str, Any]:
    """Per-offer and policy-level Qini / AUUC of ``model`` on held-out rows."""
    saves = model.predict_all(heldout)
    per_offer = {o: offer_qini(heldout, saves, offer=o) for o in model.offers_}
    policy = policy_qini(heldout, saves)
    scored = [v for v in per_offer.values() if v is not None]
    weights = np.array([v["rows_treated"] for v in scored], dtype=np.float64)
    mean_qini = float(np.average([v["qini"] for v in scored], weights=weights)) if scored else None
    return {
        "offers": per_offer,
        "policy": policy,
        "qini_weighted_mean": mean_qini,
        "rows": len(heldout),
    }


# --------------------------------------------------------------------------- persistence


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_uplift(model: UpliftLearner, directory: Path) -> str:
    """Write ``model`` into ``directory`` (replaced); returns the artifact checksum.

    LightGBM boosters as text files, everything else in ``uplift.json`` with the
    SHA-256 of each booster file; ``uplift.sha256`` holds the checksum of the JSON.
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    files: dict[str, str] = {}
    for i, (key, booster) in enumerate(sorted(model.boosters_.items())):
        name = f"booster_{i}.lgb.txt"
        booster.save_model(str(directory / name))
        files[name] = key
    meta = {
        **model.meta,
        "format": FORMAT,
        "learner": model.learner,
        "seed": model.seed,
        "shrink_rows": model.shrink_rows,
        "shrinkage": model.shrinkage_,
        "priors": model.priors,
        "prior_rows": model.prior_rows,
        "plan": model.plan_.to_dict(),
        "features": [*model.plan_.features, "churn_probability"],
        "vocab": model.vocab_,
        "offers": list(model.offers_),
        "rows": model.rows_,
        "control": list(model.control_),
        "shift": model.shift_,
        "pooled_shift": model.pooled_shift_,
        "weight": model.weight_,
        "ridge_rows": model.ridge_rows,
        "ridge_pooled": model.ridge_pooled,
        "encoding": model.encoding_,
        "coef": model.coef_,
        "boosters": files,
        "sha256": {name: _sha256(directory / name) for name in files},
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (directory / _META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), "utf-8")
    checksum = _sha256(directory / _META)
    (directory / _SUM).write_text(checksum + "\n", encoding="ascii")
    model.meta = meta
    model.checksum = checksum
    return checksum


def load_uplift(
    directory: Path, *, expected_checksum: str | None = None, threads: int = 1
) -> UpliftLearner:
    """Read an uplift model after verifying its checksums.

    Raises
    ------
    NotFoundError
        No uplift model in ``directory``.
    StateError
        A file was changed since the model was saved, or the checksum differs from
        ``expected_checksum`` (the registry's).
    """
    meta_path = directory / _META
    if not meta_path.is_file() or not (directory / _SUM).is_file():
        raise NotFoundError(
            f"no uplift model in {directory} ({_META} / {_SUM} missing); "
            "refit it with fit_and_register once campaigns are resolved"
        )
    actual = _sha256(meta_path)
    recorded = (directory / _SUM).read_text(encoding="ascii").strip()
    for label, want in ((_SUM, recorded), ("the registry", expected_checksum)):
        if want is not None and actual != want:
            raise StateError(
                f"uplift model {directory}: {_META} checksum {actual[:12]}… does not match "
                f"{label} ({want[:12]}…); the artifact was altered — refit or restore it"
            )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise StateError(
            f"uplift model {directory} has format {meta.get('format')!r}, "
            f"expected {FORMAT}; refit it"
        )
    boosters: dict[str, lgb.Booster] = {}
    for name, key in meta["boosters"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != meta["sha256"][name]:
            raise StateError(
                f"uplift model {directory}: {name} is missing or fails its SHA-256 check; "
                "the artifact was altered — refit or restore it"
            )
        boosters[key] = lgb.Booster(model_file=str(path))
    a, b = meta["control"]
    return UpliftLearner(
        learner=meta["learner"],
        shrink_rows=float(meta["shrink_rows"]),
        shrinkage_=meta["shrinkage"],
        priors={k: {c: float(e) for c, e in v.items()} for k, v in meta["priors"].items()},
        prior_rows=float(meta["prior_rows"]),
        seed=int(meta["seed"]),
        threads=threads,
        plan_=ColumnPlan.from_dict(meta["plan"]),
        vocab_={k: list(v) for k, v in meta["vocab"].items()},
        offers_=tuple(meta["offers"]),
        rows_={k: int(v) for k, v in meta["rows"].items()},
        control_=(float(a), float(b)),
        shift_={k: float(v) for k, v in meta["shift"].items()},
        pooled_shift_=float(meta["pooled_shift"]),
        weight_={k: float(v) for k, v in meta["weight"].items()},
        boosters_=boosters,
        ridge_rows=float(meta["ridge_rows"]),
        ridge_pooled=float(meta["ridge_pooled"]),
        encoding_=meta["encoding"],
        coef_={k: [float(x) for x in v] for k, v in meta["coef"].items()},
        meta=meta,
        checksum=actual,
    )


# --------------------------------------------------------------------------- workspace


_MEMBER_COLUMNS = (
    "member_id",
    "campaign_id",
    "as_of",
    "subscriber_id",
    "arm",
    "offer",
    "churn_probability",
    "top_category",
    "outcome",
)


def _resolved_members(settings: Settings, *, purpose: str) -> pd.DataFrame:
    with session_scope(settings) as s:
        rows = s.execute(
            select(
                CampaignMember.id,
                CampaignMember.campaign_id,
                Campaign.as_of,
                CampaignMember.subscriber_id,
                CampaignMember.arm,
                CampaignMember.offer,
                CampaignMember.churn_probability,
                CampaignMember.top_category,
                CampaignMember.outcome,
            )
            .join(Campaign, Campaign.id == CampaignMember.campaign_id)
            .where(Campaign.purpose == purpose, CampaignMember.outcome.is_not(None))
            .order_by(CampaignMember.campaign_id, CampaignMember.id)
        ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(_MEMBER_COLUMNS))
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    # Control rows keep the offer they would have got in the store; here it is not theirs.
    frame["offer"] = frame["offer"].where(frame["arm"] == "treatment")
    return frame


def _join_snapshot(settings: Settings, keys: pd.DataFrame, *, what: str) -> pd.DataFrame:
    """``keys`` (with ``as_of``, ``subscriber_id``) joined with ``feature_snapshots`` in DuckDB."""
    from ..features.store import SNAPSHOT_TABLE
    from ..warehouse.analytical import connect, raw, table_exists

    backend = connect(settings, read_only=True)
    try:
        con = raw(backend)
        if not table_exists(con, SNAPSHOT_TABLE):
            raise StateError(
                f"no feature snapshots in the warehouse for the {what}; "
                "run 'churnguard features build --as-of YYYY-MM' for the campaigns' months"
            )
        con.register("uplift_keys", keys)
        try:
            out: pd.DataFrame = con.execute(
                f"SELECT k.*, f.* EXCLUDE (as_of, subscriber_id) FROM uplift_keys k "
                f"JOIN {SNAPSHOT_TABLE} f ON f.as_of = CAST(k.as_of AS DATE) "
                "AND f.subscriber_id = k.subscriber_id ORDER BY k.__row"
            ).df()
        finally:
            con.unregister("uplift_keys")
    finally:
        backend.disconnect()
    return out


def uplift_training_frame(settings: Settings, *, purpose: str = "retention") -> pd.DataFrame:
    """Resolved campaign members joined with their feature snapshot at the campaign's as-of.

    One row per member with a non-null outcome: ``member_id``, ``campaign_id``,
    ``as_of``, ``subscriber_id``, ``arm``, ``offer`` (treated rows only),
    ``churn_probability`` (scored at planning), ``outcome``, ``churned`` (outcome is
    ``churned_voluntary``) and every ``feature_snapshots`` column. Treated members
    count as treated whether or not the contact got through (intent to treat).

    Raises
    ------
    StateError
        Members exist but the snapshot of a campaign's month is missing.
    """
    members = _resolved_members(settings, purpose=purpose)
    if members.empty:
        return members.assign(churned=pd.Series(dtype=bool))
    members["__row"] = np.arange(len(members))
    joined = _join_snapshot(settings, members, what="resolved campaigns")
    found = joined.groupby("campaign_id").size()
    asked = members.groupby("campaign_id").size()
    empty = sorted(
        {
            members.loc[members["campaign_id"] == c, "as_of"].iloc[0].strftime("%Y-%m")
            for c in asked.index
            if found.get(c, 0) == 0
        }
    )
    if empty:
        raise StateError(
            f"no feature snapshot for the members of campaigns planned on {', '.join(empty)}; "
            "run 'churnguard features build --as-of MONTH' for those months"
        )
    lost = len(members) - len(joined)
    if lost:
        log.warning("%d resolved members have no feature-snapshot row and are left out", lost)
    joined = joined.drop(columns="__row")
    joined["as_of"] = pd.to_datetime(joined["as_of"])
    joined.insert(
        joined.columns.get_loc("outcome") + 1, "churned", joined["outcome"] == "churned_voluntary"
    )
    return joined


def with_features(
    settings: Settings, customers: pd.DataFrame, *, as_of: str | date | pd.Timestamp
) -> pd.DataFrame:
    """``customers`` with the feature-snapshot columns of ``as_of`` the uplift model needs.

    Columns already in ``customers`` are kept; the join runs in DuckDB. Customers
    without a snapshot row keep missing features.
    """
    if "subscriber_id" not in customers.columns:
        raise InputError("customers lack the column subscriber_id")
    keys = pd.DataFrame(
        {
            "subscriber_id": customers["subscriber_id"].astype(str).to_numpy(),
            "as_of": pd.Timestamp(as_of).to_period("M").to_timestamp(),
            "__row": np.arange(len(customers)),
        }
    )
    joined = _join_snapshot(settings, keys, what="customers to score")
    extra = [c for c in joined.columns if c not in customers.columns and c not in keys.columns]
    features = joined.set_index("__row")[extra].reindex(np.arange(len(customers)))
    features.index = customers.index
    return pd.concat([customers, features], axis=1)


@dataclass(frozen=True)
class UpliftSummary:
    """What :func:`fit_and_register` fitted and stored."""

    version: str
    purpose: str
    learner: str
    campaigns: tuple[int, ...]
    rows: int
    metrics: dict[str, Any]
    artifact_path: str
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "purpose": self.purpose,
            "learner": self.learner,
            "campaigns": list(self.campaigns),
            "rows": self.rows,
            "metrics": self.metrics,
            "artifact_path": self.artifact_path,
            "checksum": self.checksum,
        }


def _json_ready(value: Any) -> Any:
    return json.loads(
        json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    )


def fit_and_register(
    settings: Settings, *, purpose: str = "retention", learner: str = DEFAULT_LEARNER
) -> UpliftSummary:
    """Fit the uplift model on all resolved campaigns, store it and make it active.

    Held-out quality (Qini / AUUC) comes from a fit without the latest campaign
    (or without a stratified random 30 % when there is one campaign); the stored
    model is then refitted on every row. Earlier active models of ``purpose`` retire.

    Raises
    ------
    StateError
        Fewer resolved campaigns or members than ``settings.retention.min_uplift_campaigns``
        / ``min_uplift_rows``, or no control group.
    """
    cfg = settings.retention
    frame = uplift_training_frame(settings, purpose=purpose)
    campaigns = tuple(sorted(int(c) for c in frame["campaign_id"].unique())) if len(frame) else ()
    if len(campaigns) < cfg.min_uplift_campaigns or len(frame) < cfg.min_uplift_rows:
        raise StateError(
            f"the uplift model needs at least {cfg.min_uplift_campaigns} resolved {purpose} "
            f"campaign(s) and {cfg.min_uplift_rows} resolved members with a feature snapshot; "
            f"there are {len(campaigns)} campaign(s) and {len(frame)} member(s). Keep planning "
            "with the catalog's priors and resolve outcomes after the observation window"
        )
    from .catalog import load_catalog

    catalog = load_catalog(workspace=settings.workspace)
    priors = {o.code: dict(o.effect) for o in catalog.offers if o.purpose == purpose}
    seed, threads = settings.models.seed, settings.models.threads
    train, heldout, split = split_heldout(frame, seed=seed)
    probe = fit_uplift(train, learner=learner, seed=seed, threads=threads, priors=priors)
    metrics = _json_ready({**split, **evaluate_uplift(probe, heldout)})
    model = fit_uplift(frame, learner=learner, seed=seed, threads=threads, priors=priors)
    created = datetime.now(UTC)
    with session_scope(settings) as s:
        n = int(s.scalar(select(func.count(UpliftModel.id))) or 0) + 1
        version = f"{purpose}-{created:%Y%m%d%H%M%S}-u{n}"
        directory = settings.models_dir / "uplift" / version
        model.meta = {"version": version, "purpose": purpose, "metrics": metrics}
        checksum = save_uplift(model, directory)
        rel = str(directory.relative_to(settings.workspace))
        s.execute(
            update(UpliftModel)
            .where(UpliftModel.purpose == purpose, UpliftModel.status == "active")
            .values(status="retired")
        )
        s.add(
            UpliftModel(
                version=version,
                purpose=purpose,
                learner=learner,
                campaigns=list(campaigns),
                rows=len(frame),
                metrics=metrics,
                artifact_path=rel,
                checksum=checksum,
                status="active",
                created_at=created,
            )
        )
    log.info(
        "uplift model %s fitted on %d members of %d campaigns", version, len(frame), len(campaigns)
    )
    return UpliftSummary(version, purpose, learner, campaigns, len(frame), metrics, rel, checksum)


def active_uplift(settings: Settings, *, purpose: str = "retention") -> UpliftLearner | None:
    """The active uplift model of ``purpose`` (checksums verified), or ``None`` if none."""
    with session_scope(settings) as s:
        row = s.scalars(
            select(UpliftModel)
            .where(UpliftModel.purpose == purpose, UpliftModel.status == "active")
            .order_by(UpliftModel.id.desc())
        ).first()
        if row is None:
            return None
        path, checksum = Path(row.artifact_path), row.checksum
    directory = path if path.is_absolute() else settings.workspace / path
    return load_uplift(directory, expected_checksum=checksum, threads=settings.models.threads)
