"""A compiled LightGBM evaluator: raw scores and path attributions at native speed.

:class:`CompiledEnsemble` flattens the trees of a LightGBM booster
(``booster.dump_model()``) into a few arrays and walks them with numba-compiled
loops. Its raw scores equal ``booster.predict(X, raw_score=True)`` (same
decisions, same summation order) and come ~3x faster: rows are scored in small
blocks, one tree at a time (the tree stays in the CPU cache), and walked several
rows in lockstep without data-dependent branches (see the layout note below).

The same traversal yields *path attributions* (Saabas, "treeinterpreter"):
every split on a row's path credits its feature with the change of the node's
expected value from the node to the child taken. The node's expected value is
the training-count-weighted mean of the leaves below it (what LightGBM's TreeSHAP
uses as a tree's expected value), so the bias column equals ``pred_contrib``'s
and ``bias + sum(row)`` equals the raw score. Path attributions cost one tree
walk per row; exact TreeSHAP (``pred_contrib``) costs ~100× more per row on
31-leaf trees. They rank the main reasons much like SHAP (see ``bench/README.md``),
but they are not Shapley values: a feature split near the root gets credit that
SHAP would share with features deeper in the path.

Decision semantics follow LightGBM's ``Tree::NumericalDecision`` and
``Tree::CategoricalDecision`` (``include/LightGBM/tree.h``):

* inputs with ``|x| <= 1e-35`` are zero (LightGBM drops them from dense rows);
* numerical split, missing type ``NaN``: NaN takes the default direction;
* missing type ``Zero``: NaN and zero take the default direction;
* missing type ``None``: NaN is treated as zero, then ``x <= threshold``;
* categorical split: NaN, negative values and values beyond int32 go right;
  otherwise ``int(x)`` (truncated) goes left when it is in the split's set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from ..errors import InputError

__all__ = ["CompiledEnsemble", "kernel_caching"]

# LightGBM's kZeroThreshold is the float 1e-35f; compare with its exact double value.
_ZERO = float(np.float32(1e-35))
_INT_LO = -2147483648.0
_INT_HI = 2147483648.0
_BLOCK = 64  # rows per block: a block of rows and one tree stay in the L1/L2 cache
_LANES = 8  # rows walked in lockstep

_POOL_LOCK = threading.Lock()

# Bits of a node's flags.
_CATEGORICAL = 1
_NAN_LEFT = 2  # NaN goes left
_ZERO_LEFT = 4  # an input within ±1e-35 goes left (used with _ZERO_CHECK only)
_ZERO_CHECK = 8  # the split needs the exact zero / missing-type handling
_LEAF = 16
_LOCKSTEP_SHARE = 0.9  # lockstep steps per tree: the depth that holds this share of rows


# -- kernels -----------------------------------------------------------------------------
# Plain Python bodies, jitted at import (compilation itself is lazy) and cached on disk
# when a cache location is writable; see _jit.
#
# Layout: every node, leaves included, is one slot of the flat arrays, and a leaf's two
# children are itself. Rows are walked _LANES at a time in lockstep for a fixed number
# of steps per tree (the depth that holds 90 % of the training rows), then the few rows
# not yet on a leaf finish alone. In lockstep no branch depends on the data, which is
# what makes a plain "while not leaf" walk slow (a mispredicted branch per split), and
# the lanes' independent loads overlap.


def _block_py(
    x: np.ndarray,
    start: int,
    stop: int,
    raw: np.ndarray,
    path: np.ndarray,
    with_path: bool,
    roots: np.ndarray,
    steps: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    flags: np.ndarray,
    children: np.ndarray,
    cat_start: np.ndarray,
    cat_words: np.ndarray,
    cat_bits: np.ndarray,
    value: np.ndarray,
) -> None:
    """Add each tree's output for rows ``start:stop`` to ``raw`` (and attributions to ``path``).

    The split decision is written out twice, in place: as a function (even inlined
    by numba) the walk ran 8x slower, and one loop for both phases 20 % slower.
    """
    nodes = np.empty(_LANES, dtype=np.int64)
    for t in range(roots.shape[0]):
        root = roots[t]
        for i0 in range(start, stop, _LANES):
            lanes = min(_LANES, stop - i0)
            for k in range(lanes):
                nodes[k] = root
            # Lockstep; a lane on its leaf steps in place (and adds 0 to path).
            for _ in range(steps[t]):
                for k in range(lanes):
                    node = nodes[k]
                    f = flags[node]
                    j = feature[node]
                    v = x[i0 + k, j]
                    if f & _CATEGORICAL:
                        # NaN, negative and out-of-int32 values go right; int() truncates like C
                        left = False
                        if v == v and v > _INT_LO - 1.0 and v < _INT_HI:
                            c = int(v)
                            if c >= 0 and (c >> 5) < cat_words[node]:
                                word = cat_bits[cat_start[node] + (c >> 5)]
                                left = ((word >> (c & 31)) & 1) == 1
                    elif f & _ZERO_CHECK:
                        if v != v:
                            left = (f & _NAN_LEFT) != 0
                        elif -_ZERO <= v <= _ZERO:
                            left = (f & _ZERO_LEFT) != 0
                        else:
                            left = v <= threshold[node]
                    else:
                        # non-short-circuit operators: no data-dependent branch
                        left = (v <= threshold[node]) | ((v != v) & ((f & _NAN_LEFT) != 0))
                    child = children[2 * node + 1 - left]
                    if with_path:
                        path[i0 + k, j] += value[child] - value[node]
                    nodes[k] = child
            # The same decision, for the lanes still above their leaf.
            for k in range(lanes):
                node = nodes[k]
                while not flags[node] & _LEAF:
                    f = flags[node]
                    j = feature[node]
                    v = x[i0 + k, j]
                    if f & _CATEGORICAL:
                        # NaN, negative and out-of-int32 values go right; int() truncates like C
                        left = False
                        if v == v and v > _INT_LO - 1.0 and v < _INT_HI:
                            c = int(v)
                            if c >= 0 and (c >> 5) < cat_words[node]:
                                word = cat_bits[cat_start[node] + (c >> 5)]
                                left = ((word >> (c & 31)) & 1) == 1
                    elif f & _ZERO_CHECK:
                        if v != v:
                            left = (f & _NAN_LEFT) != 0
                        elif -_ZERO <= v <= _ZERO:
                            left = (f & _ZERO_LEFT) != 0
                        else:
                            left = v <= threshold[node]
                    else:
                        # non-short-circuit operators: no data-dependent branch
                        left = (v <= threshold[node]) | ((v != v) & ((f & _NAN_LEFT) != 0))
                    child = children[2 * node + 1 - left]
                    if with_path:
                        path[i0 + k, j] += value[child] - value[node]
                    node = child
                raw[i0 + k] += value[node]


def _serial_py(
    x: np.ndarray, raw: np.ndarray, path: np.ndarray, with_path: bool, *arrays: np.ndarray
) -> None:
    n = x.shape[0]
    for b in range((n + _BLOCK - 1) // _BLOCK):
        _block(x, b * _BLOCK, min(n, (b + 1) * _BLOCK), raw, path, with_path, *arrays)


def _parallel_py(
    x: np.ndarray, raw: np.ndarray, path: np.ndarray, with_path: bool, *arrays: np.ndarray
) -> None:
    n = x.shape[0]
    for b in numba.prange((n + _BLOCK - 1) // _BLOCK):
        _block(x, b * _BLOCK, min(n, (b + 1) * _BLOCK), raw, path, with_path, *arrays)


def _jit(fn: Callable[..., Any], *, parallel: bool = False) -> Any:
    """``numba.njit`` with an on-disk cache when numba finds a writable place for one.

    numba raises ``RuntimeError`` at decoration time when neither the package's
    ``__pycache__``, ``NUMBA_CACHE_DIR`` nor the user cache directory is writable
    (read-only images, locked-down services); then the kernels are compiled in
    memory on first use instead.
    """
    options: dict[str, Any] = {"nogil": True, "parallel": parallel, "error_model": "numpy"}
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:
        return numba.njit(cache=False, **options)(fn)


_block = _jit(_block_py)
_serial = _jit(_serial_py)
_parallel = _jit(_parallel_py, parallel=True)


def kernel_caching() -> bool:
    """Whether the compiled kernels are cached on disk (``False``: compiled per process)."""
    return bool(getattr(_parallel, "_cache", None) is not None) and not isinstance(
        _parallel._cache, numba.core.caching.NullCache
    )


# -- flattening --------------------------------------------------------------------------


@dataclass
class _Flat:
    """Node arrays grown while the dumped trees are walked once (leaves are nodes too)."""

    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    cat_start: list[int] = field(default_factory=list)
    cat_words: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    cat_bits: list[int] = field(default_factory=list)

    def new_node(self) -> int:
        idx = len(self.feature)
        self.feature.append(0)
        self.threshold.append(0.0)
        self.flags.append(_LEAF)  # until _split_flags makes it a split
        self.children.extend((idx, idx))  # a leaf loops on itself
        self.cat_start.append(0)
        self.cat_words.append(0)
        self.value.append(0.0)
        return idx

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "feature": np.asarray(self.feature, dtype=np.int32),
            "threshold": np.asarray(self.threshold, dtype=np.float64),
            "flags": np.asarray(self.flags, dtype=np.uint8),
            "children": np.asarray(self.children, dtype=np.int32),
            "cat_start": np.asarray(self.cat_start, dtype=np.int32),
            "cat_words": np.asarray(self.cat_words, dtype=np.int32),
            # one padding word keeps the array non-empty for models without categoricals
            "cat_bits": np.asarray([*self.cat_bits, 0], dtype=np.uint32),
            "value": np.asarray(self.value, dtype=np.float64),
        }


def _bitset(categories: list[int]) -> list[int]:
    words = [0] * (max(categories) // 32 + 1)
    for c in categories:
        words[c >> 5] |= 1 << (c & 31)
    return words


def _split_flags(node: dict[str, Any], flat: _Flat, idx: int) -> None:
    """Fill the decision of split ``idx`` from a dumped node."""
    default_left = bool(node["default_left"])
    missing = str(node["missing_type"])
    if node["decision_type"] == "==":
        cats = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
        if not cats or min(cats) < 0:
            raise InputError(
                f"categorical split with an invalid category set {node['threshold']!r}"
            )
        words = _bitset(cats)
        flat.flags[idx] = _CATEGORICAL
        flat.cat_start[idx] = len(flat.cat_bits)
        flat.cat_words[idx] = len(words)
        flat.cat_bits.extend(words)
        return
    if node["decision_type"] != "<=":
        raise InputError(f"unsupported LightGBM decision type {node['decision_type']!r}")
    thr = float(node["threshold"])
    flat.threshold[idx] = thr
    # NaN is missing (type NaN), zero-like (type Zero: missing), or zero (type None).
    nan_left = default_left if missing in ("NaN", "Zero") else thr >= 0.0
    zero_left = default_left if missing == "Zero" else thr >= 0.0
    # Inputs within ±1e-35 are zero to LightGBM: only splits whose threshold lies in that
    # band, or that treat zero as missing, need the slower exact check.
    zero_check = missing == "Zero" or -_ZERO <= thr < _ZERO
    flat.flags[idx] = _NAN_LEFT * nan_left | _ZERO_LEFT * zero_left | _ZERO_CHECK * zero_check


def _add_tree(root: dict[str, Any], flat: _Flat) -> tuple[int, int, int]:
    """Append one dumped tree; returns its root node, its depth and its lockstep steps."""
    leaf_depth: list[int] = []
    leaf_count: list[float] = []

    def visit(node: dict[str, Any], level: int) -> tuple[int, float]:
        # returns (node index, training count)
        idx = flat.new_node()
        if "split_index" not in node:
            if node.get("leaf_coeff"):
                raise InputError("linear trees are not supported by the compiled evaluator")
            flat.value[idx] = float(node["leaf_value"])
            leaf_depth.append(level)
            leaf_count.append(float(node.get("leaf_count", 0)))
            return idx, leaf_count[-1]
        flat.feature[idx] = int(node["split_feature"])
        _split_flags(node, flat, idx)
        left, lcount = visit(node["left_child"], level + 1)
        right, rcount = visit(node["right_child"], level + 1)
        flat.children[2 * idx] = left
        flat.children[2 * idx + 1] = right
        count = lcount + rcount
        # The count-weighted mean of the leaves below (LightGBM's ExpectedValue at the
        # root); LightGBM's own internal value when training counts are missing.
        flat.value[idx] = (
            (flat.value[left] * lcount + flat.value[right] * rcount) / count
            if count > 0
            else float(node["internal_value"])
        )
        return idx, count

    idx, total = visit(root, 0)
    depths = np.asarray(leaf_depth)
    depth = int(depths.max())
    if total <= 0:
        return idx, depth, depth
    order = np.argsort(depths, kind="stable")
    share = np.cumsum(np.asarray(leaf_count)[order]) / total
    at = min(int(np.searchsorted(share, _LOCKSTEP_SHARE)), len(order) - 1)
    return idx, depth, int(depths[order][at])


class CompiledEnsemble:
    """A LightGBM tree ensemble flattened into arrays and evaluated by compiled loops.

    Build it with :meth:`from_booster`; it holds only NumPy arrays and numbers, so
    it pickles and copies cheaply. ``threads=0`` means all cores (numba's thread
    pool); ``threads=1`` runs a serial loop without touching the thread pool
    (safe inside web workers and after ``fork``).

    Attributes
    ----------
    n_features
        Columns the input matrix must have.
    bias
        The ensemble's expected raw score (sum of the trees' expected values):
        the last column of :meth:`contributions`.
    objective, sigmoid
        LightGBM's objective name and sigmoid scale (for :meth:`probabilities`).
    depths, steps
        Per tree: its depth, and the lockstep steps (depth holding 90 % of the
        training rows; deeper rows finish one by one).
    """

    def __init__(
        self,
        *,
        n_features: int,
        roots: np.ndarray,
        depths: np.ndarray,
        arrays: dict[str, np.ndarray],
        steps: np.ndarray | None = None,
        objective: str = "binary",
        sigmoid: float = 1.0,
        average_output: bool = False,
        feature_names: list[str] | None = None,
    ) -> None:
        self.n_features = n_features
        self.roots = np.asarray(roots, dtype=np.int32)
        self.depths = np.asarray(depths, dtype=np.int32)
        self.steps = self.depths if steps is None else np.asarray(steps, dtype=np.int32)
        self.arrays = arrays
        self.objective = objective
        self.sigmoid = sigmoid
        self.average_output = average_output
        self.feature_names = list(feature_names or [])
        value = arrays["value"]
        self.bias = float(np.sum(value[self.roots])) if self.n_trees else 0.0

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return int(self.roots.shape[0])

    @classmethod
    def from_booster(cls, booster: Any, *, num_iteration: int | None = None) -> CompiledEnsemble:
        """Flatten a trained ``lightgbm.Booster`` (single-output models only).

        Parameters
        ----------
        booster
            A trained booster (binary, regression or any single-output objective).
        num_iteration
            Iterations to use; ``None`` follows ``booster.predict`` (best iteration if any).

        Raises
        ------
        InputError
            Multi-class models, linear trees, or a decision type this evaluator
            does not know.
        """
        return cls.from_dump(booster.dump_model(num_iteration=num_iteration))

    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> CompiledEnsemble:
        """Flatten the dictionary of ``booster.dump_model()``."""
        per_iteration = int(dump.get("num_tree_per_iteration", 1))
        if per_iteration != 1:
            raise InputError(
                "the compiled evaluator handles single-output models only (this one has "
                f"{per_iteration} trees per iteration); use booster.predict for multi-class"
            )
        flat = _Flat()
        roots: list[int] = []
        depths: list[int] = []
        steps: list[int] = []
        for tree in dump["tree_info"]:
            if tree.get("is_linear"):
                raise InputError("linear trees are not supported by the compiled evaluator")
            root, depth, step = _add_tree(tree["tree_structure"], flat)
            roots.append(root)
            depths.append(depth)
            steps.append(step)
        words = str(dump.get("objective", "")).split()
        sigmoid = 1.0
        for part in words[1:]:
            if part.startswith("sigmoid:"):
                sigmoid = float(part.split(":", 1)[1])
        return cls(
            n_features=int(dump["max_feature_idx"]) + 1,
            roots=np.asarray(roots, dtype=np.int32),
            depths=np.asarray(depths, dtype=np.int32),
            steps=np.asarray(steps, dtype=np.int32),
            arrays=flat.arrays(),
            objective=words[0] if words else "",
            sigmoid=sigmoid,
            average_output=bool(dump.get("average_output", False)),
            feature_names=[str(n) for n in dump.get("feature_names", [])],
        )

    # -- scoring -------------------------------------------------------------------------
    def _check(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise InputError(
                f"the model expects a 2-D matrix with {self.n_features} feature columns, "
                f"got shape {arr.shape}; pass the columns in the order the model was trained on"
            )
        if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            raise InputError(
                f"the model expects numbers (NaN for missing), got dtype {arr.dtype}; "
                "code categories as integers first"
            )
        arr = arr.astype(np.float64, copy=False)
        # Row-major and column-major matrices are both read in place (a column-major
        # one is cheaper to build from a DataFrame and as fast to score); others are copied.
        if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
            arr = np.ascontiguousarray(arr)
        return arr

    def _evaluate(self, x: np.ndarray, *, with_path: bool, threads: int) -> tuple[np.ndarray, ...]:
        n = x.shape[0]
        raw = np.zeros(n, dtype=np.float64)
        path = np.zeros((n, self.n_features + 1) if with_path else (1, 1), dtype=np.float64)
        a = self.arrays
        arrays = (
            self.roots,
            self.steps,
            a["feature"],
            a["threshold"],
            a["flags"],
            a["children"],
            a["cat_start"],
            a["cat_words"],
            a["cat_bits"],
            a["value"],
        )
        if threads < 0:
            raise InputError(f"threads must be 0 (all cores) or positive, got {threads}")
        pool = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        want = pool if threads == 0 else min(threads, pool)
        if want <= 1 or n <= _BLOCK:
            _serial(x, raw, path, with_path, *arrays)
        else:
            # One parallel kernel at a time: the pool is all cores already, and numba's
            # fallback "workqueue" layer (no OpenMP/TBB) aborts on concurrent launches.
            with _POOL_LOCK:
                before = numba.get_num_threads()
                numba.set_num_threads(want)
                try:
                    _parallel(x, raw, path, with_path, *arrays)
                finally:
                    numba.set_num_threads(before)
        return raw, path

    def raw_scores(self, x: Any, *, threads: int = 1) -> np.ndarray:
        """Raw scores (log-odds for binary models), equal to ``predict(raw_score=True)``.

        Parameters
        ----------
        x
            ``(rows, n_features)`` numeric matrix in the training column order; NaN is
            missing, categories are their integer codes.
        threads
            ``1`` serial, ``0`` all cores, ``n`` at most ``n`` threads.

        Raises
        ------
        InputError
            Wrong shape or a non-numeric matrix.
        """
        raw, _ = self._evaluate(self._check(x), with_path=False, threads=threads)
        return raw

    def probabilities(self, x: Any, *, threads: int = 1) -> np.ndarray:
        """Positive-class probabilities of a binary model, as ``booster.predict`` gives them."""
        if self.objective not in ("binary", "cross_entropy"):
            raise InputError(
                f"probabilities need a binary model; this one's objective is {self.objective!r}"
            )
        raw = self.raw_scores(x, threads=threads)
        if self.average_output and self.n_trees:
            # random forests: LightGBM averages the trees for predictions, not raw scores
            raw /= self.n_trees
        scale = self.sigmoid if self.objective == "binary" else 1.0
        return np.asarray(1.0 / (1.0 + np.exp(-scale * raw)))

    def contributions(self, x: Any, *, threads: int = 1) -> np.ndarray:
        """Path attributions, laid out like ``pred_contrib``: ``(rows, n_features + 1)``.

        Column ``j < n_features`` is feature ``j``'s contribution to the raw score;
        the last column is :attr:`bias`, the same for every row. Each row sums to
        its raw score (up to float rounding).
        """
        _, path = self._evaluate(self._check(x), with_path=True, threads=threads)
        path[:, -1] = self.bias
        return path
