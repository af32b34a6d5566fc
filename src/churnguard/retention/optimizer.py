"""Next best action: choose at most one offer-and-channel per customer, exactly.

Maximise the total expected net value Σ v[i,a]·x[i,a] over binary x, where
``v = P(churn) × incremental save probability × CLV − expected cost``, subject to

* one action at most per customer,
* the campaign budget on expected cost,
* each channel's capacity (contacts per campaign),

solved as a mixed-integer linear program with HiGHS (``scipy.optimize.milp``).
Actions with non-positive value can never be part of an optimal plan and are
dropped before solving, which keeps the problem small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import InputError, StateError

__all__ = ["Plan", "solve_plan"]


@dataclass(frozen=True)
class Plan:
    """The chosen actions and how good the solution is."""

    chosen: pd.DataFrame  # the rows of the action table that were chosen
    objective: float  # total expected net value of the chosen actions
    bound: float  # the solver's proven upper bound (== objective when optimal)
    budget_used: float
    status: str

    @property
    def gap(self) -> float:
        """Relative optimality gap (0 when proven optimal)."""
        return 0.0 if self.bound <= 0 else max(0.0, (self.bound - self.objective) / self.bound)


def solve_plan(
    actions: pd.DataFrame,
    *,
    budget: float,
    channel_capacity: Mapping[str, int] | None = None,
    time_limit_s: float = 120.0,
    mip_rel_gap: float = 1e-6,
) -> Plan:
    """Choose at most one action per customer maximising expected net value.

    Parameters
    ----------
    actions
        One row per feasible (customer, offer, channel) with columns
        ``subscriber_id``, ``channel``, ``value`` (expected net value) and
        ``cost`` (expected cost charged to the budget). Other columns are kept.
    budget
        Upper bound on the total expected cost.
    channel_capacity
        Maximum contacts per channel in this campaign; channels not listed are
        unlimited.
    """
    need = {"subscriber_id", "channel", "value", "cost"}
    missing = need - set(actions.columns)
    if missing:
        raise InputError(f"the action table lacks columns {sorted(missing)}")
    if budget < 0:
        raise InputError("the budget must be zero or more")
    if (actions["cost"] < 0).any():
        raise InputError("action costs must be zero or more")
    cand = actions[actions["value"] > 0].reset_index(drop=True)
    if cand.empty:
        return Plan(actions.iloc[0:0].copy(), 0.0, 0.0, 0.0, "empty")
    n = len(cand)
    cust_codes, _ = pd.factorize(cand["subscriber_id"])
    n_cust = int(cust_codes.max()) + 1
    rows = [
        sparse.csr_matrix((np.ones(n), (cust_codes, np.arange(n))), shape=(n_cust, n)),
        sparse.csr_matrix(cand["cost"].to_numpy(dtype=float)[None, :]),
    ]
    upper = [np.ones(n_cust), np.array([float(budget)])]
    for channel, cap in (channel_capacity or {}).items():
        mask = (cand["channel"] == channel).to_numpy()
        if mask.any():
            rows.append(sparse.csr_matrix(mask.astype(float)[None, :]))
            upper.append(np.array([float(cap)]))
    a = sparse.vstack(rows, format="csr")
    ub = np.concatenate(upper)
    constraint = LinearConstraint(a, -np.inf, ub)
    value = cand["value"].to_numpy(dtype=float)
    res = milp(
        c=-value,
        constraints=[constraint],
        integrality=np.ones(n, dtype=np.int8),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap, "disp": False},
    )
    if res.x is None:
        raise StateError(
            f"the optimiser found no plan ({res.message}); check budget and capacities"
        )
    x = res.x > 0.5
    chosen = cand[x].copy()
    bound = -float(getattr(res, "mip_dual_bound", res.fun) or res.fun)
    return Plan(
        chosen=chosen,
        objective=float(value[x].sum()),
        bound=max(bound, float(value[x].sum())),
        budget_used=float(chosen["cost"].sum()),
        status="optimal" if res.status == 0 else str(res.message),
    )
