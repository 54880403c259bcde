"""The p-median on a reduced assignment, priced so that its optimum is the full model's.

Each demand point starts with its ``nearest_k`` nearest candidates only (a 2,000 x 200
instance: 40,000 pairs instead of 400,000). Then:

1. **Incumbent**: greedy opening and capacity-aware vertex substitution
   (:mod:`simulators.siting.heuristic`); its total is an upper bound ``UB``.
2. **Lagrangian bound** ``L`` over *every* pair (:mod:`simulators.siting.lagrangian`: the
   assignment rows relaxed, a knapsack per site, subgradient steps; its best is the strong
   LP's bound), with the site sets it opens tried as incumbents on the way, and each pair's
   reduced cost ``rc_ij >= 0`` against those duals.
3. **Pricing against the gap** (reduced-cost fixing, e.g. Nemhauser & Wolsey 1988, ch. I.2):
   a solution that sends a whole demand point over a pair costs at least ``L + rc_ij``. Every
   pair with ``L + rc_ij < UB`` goes into the model (the cheapest first, at most
   ``MAX_PAIRS_FACTOR`` x the start); a pair left out cannot be in a better solution than the
   incumbent, which the model holds. So when none is left out, the reduced MIP's optimum and
   dual bound are the full model's, and when some are, the full model's bound is
   ``min(MIP bound, L + smallest rc left out)``. This holds for whole assignments (single
   assignment, and the uncapacitated case, where some optimum of every site set is whole).
   With split people a pair can carry a fraction, so the bound stated is ``L`` alone
   (``bound_kind="lagrangian"``).
4. **MIP** (HiGHS) from the incumbent (``setSolution``) within what is left of
   ``time_limit_s``; split assignment then re-solves the transportation problem of the chosen
   sites over every pair.

Unserved people (``allow_unserved``) are columns ``u_i`` at the penalty. When everyone must be
served, the bound and the heuristic search use a far higher penalty (a relaxation, so the bound
stays valid; a search that may pass through unseated people) and the MIP has no ``u``.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
from scipy import sparse

from simulators.siting.heuristic import (
    Assignment,
    assign,
    greedy_sites,
    interchange,
    round_split,
)
from simulators.siting.lagrangian import lagrangian_bound

__all__ = ["solve_reduced"]

#: share of the time limit given to the heuristic (at most HEURISTIC_MAX_S) and to the bound
HEURISTIC_SHARE = 0.15
HEURISTIC_MAX_S = 60.0
BOUND_SHARE = 0.25
#: the priced model holds at most this many times the starting pairs (or MIN_PAIRS: a small
#: model takes every pair that could beat the incumbent)
MAX_PAIRS_FACTOR = 2
MIN_PAIRS = 10_000


class _Model:
    """Column and row layout: y (m), u (n), x (one per pair); rows assign (n), p, capacity
    (m, capacitated), cover (capacitated, everyone served), then one strong row per pair."""

    def __init__(self, w, cap, cost, p, u_cost, cover):
        self.w, self.cap, self.cost, self.p = w, cap, cost, p
        self.n, self.m = cost.shape
        self.u_cost = u_cost
        self.cover = cover and cap is not None
        self.row_cap = self.n + 1
        self.row_cover = self.n + 1 + (self.m if cap is not None else 0)
        self.n_base_rows = self.row_cover + (1 if self.cover else 0)
        self.pi = np.zeros(0, np.int64)
        self.pj = np.zeros(0, np.int64)
        self.in_model = np.zeros((self.n, self.m), dtype=bool)

    @property
    def x0(self) -> int:
        return self.m + self.n

    def add_pairs(self, di, sj) -> None:
        self.pi = np.concatenate([self.pi, di]).astype(np.int64)
        self.pj = np.concatenate([self.pj, sj]).astype(np.int64)
        self.in_model[di, sj] = True

    def x_columns(self, di, sj, first_row: int):
        """Cost and entries of new x columns (their strong rows numbered from ``first_row``)."""
        k = len(di)
        rows = [di, first_row + np.arange(k)]
        vals = [np.ones(k), np.ones(k)]
        if self.cap is not None:
            rows.append(self.row_cap + sj)
            vals.append(self.w[di])
        return self.w[di] * self.cost[di, sj], rows, vals

    def highs(self, integer: bool, integer_x: bool, u_upper: float, threads: int) -> highspy.Highs:
        n, m, k = self.n, self.m, len(self.pi)
        cx, xrows, xvals = self.x_columns(self.pi, self.pj, self.n_base_rows)
        xcols = self.x0 + np.arange(k)
        rows = [np.arange(n), np.full(m, n), *xrows, self.n_base_rows + np.arange(k)]
        cols = [m + np.arange(n), np.arange(m), *([xcols] * len(xrows)), self.pj]
        vals = [np.ones(n), np.ones(m), *xvals, -np.ones(k)]
        lo = [np.ones(n), [self.p]]
        hi = [np.ones(n), [self.p]]
        if self.cap is not None:
            rows.append(self.row_cap + np.arange(m))
            cols.append(np.arange(m))
            vals.append(-self.cap)
            lo.append(np.full(m, -np.inf))
            hi.append(np.zeros(m))
        if self.cover:  # the open sites hold everyone: valid when all must be served
            rows.append(np.full(m, self.row_cover))
            cols.append(np.arange(m))
            vals.append(self.cap)
            lo.append([self.w.sum()])
            hi.append([np.inf])
        lo.append(np.full(k, -np.inf))
        hi.append(np.zeros(k))
        n_cols = self.x0 + k
        A = sparse.csc_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_base_rows + k, n_cols),
        )
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n_cols, A.shape[0]
        lp.col_cost_ = np.concatenate([np.zeros(m), self.u_cost * self.w, cx])
        lp.col_lower_ = np.zeros(n_cols)
        lp.col_upper_ = np.concatenate([
            np.ones(m), np.full(n, u_upper), np.full(k, 1.0 if integer_x else np.inf)
        ])  # fmt: skip
        lp.row_lower_, lp.row_upper_ = np.concatenate(lo), np.concatenate(hi)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", int(threads))
        h.passModel(lp)
        if integer:
            kinds = np.zeros(n_cols, dtype=np.uint8)
            kinds[:m] = 1
            if integer_x:
                kinds[self.x0 :] = 1
            idx = np.flatnonzero(kinds).astype(np.int32)
            h.changeColsIntegrality(len(idx), idx, np.ones(len(idx), dtype=np.uint8))
        return h


def _nearest_pairs(cost, k: int):
    """Each demand point's ``k`` nearest routable candidates."""
    n, m = cost.shape
    k = min(max(k, 1), m)
    near = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    di = np.repeat(np.arange(n), near.shape[1])
    sj = near.ravel()
    ok = np.isfinite(cost[di, sj])
    return di[ok], sj[ok]


def _incumbent(w, cap, cost, p, single, pen, deadline) -> Assignment:
    """Greedy opening improved by vertex substitution (with penalty ``pen`` for the unseated)."""
    start = assign(w, cap, cost, greedy_sites(w, cap, cost, p, pen), single, pen)
    return interchange(w, cap, cost, start, single, pen, deadline)


def solve_reduced(w, cap, cost, p: int, params, penalty_s: float, log=lambda s: None) -> dict:
    """Solve the (capacitated) p-median by reduced assignment + pricing (see module doc).

    Parameters
    ----------
    w : (n,) people, all > 0.
    cap : (m,) people per site, or None.
    cost : (n, m) travel time (s), ``inf`` = no route.
    p : sites to open.
    params : :class:`~simulators.siting.params.SitingParams`.
    penalty_s : cost of an unserved person (s).
    log : called with one line per stage (progress in words).

    Returns
    -------
    dict with ``x`` (shares per pair), ``pairs`` (di, sj), ``y``, ``u`` (unserved shares),
    ``lower_bound`` (person-s, on the total with the penalty), ``bound_kind``, ``status``
    (HiGHS model status of the MIP), ``heuristic_total``, ``columns``, ``columns_priced``,
    ``phase_seconds``.
    """
    started = time.perf_counter()
    limit = float(params.time_limit_s)
    deadline = started + limit
    n, m = cost.shape
    single = bool(params.single_assignment) or cap is None
    allow = bool(params.allow_unserved)
    pen = penalty_s if allow else 10.0 * penalty_s  # the search's and the bound's penalty
    model = _Model(w, cap, cost, p, pen, cover=not allow)
    model.add_pairs(*_nearest_pairs(cost, params.nearest_k))
    start_pairs = len(model.pi)
    phase = {}
    t0 = time.perf_counter()
    inc = _incumbent(
        w, cap, cost, p, single, pen, t0 + min(HEURISTIC_SHARE * limit, HEURISTIC_MAX_S)
    )
    phase["heuristic_s"] = time.perf_counter() - t0
    log(f"heuristic incumbent: {inc.total_person_s:,.1f} person-s")
    t0 = time.perf_counter()

    def try_sites(sites):
        nonlocal inc
        a = assign(w, cap, cost, sites, single, pen)
        if a is not None and a.total_person_s < inc.total_person_s:
            inc = a
        return inc.total_person_s

    lam0 = np.zeros(n)
    np.add.at(lam0, inc.demand, w[inc.demand] * inc.share * cost[inc.demand, inc.site])
    lam0 += inc.unserved * pen * w
    lag = lagrangian_bound(
        w, cap, cost, p, pen, inc.total_person_s, lam0, t0 + BOUND_SHARE * limit, on_sites=try_sites
    )
    phase["bound_s"] = time.perf_counter() - t0
    if single and cap is not None:  # whole assignments rounded from the best split ones
        split = transport(w, cap, cost, np.sort(inc.sites), pen, params.threads)
        rounded = round_split(w, cap, cost, split, pen) if split is not None else None
        if rounded is not None and rounded.total_person_s < inc.total_person_s:
            inc = rounded
    lb = lag.bound_person_s
    log(f"Lagrangian bound {lb:,.1f} person-s after {lag.iterations} steps; incumbent "
        f"{inc.total_person_s:,.1f} person-s")  # fmt: skip
    # pricing against the gap: pairs that could be in a better whole solution
    gap = inc.total_person_s - lb
    rc = np.where(model.in_model, np.inf, lag.reduced_cost)
    want = np.flatnonzero(rc.ravel() <= gap + 1e-9 * max(1.0, abs(inc.total_person_s)))
    room = max(MAX_PAIRS_FACTOR * start_pairs, MIN_PAIRS) - start_pairs
    if len(want) > room:
        want = want[np.argsort(rc.ravel()[want], kind="stable")[:room]]
    add = np.zeros(n * m, dtype=bool)
    add[want] = True
    add = add.reshape(n, m)
    add[inc.demand, inc.site] = True
    add &= ~model.in_model
    model.add_pairs(*np.nonzero(add))
    rc_left = float(np.where(model.in_model, np.inf, lag.reduced_cost).min())
    log(f"MIP on {len(model.pi):,} of {int(np.isfinite(cost).sum()):,} pairs")
    t0 = time.perf_counter()
    h = _mip(model, inc, single, allow, params, deadline)
    if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible and np.isfinite(rc_left):
        # nobody can be seated without a pair left out: take them all (the full model)
        model.add_pairs(*np.nonzero(np.isfinite(cost) & ~model.in_model))
        rc_left = np.inf
        log(f"infeasible on the priced pairs: MIP on all {len(model.pi):,} pairs")
        h = _mip(model, inc, single, allow, params, deadline)
    phase["mip_s"] = time.perf_counter() - t0
    status = h.getModelStatus()
    x = np.asarray(h.getSolution().col_value)
    info = h.getInfo()
    if len(x) and info.primal_solution_status == 2:  # kSolutionStatusFeasible
        mip_bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
    elif allow or not inc.unserved.any():  # stopped before HiGHS took the start
        x, mip_bound = np.asarray(_start_vector(model, inc).col_value), -np.inf
    else:
        return {"status": status, "has_solution": False}
    if single:  # a solution with a left-out pair costs at least lb + rc_left
        lower, kind = max(lb, min(mip_bound, lb + rc_left)), "mip"
    elif not np.isfinite(rc_left):  # split, but every pair is in the model
        lower, kind = max(lb, mip_bound), "mip"
    else:
        lower, kind = lb, "lagrangian"
    u = x[m : model.x0] if allow else np.zeros(n)
    xs, (pi, pj) = x[model.x0 :], (model.pi, model.pj)
    if not single:  # the best split for the chosen sites, over every pair
        t0 = time.perf_counter()
        sites = np.flatnonzero(x[:m] > 0.5)
        polished = transport(w, cap, cost, sites, penalty_s if allow else None, params.threads)
        if polished is not None:
            xs, (pi, pj), u = polished.share, (polished.demand, polished.site), polished.unserved
        phase["transport_s"] = time.perf_counter() - t0
    return {
        "has_solution": True,
        "x": xs,
        "pairs": (pi, pj),
        "y": x[:m],
        "u": u,
        "lower_bound": lower,
        "bound_kind": kind,
        "status": status,
        "heuristic_total": inc.total_person_s,
        "bound_steps": lag.iterations,
        "columns": int(len(model.pi)),
        "columns_start": int(start_pairs),
        "columns_priced": int(len(model.pi) - start_pairs),
        "pairs_left_out": int((np.isfinite(cost) & ~model.in_model).sum()),
        "phase_seconds": phase,
    }


def transport(w, cap, cost, sites, penalty_s, threads: int = 1) -> Assignment | None:
    """The cheapest split of everyone over the open ``sites`` (HiGHS LP); None: infeasible.

    ``threads`` must match the other HiGHS runs of the process (its scheduler is shared).
    """
    sub = cost[:, sites]
    di, r = np.nonzero(np.isfinite(sub))
    n, k = len(w), len(di)
    n_u = n if penalty_s is not None else 0
    rows = [di, np.arange(n_u)]
    cols = [np.arange(k), k + np.arange(n_u)]
    vals = [np.ones(k), np.ones(n_u)]
    lo, hi = [np.ones(n)], [np.ones(n)]
    if cap is not None:
        rows.append(n + r)
        cols.append(np.arange(k))
        vals.append(w[di])
        lo.append(np.full(len(sites), -np.inf))
        hi.append(cap[sites])
    A = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n + (len(sites) if cap is not None else 0), k + n_u),
    )
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.concatenate([w[di] * sub[di, r], (penalty_s or 0.0) * w[:n_u]])
    lp.col_lower_, lp.col_upper_ = np.zeros(A.shape[1]), np.full(A.shape[1], np.inf)
    lp.row_lower_, lp.row_upper_ = np.concatenate(lo), np.concatenate(hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value)
    used = x[:k] > 1e-12
    unserved = np.maximum(x[k:], 0.0) if n_u else np.zeros(n)
    return Assignment(
        np.asarray(sites), di[used], np.asarray(sites)[r[used]], x[:k][used], unserved,
        float(h.getInfo().objective_function_value),
    )  # fmt: skip


def _mip(model: _Model, inc: Assignment, single, allow, params, deadline) -> highspy.Highs:
    h = model.highs(
        integer=True, integer_x=single, u_upper=np.inf if allow else 0.0, threads=params.threads
    )
    h.setOptionValue("mip_rel_gap", float(params.mip_rel_gap))
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1.0))
    if allow or not inc.unserved.any():
        h.setSolution(_start_vector(model, inc))
    h.run()
    return h


def _start_vector(model: _Model, inc: Assignment) -> highspy.HighsSolution:
    col = np.zeros(model.x0 + len(model.pi))
    col[inc.sites] = 1.0
    col[model.m : model.x0] = inc.unserved
    index = np.full((model.n, model.m), -1, dtype=np.int64)
    index[model.pi, model.pj] = np.arange(len(model.pi))
    col[model.x0 + index[inc.demand, inc.site]] = inc.share
    sol = highspy.HighsSolution()
    sol.col_value = col
    sol.value_valid = True
    return sol
