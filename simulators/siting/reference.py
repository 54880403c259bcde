"""Reference p-median by enumeration (tiny instances only; for tests).

Every set of ``p`` candidate sites is tried; for each, the best assignment is the nearest
open site (uncapacitated), or a transportation problem (capacitated, people may split),
solved with :func:`scipy.optimize.linprog`. Exponential in ``p``: keep to a dozen candidates.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.optimize import linprog

__all__ = ["p_median_reference"]


def _transport(w, cap, cost) -> float | None:
    """Cheapest split of people ``w`` over sites of capacity ``cap`` (None: infeasible)."""
    n, m = cost.shape
    big = np.where(np.isfinite(cost), cost, 0.0)
    bounds = [(0, None if np.isfinite(cost.flat[k]) else 0) for k in range(n * m)]
    a_eq = np.kron(np.eye(n), np.ones(m))  # each demand point fully served
    a_ub = np.kron(np.ones(n), np.eye(m))  # site loads within capacity
    res = linprog(big.ravel(), A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=w, bounds=bounds)
    return float(res.fun) if res.status == 0 else None


def p_median_reference(weights, cost_s, p: int, capacities=None) -> tuple[float, tuple]:
    """Optimal objective (person-seconds) and the sites of one optimum, by enumeration.

    Parameters
    ----------
    weights : (n_demand,) people.
    cost_s : (n_demand, n_sites) travel time (s), ``inf`` = no route.
    p : sites to open.
    capacities : (n_sites,) people, or None (uncapacitated; each to its nearest open site).
        With capacities, people may split between sites (``single_assignment=False``).
    """
    w = np.asarray(weights, float)
    cost = np.asarray(cost_s, float)
    best = (np.inf, ())
    for sites in combinations(range(cost.shape[1]), p):
        sub = cost[:, sites]
        if capacities is None:
            nearest = sub.min(axis=1)
            if not np.all(np.isfinite(nearest[w > 0])):
                continue
            value = float(w[w > 0] @ nearest[w > 0])
        else:
            value = _transport(w, np.asarray(capacities, float)[list(sites)], sub)
            if value is None:
                continue
        if value < best[0] - 1e-12:
            best = (value, sites)
    return best
