"""Lagrangian lower bound of the (capacitated) p-median and the reduced cost of every pair.

Relax the assignment rows ``sum_j x_ij + u_i = 1`` with multipliers ``lambda_i`` (s x people).
What is left splits by site: site ``j``, if open, takes the people with the most negative
``r_ij = w_i d_ij - lambda_i`` per person up to its capacity (a continuous knapsack, solved by
sorting; uncapacitated: every ``r_ij < 0``), worth ``v_j``. The ``p`` smallest ``v_j`` open, so

    L(lambda) = sum_i lambda_i + (sum of the p smallest v_j) + sum_i min(0, P w_i - lambda_i)

is a lower bound on every solution for *any* ``lambda`` (``P``: the unserved penalty), and its
maximum is the LP bound of the strong formulation (Geoffrion 1974; for the capacitated
p-median e.g. Mulvey & Beck 1984). Subgradient steps (Held, Wolfe & Crowder 1974) move
``lambda`` towards that maximum.

Pricing: with ``pi_j <= 0`` the knapsack's critical ratio (0 when the site is not full), the
reduced cost ``rc_ij = max(0, r_ij - w_i pi_j)`` makes ``cost(x) >= L(lambda) + sum rc_ij x_ij``
for every feasible ``x`` (expand ``sum_ij r_ij x_ij`` with ``x_ij <= y_j`` and the capacity rows).
So a solution with a whole assignment ``x_ij = 1`` costs at least ``L + rc_ij``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["LagrangianBound", "SiteSubproblems", "lagrangian_bound"]

#: Polyak step factor at the start, halved after PATIENCE steps without a better bound
THETA0 = 2.0
PATIENCE = 20


@dataclass
class LagrangianBound:
    """The best bound found and what prices against it.

    Attributes
    ----------
    bound_person_s : L(lambda), a lower bound on the total (travel + unserved penalty).
    multipliers : lambda (n,), person-s.
    reduced_cost : rc (n, m) >= 0, person-s; inf where there is no route.
    site_value : v_j (m,) of the best lambda (the p smallest open in the relaxation).
    iterations : subgradient steps taken.
    """

    bound_person_s: float
    multipliers: np.ndarray
    reduced_cost: np.ndarray
    site_value: np.ndarray
    iterations: int


class SiteSubproblems:
    """Each site's knapsack for given multipliers, on the pairs that can pay (sparse).

    Only pairs with ``r_ij < 0``, i.e. ``d_ij < lambda_i / w_i``, enter a knapsack: with each
    demand point's sites sorted once by travel time, those are a prefix of each row, so a step
    sorts a few pairs per demand point instead of all ``n x m``.

    Parameters
    ----------
    w : (n,) people (> 0).
    cap : (m,) capacity (people) or None.
    cost : (n, m) travel time (s), inf = no route.
    """

    def __init__(self, w, cap, cost):
        self.w, self.cap = w, cap
        self.n, self.m = cost.shape
        self.order = np.argsort(cost, axis=1, kind="stable")
        self.sorted = np.take_along_axis(cost, self.order, axis=1)

    def __call__(self, lam):
        """(v (m,), pi (m,), pairs (demand, site, x) with x > 0) for multipliers ``lam``."""
        w, m = self.w, self.m
        thr = lam / w  # s per person: a pair pays when its travel time is below it
        cnt = (self.sorted < thr[:, None]).sum(axis=1)
        rows = np.repeat(np.arange(self.n), cnt)
        pos = np.arange(len(rows)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        sites = self.order[rows, pos]
        ratio = self.sorted[rows, pos] - thr[rows]  # < 0, s per person
        if self.cap is None:
            wt = w[rows]
            v = np.bincount(sites, weights=ratio * wt, minlength=m)
            return v, np.zeros(m), (rows, sites, np.ones(len(rows)))
        srt = np.lexsort((ratio, sites))
        rows, sites, ratio = rows[srt], sites[srt], ratio[srt]
        wt = w[rows]
        cum = np.cumsum(wt)
        start = np.searchsorted(sites, np.arange(m))
        base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
        before = cum - wt - base[sites]
        xs = np.clip((self.cap[sites] - before) / wt, 0.0, 1.0)
        v = np.bincount(sites, weights=xs * ratio * wt, minlength=m)
        pi = np.zeros(m)
        partial = np.flatnonzero(xs < 1.0)  # the first one of a site is its critical item
        first_sites, first = np.unique(sites[partial], return_index=True)
        pi[first_sites] = ratio[partial[first]]
        used = xs > 0
        return v, pi, (rows[used], sites[used], xs[used])


def lagrangian_bound(
    w, cap, cost, p: int, penalty_s: float, upper_person_s: float, lam0, deadline: float,
    max_iter: int = 500, on_sites=None,
) -> LagrangianBound:  # fmt: skip
    """Subgradient optimisation of L(lambda) from ``lam0`` until ``deadline`` or convergence.

    Parameters
    ----------
    w, cap, cost : people (n,), capacities (m,) or None, travel times (n, m) in s.
    p : sites open.
    penalty_s : cost of an unserved person (s) (a far higher one when all must be served: the
        relaxation then still bounds the model without unserved people).
    upper_person_s : a known solution's total (Polyak's step aims at it).
    lam0 : starting multipliers (person-s), e.g. each demand point's cost in that solution.
    deadline : ``time.perf_counter()`` value to stop at (s).
    on_sites : called with the relaxation's p open sites every 10 steps; returns a better
        total (or inf): a Lagrangian heuristic that may lower the target.
    """
    knapsacks = SiteSubproblems(w, cap, cost)
    pen = penalty_s * w
    lam = np.asarray(lam0, float).copy()
    best = (-np.inf, lam.copy(), None, None)
    theta, stall, ub = THETA0, 0, float(upper_person_s)
    it = 0
    for it in range(1, max_iter + 1):
        v, pi, (di, sj, xs) = knapsacks(lam)
        chosen = np.argpartition(v, p - 1)[:p] if p < len(v) else np.arange(len(v))
        u = (pen - lam < 0).astype(float)
        value = float(lam.sum() + v[chosen].sum() + np.minimum(pen - lam, 0.0).sum())
        if value > best[0] + 1e-12 * abs(value):
            best, stall = (value, lam.copy(), pi, v), 0
        else:
            stall += 1
            if stall >= PATIENCE:
                theta, stall = theta / 2.0, 0
        if on_sites is not None and it % 10 == 1:
            ub = min(ub, on_sites(np.sort(chosen)))
        is_open = np.zeros(len(v), dtype=bool)
        is_open[chosen] = True
        g = 1.0 - np.bincount(di, weights=xs * is_open[sj], minlength=len(w)) - u
        norm = float(g @ g)
        if norm < 1e-18 or theta < 1e-4 or ub - best[0] <= 1e-9 * abs(ub):
            break
        if time.perf_counter() >= deadline:
            break
        lam = lam + theta * max(ub - value, 1e-9 * abs(ub)) / norm * g
    value, lam, pi, v = best
    r = w[:, None] * np.where(np.isfinite(cost), cost, np.inf) - lam[:, None]
    rc = np.maximum(r - w[:, None] * pi[None, :], 0.0) if pi is not None else np.maximum(r, 0.0)
    return LagrangianBound(value, lam, rc, v, it)
