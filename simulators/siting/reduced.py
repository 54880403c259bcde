"""The p-median on a reduced assignment, priced so that its optimum is the full model's.

Each demand point starts with columns to its ``nearest_k`` nearest candidates only (a 2,000 x
200 instance: 40,000 pairs instead of 400,000). Then:

1. **Column generation on the LP relaxation** (strong form, ``x_ij <= y_j`` for every pair in
   the model). A dropped pair's reduced cost against the LP duals is
   ``rc_ij = w_i d_ij - lambda_i - w_i pi_j`` (``lambda``: assignment rows, ``pi``: capacity
   rows; its strong row would enter with dual 0). Pairs with ``rc_ij < 0`` are added back and
   the LP re-solved until none is left: the reduced LP's optimum is then the full LP's, a
   **lower bound** on the full model.
2. **Incumbent**: greedy and LP rounding, improved by capacity-aware vertex substitution
   (:mod:`simulators.siting.heuristic`); its total is an upper bound ``UB``.
3. **Pricing against the gap** (reduced-cost fixing, e.g. Nemhauser & Wolsey, ch. I.2): a
   solution that uses a dropped pair with ``x_ij = 1`` costs at least ``LB + rc_ij``. Every
   pair with ``LB + rc_ij < UB`` is added to the model; the others cannot be in a solution
   better than the incumbent, which the model holds. So the reduced MIP's optimum, and its
   dual bound, are the full model's. This holds when an assignment is whole (single
   assignment, and the uncapacitated case, where some optimum of every site set is whole).
   With split assignment a pair can carry a fraction of a demand point, the argument fails,
   and the bound stated is the full LP's (``bound_kind="lp"``).
4. **MIP** (HiGHS) from the incumbent (``setSolution``) within what is left of
   ``time_limit_s``; split assignment then re-solves the transportation problem of the
   chosen sites over every pair.

Unserved people (``allow_unserved``) are columns ``u_i`` at the penalty. When everyone must be
served, the LP keeps them at a far higher cost (artificial columns: the reduced LP stays
feasible; the LP with them is a relaxation, so its bound stays valid) and the MIP drops them.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
from scipy import sparse

from simulators.siting.heuristic import Assignment, assign, greedy_sites, interchange

__all__ = ["solve_reduced"]

#: share of the time limit given to the heuristic (at most HEURISTIC_MAX_S)
HEURISTIC_SHARE = 0.15
HEURISTIC_MAX_S = 60.0
#: pairs added per demand point and pricing round (the most negative first)
ADD_PER_ROUND = 5


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

    def append(self, h: highspy.Highs, di, sj) -> None:
        """Add pairs (columns and their strong rows) to a live LP: its basis stays warm."""
        k = len(di)
        first_col = h.getNumCol()
        cx, xrows, xvals = self.x_columns(di, sj, 0)
        # entries in existing rows only (the strong rows come next, with both entries)
        rows = np.stack([xrows[0]] + ([xrows[2]] if self.cap is not None else []), axis=1)
        vals = np.stack([xvals[0]] + ([xvals[2]] if self.cap is not None else []), axis=1)
        per = rows.shape[1]
        h.addCols(
            k, cx, np.zeros(k), np.full(k, np.inf), k * per,
            (per * np.arange(k)).astype(np.int32), rows.ravel().astype(np.int32), vals.ravel(),
        )  # fmt: skip
        index = np.stack([first_col + np.arange(k), sj], axis=1).ravel().astype(np.int32)
        h.addRows(
            k, np.full(k, -np.inf), np.zeros(k), 2 * k, (2 * np.arange(k)).astype(np.int32),
            index, np.tile([1.0, -1.0], k),
        )  # fmt: skip
        self.add_pairs(di, sj)

    def reduced_costs(self, row_dual) -> np.ndarray:
        """rc_ij of every pair (n x m) against the LP's row duals; +inf for pairs in the model
        or without a route."""
        rd = np.asarray(row_dual, float)
        rc = self.w[:, None] * self.cost - rd[: self.n, None]
        if self.cap is not None:
            rc = rc - self.w[:, None] * rd[self.row_cap : self.row_cap + self.m][None, :]
        rc[self.in_model | ~np.isfinite(self.cost)] = np.inf
        return rc


def _nearest_pairs(cost, k: int):
    """Each demand point's ``k`` nearest routable candidates."""
    n, m = cost.shape
    k = min(max(k, 1), m)
    near = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    di = np.repeat(np.arange(n), near.shape[1])
    sj = near.ravel()
    ok = np.isfinite(cost[di, sj])
    return di[ok], sj[ok]


def _lp_with_pricing(model: _Model, params, deadline: float, log):
    """Column generation; returns (lower bound, y values, reduced costs, rounds, converged)."""
    h = model.highs(integer=False, integer_x=False, u_upper=np.inf, threads=params.threads)
    h.setOptionValue("solver", "simplex")
    rounds = 0
    while True:
        h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.5))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        sol = h.getSolution()
        rc = model.reduced_costs(sol.row_dual)
        lb = h.getInfo().objective_function_value
        tol = 1e-7 * max(1.0, abs(lb) / model.n)
        worst = rc.min(axis=1)
        short = np.flatnonzero(worst < -tol)
        y = np.asarray(sol.col_value)[: model.m]
        log(f"LP round {rounds}: bound {lb:.6f} person-s, {len(model.pi)} pairs, "
            f"{len(short)} demand points price out")  # fmt: skip
        if not len(short) or time.perf_counter() >= deadline:
            # Lagrangian correction: each demand point's dropped pairs carry at most 1 in all
            bound = lb + float(np.minimum(worst[short], 0.0).sum()) if len(short) else lb
            return bound, y, rc, rounds, not len(short)
        take = min(ADD_PER_ROUND, model.m)
        cand = np.argpartition(rc[short], take - 1, axis=1)[:, :take]
        di = np.repeat(short, take)
        sj = cand.ravel()
        keep = rc[di, sj] < -tol
        model.append(h, di[keep], sj[keep])
        rounds += 1


def _incumbent(w, cap, cost, p, single, penalty_s, allow, y_lp, deadline) -> Assignment | None:
    """Greedy and LP-rounded starts, the better improved by vertex substitution.

    When everyone must be seated the search still runs with a (far higher) penalty, so that a
    start with people left over is repaired rather than dropped; None if some remain unseated.
    """
    pen = penalty_s if allow else 10.0 * penalty_s
    starts = [greedy_sites(w, cap, cost, p, penalty_s)]
    if y_lp is not None:
        starts.append(np.sort(np.argsort(-y_lp, kind="stable")[:p]))
    tried = [assign(w, cap, cost, s, single, pen) for s in starts]
    best = min(tried, key=lambda a: a.total_person_s)
    best = interchange(w, cap, cost, best, single, pen, deadline, priority=y_lp)
    if not allow and best.unserved.any():
        return None
    return best


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
    deadline = started + float(params.time_limit_s)
    n, m = cost.shape
    single = bool(params.single_assignment) or cap is None
    allow = bool(params.allow_unserved)
    model = _Model(w, cap, cost, p, penalty_s if allow else 10.0 * penalty_s, cover=not allow)
    model.add_pairs(*_nearest_pairs(cost, params.nearest_k))
    start_pairs = len(model.pi)
    phase = {}
    t0 = time.perf_counter()
    # the LP gets at most half the time: the heuristic and the MIP need the rest
    lp = _lp_with_pricing(model, params, started + 0.5 * params.time_limit_s, log)
    phase["lp_s"] = time.perf_counter() - t0
    lb_lp, y_lp, rc, rounds, converged = lp if lp is not None else (-np.inf, None, None, 0, False)
    t0 = time.perf_counter()
    budget = min(HEURISTIC_SHARE * params.time_limit_s, HEURISTIC_MAX_S)
    inc = _incumbent(w, cap, cost, p, single, penalty_s, allow, y_lp, t0 + budget)
    phase["heuristic_s"] = time.perf_counter() - t0
    log(f"incumbent: {inc.total_person_s:.6f} person-s" if inc else "no incumbent found")
    # pricing against the gap: pairs that could be in a better whole solution
    if inc is None or rc is None:
        extra = np.isfinite(cost) & ~model.in_model
    else:
        gap = inc.total_person_s - lb_lp
        extra = rc <= gap + 1e-7 * max(1.0, abs(inc.total_person_s))
        extra[inc.demand, inc.site] = True
        extra &= ~model.in_model
    model.add_pairs(*np.nonzero(extra))
    dropped = np.isfinite(cost) & ~model.in_model
    certified = single and converged and inc is not None or not dropped.any()
    log(f"MIP on {len(model.pi)} of {int(np.isfinite(cost).sum())} pairs")
    t0 = time.perf_counter()
    h = model.highs(
        integer=True, integer_x=single, u_upper=np.inf if allow else 0.0, threads=params.threads
    )
    h.setOptionValue("mip_rel_gap", float(params.mip_rel_gap))
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1.0))
    if inc is not None:
        h.setSolution(_start_vector(model, inc))
    h.run()
    phase["mip_s"] = time.perf_counter() - t0
    status = h.getModelStatus()
    x = np.asarray(h.getSolution().col_value)
    info = h.getInfo()
    if len(x) and info.primal_solution_status == 2:  # kSolutionStatusFeasible
        mip_bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
    elif inc is not None:  # stopped before HiGHS took the start: the incumbent stands
        x, mip_bound = np.asarray(_start_vector(model, inc).col_value), -np.inf
    else:
        return {"status": status, "has_solution": False}
    lower = max(mip_bound, lb_lp) if certified else lb_lp
    u = x[m : model.x0] if allow else np.zeros(n)
    xs, (pi, pj) = x[model.x0 :], (model.pi, model.pj)
    if not single:  # the best split for the chosen sites, over every pair
        t0 = time.perf_counter()
        polished = transport(
            w, cap, cost, np.flatnonzero(x[:m] > 0.5), penalty_s if allow else None
        )
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
        "bound_kind": "mip" if certified else "lp",
        "status": status,
        "heuristic_total": inc.total_person_s if inc else np.inf,
        "columns": int(len(model.pi)),
        "columns_start": int(start_pairs),
        "columns_priced": int(len(model.pi) - start_pairs),
        "pricing_rounds": rounds,
        "phase_seconds": phase,
    }


def transport(w, cap, cost, sites, penalty_s) -> Assignment | None:
    """The cheapest split of everyone over the open ``sites`` (HiGHS LP); None: infeasible."""
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
