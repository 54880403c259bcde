"""The (capacitated) p-median as a mixed-integer programme, solved with HiGHS.

Variables: ``y_j`` (site ``j`` open, binary), ``x_ij`` (share of demand point ``i``'s people
sent to site ``j``; binary with single assignment), ``u_i`` (share left unserved, only with
``allow_unserved``). Pairs with no route (``inf`` travel time) get no variable.

    minimise    sum_ij w_i d_ij x_ij + penalty sum_i w_i u_i
    subject to  sum_j x_ij + u_i = 1            every demand point is served (or unserved)
                sum_j y_j = p                   p sites open
                sum_i w_i x_ij <= c_j y_j       capacity of an open site (closed: nothing)
                x_ij <= y_j                     only open sites serve (the strong form)

With ``strong_link_k`` > 0 only each demand point's ``k`` nearest sites get the strong row;
the other pairs are linked by the capacity row (or, uncapacitated, by an aggregated row
``sum_i x_ij <= n_j y_j``): the same optimum, fewer rows, a weaker LP bound.

``method="reduced"`` (the default) solves the same model on a reduced set of pairs, priced so
that its optimum is this one's, from a heuristic incumbent (:mod:`simulators.siting.reduced`).

This is the formulation of ReVelle & Swain (1970) with the capacity rows of the capacitated
p-median (e.g. Mulvey & Beck 1984), the same as PySAL spopt's ``PMedian`` (whose capacitated
variant takes ``facility_capacities``), so the two optimal objectives are equal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd
from scipy import sparse

from simulators.siting.params import SitingParams, check_instance
from simulators.siting.reduced import solve_reduced

__all__ = ["SitingInfeasible", "SitingResult", "solve_p_median"]


class SitingInfeasible(ValueError):
    """No choice of ``p`` sites serves everyone; ``reason`` says why in words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class SitingResult:
    """Chosen sites, who goes where, and the figures behind them.

    Attributes
    ----------
    sites : indices of the open sites (sorted).
    assignment : one row per (demand point, site) pair carrying people: ``demand``, ``site``
        (indices), ``people``, ``travel_time_s``.
    objective_person_s : total travel time of the served people (person-seconds), without
        the unserved penalty.
    unserved_people : people per demand point left unserved (zeros without ``allow_unserved``).
    site_load : people sent to each candidate site (0 where closed).
    capacities : each candidate's capacity (people; inf when uncapacitated).
    optimal : the optimum is proven (within ``mip_rel_gap``); False at the time limit, or
        when the bound is only the LP's (split assignment on a reduced model).
    mip_gap : relative gap of the answer to the proven lower bound of the full model:
        (total - bound) / total, where total counts unserved people at the penalty.
    solve_seconds : wall-clock time of the solver alone (s).
    lower_bound_person_s : proven lower bound on the total (travel + unserved penalty) of any
        solution of the full model (person-s).
    unserved_penalty_person_s : the unserved people's penalty in the total (person-s).
    bound_kind : ``"mip"`` (branch and bound, valid for the full model) or ``"lagrangian"``
        (the Lagrangian relaxation of the full model, the strong LP's bound).
    heuristic_person_s : total of the heuristic incumbent (person-s; inf: none found).
    method : ``"reduced"`` or ``"full"``.
    stats : model sizes and phase times (pairs at the start, priced, in the MIP; seconds).
    """

    sites: np.ndarray
    assignment: pd.DataFrame
    objective_person_s: float
    unserved_people: np.ndarray
    site_load: np.ndarray
    capacities: np.ndarray
    optimal: bool
    mip_gap: float
    solve_seconds: float
    lower_bound_person_s: float = -np.inf
    unserved_penalty_person_s: float = 0.0
    bound_kind: str = "mip"
    heuristic_person_s: float = np.inf
    method: str = "full"
    stats: dict = field(default_factory=dict)

    @property
    def total_person_s(self) -> float:
        """Travel time plus the unserved people's penalty: what the solver minimises."""
        return self.objective_person_s + self.unserved_penalty_person_s

    @property
    def gap_words(self) -> str:
        """The optimality statement in words."""
        if self.optimal and self.mip_gap == 0.0:
            return "proven optimal (gap 0%)"
        if not np.isfinite(self.lower_bound_person_s):
            return "not proven optimal: no lower bound was reached within the time limit"
        bound = {
            "mip": "branch and bound"
            + (" on the priced pairs" if self.method == "reduced" else ""),
            "lagrangian": "the Lagrangian relaxation (the LP bound; people may split)",
        }[self.bound_kind]
        proven = "within the requested gap" if self.optimal else "not proven optimal"
        return (
            f"{proven}: at most {100 * self.mip_gap:.3f}% above the optimum (lower bound "
            f"{self.lower_bound_person_s:,.0f} person-s from {bound})"
        )

    @property
    def served_people(self) -> float:
        return float(self.assignment["people"].sum())

    def summary(self) -> dict:
        """Flat figures with units in their names (minutes, people, shares)."""
        a = self.assignment
        served = self.served_people
        open_capacity = float(self.capacities[self.sites].sum()) if len(self.sites) else 0.0
        times = a["travel_time_s"].to_numpy(float)
        people = a["people"].to_numpy(float)
        return {
            "sites_open": int(len(self.sites)),
            "objective_person_s": self.objective_person_s,
            "people_served": served,
            "people_unserved": float(self.unserved_people.sum()),
            "mean_travel_time_min": float(times @ people / served / 60.0) if served else None,
            "max_travel_time_min": float(times[people > 1e-9].max() / 60.0) if served else None,
            "capacity_used_share": served / open_capacity
            if np.isfinite(open_capacity) and open_capacity > 0
            else None,
            "optimal": self.optimal,
            "mip_gap": self.mip_gap,
            "lower_bound_person_s": self.lower_bound_person_s,
            "gap_words": self.gap_words,
            "solve_seconds": self.solve_seconds,
        }


def _check_feasible(w, cap, cost, p, allow_unserved) -> None:
    if allow_unserved:
        return
    stranded = (w > 0) & ~np.isfinite(cost).any(axis=1)
    if stranded.any():
        raise SitingInfeasible(
            f"{int(stranded.sum())} demand points ({w[stranded].sum():.0f} people) reach no "
            "candidate site"
        )
    if cap is not None:
        best = np.sort(cap)[::-1][:p].sum()
        if best + 1e-9 < w.sum():
            raise SitingInfeasible(
                f"the {p} largest candidate sites hold {best:.0f} people, fewer than the "
                f"{w.sum():.0f} to serve"
            )


def _build(w, cap, cost, p, params: SitingParams, penalty: float):
    """Column-wise model arrays: (cost, lower, upper, integrality, A (csc), row bounds)."""
    n, m = cost.shape
    di, sj = np.nonzero(np.isfinite(cost))  # one x per routable pair
    k = len(di)
    n_u = n if params.allow_unserved else 0
    n_cols = k + m + n_u
    y0, u0 = k, k + m
    rows, cols, vals = [], [], []
    # assignment rows 0..n-1
    rows += [di, np.arange(n_u)]
    cols += [np.arange(k), u0 + np.arange(n_u)]
    vals += [np.ones(k), np.ones(n_u)]
    # p row: n
    rows.append(np.full(m, n))
    cols.append(y0 + np.arange(m))
    vals.append(np.ones(m))
    r = n + 1
    row_lo = [np.ones(n), [p]]
    row_hi = [np.ones(n), [p]]
    if cap is not None:  # capacity rows r..r+m-1
        rows += [r + sj, r + np.arange(m)]
        cols += [np.arange(k), y0 + np.arange(m)]
        vals += [w[di], -cap]
        row_lo.append(np.full(m, -np.inf))
        row_hi.append(np.zeros(m))
        r += m
    # linking rows x_ij - y_j <= 0 for the strong pairs; the others only through an aggregated
    # row per site (exact too, a weaker LP bound, far fewer rows)
    strong = _strong_pairs(cost, di, sj, params.strong_link_k)
    si = np.flatnonzero(strong)
    ks = len(si)
    rows += [r + np.arange(ks), r + np.arange(ks)]
    cols += [si, y0 + sj[si]]
    vals += [np.ones(ks), -np.ones(ks)]
    row_lo.append(np.full(ks, -np.inf))
    row_hi.append(np.zeros(ks))
    r += ks
    weak = np.flatnonzero(~strong)
    if cap is None and len(weak):  # with capacities the capacity row already links them
        per_site = np.bincount(sj[weak], minlength=m).astype(float)
        rows += [r + sj[weak], r + np.arange(m)]
        cols += [weak, y0 + np.arange(m)]
        vals += [np.ones(len(weak)), -per_site]
        row_lo.append(np.full(m, -np.inf))
        row_hi.append(np.zeros(m))
        r += m
    n_rows = r
    A = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cols),
    )
    c = np.concatenate([w[di] * cost[di, sj], np.zeros(m), penalty * w[:n_u]])
    integer = np.zeros(n_cols, dtype=bool)
    integer[y0 : y0 + m] = True
    if params.single_assignment:
        integer[:k] = True
    bounds = (np.zeros(n_cols), np.ones(n_cols))
    return c, bounds, integer, A, np.concatenate(row_lo), np.concatenate(row_hi), (di, sj)


def _strong_pairs(cost, di, sj, k_nearest: int) -> np.ndarray:
    """Pairs that get the strong row ``x_ij <= y_j``: all, or each demand point's k nearest sites."""
    if not k_nearest or k_nearest >= cost.shape[1]:
        return np.ones(len(di), dtype=bool)
    rank = np.argsort(np.argsort(cost, axis=1, kind="stable"), axis=1, kind="stable")
    return rank[di, sj] < k_nearest


def _highs(c, bounds, integer, A, row_lo, row_hi, params: SitingParams) -> highspy.Highs:
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(c), A.shape[0]
    lp.col_cost_ = c
    lp.col_lower_, lp.col_upper_ = bounds
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr
    lp.a_matrix_.index_ = A.indices
    lp.a_matrix_.value_ = A.data
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in integer
    ]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", float(params.mip_rel_gap))
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("time_limit", float(params.time_limit_s))
    h.setOptionValue("threads", int(params.threads))
    h.passModel(lp)
    return h


def solve_p_median(
    weights,
    cost_s,
    p: int | None = None,
    capacities=None,
    params: SitingParams | None = None,
    log=None,
) -> SitingResult:
    """Open ``p`` sites minimising the people-weighted travel time, within capacity.

    Parameters
    ----------
    weights : (n_demand,) people at each demand point.
    cost_s : (n_demand, n_sites) travel time from each demand point to each candidate (s);
        ``inf`` where there is no route.
    p : sites to open (overrides ``params.p`` when given).
    capacities : (n_sites,) people each site holds; None = uncapacitated p-median.
    params : solver and model settings (:class:`SitingParams`).
    log : optional callable taking one line of progress in words (reduced model only).

    Returns
    -------
    SitingResult

    Raises
    ------
    ParamError : an input of the wrong shape or sign (names it).
    SitingInfeasible : no ``p`` sites serve everyone (and ``allow_unserved`` is off).
    """
    params = params or SitingParams()
    p = int(params.p if p is None else p)
    w = np.asarray(weights, dtype=float)
    cost = np.asarray(cost_s, dtype=float)
    cap = None if capacities is None else np.asarray(capacities, dtype=float)
    check_instance(w, cap, cost, p)
    _check_feasible(w, cap, cost, p, params.allow_unserved)
    finite = cost[np.isfinite(cost)]
    penalty = (
        params.unserved_penalty_s
        if params.unserved_penalty_s is not None
        else 10.0 * max(float(finite.max()) if finite.size else 1.0, 1.0)
    )
    if params.method == "reduced":
        return _solve_reduced(w, cap, cost, p, params, penalty, log)
    c, bounds, integer, A, row_lo, row_hi, (di, sj) = _build(w, cap, cost, p, params, penalty)
    h = _highs(c, bounds, integer, A, row_lo, row_hi, params)
    started = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - started
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise SitingInfeasible(f"no {p} sites can serve every demand point within capacity")
    x = np.asarray(h.getSolution().col_value)
    if status not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit) or (
        not len(x)
    ):
        raise SitingInfeasible(f"HiGHS stopped without a solution: {h.modelStatusToString(status)}")
    return _result(x, w, cap, cost, (di, sj), params, status, h, seconds, penalty)


def _solve_reduced(w, cap, cost, p, params: SitingParams, penalty: float, log) -> SitingResult:
    """The reduced, priced model (people-less demand points left out: they change nothing)."""
    started = time.perf_counter()
    n, m = cost.shape
    keep = np.flatnonzero(w > 0)
    if not len(keep):  # nobody to serve: any p sites, cost 0
        empty = pd.DataFrame({"demand": [], "site": [], "people": [], "travel_time_s": []})
        return SitingResult(
            np.arange(p), empty, 0.0, np.zeros(n), np.zeros(m),
            cap if cap is not None else np.full(m, np.inf), True, 0.0, 0.0,
            lower_bound_person_s=0.0, method="reduced",
        )  # fmt: skip
    out = solve_reduced(w[keep], cap, cost[keep], p, params, penalty, log or (lambda line: None))
    seconds = time.perf_counter() - started
    if not out["has_solution"]:
        if out["status"] == highspy.HighsModelStatus.kInfeasible:
            raise SitingInfeasible(f"no {p} sites can serve every demand point within capacity")
        raise SitingInfeasible(f"no solution found within the time limit ({params.time_limit_s} s)")
    pi, pj = out["pairs"]
    used = out["x"] > 1e-9
    di, sj = keep[pi[used]], pj[used]
    people = w[di] * out["x"][used]
    assignment = pd.DataFrame({
        "demand": di, "site": sj, "people": people, "travel_time_s": cost[di, sj],
    })  # fmt: skip
    unserved = np.zeros(n)
    unserved[keep] = np.maximum(w[keep] * out["u"], 0.0)
    if not params.allow_unserved:
        unserved[:] = 0.0
    objective = float(people @ cost[di, sj])
    pen = float(penalty * unserved.sum())
    total = objective + pen
    lower = min(float(out["lower_bound"]), total)
    gap = (total - lower) / total if total > 0 else 0.0
    gap = 0.0 if gap < 1e-9 else gap
    optimal = gap <= params.mip_rel_gap  # proven by the bound, whatever stopped the solver
    return SitingResult(
        sites=np.flatnonzero(out["y"] > 0.5),
        assignment=assignment,
        objective_person_s=objective,
        unserved_people=unserved,
        site_load=np.bincount(sj, weights=people, minlength=m),
        capacities=cap if cap is not None else np.full(m, np.inf),
        optimal=bool(optimal),
        mip_gap=float(gap),
        solve_seconds=seconds,
        lower_bound_person_s=lower,
        unserved_penalty_person_s=pen,
        bound_kind=out["bound_kind"],
        heuristic_person_s=float(out["heuristic_total"]),
        method="reduced",
        stats={
            k: out[k]
            for k in ("columns_start", "columns_priced", "columns", "pairs_left_out", "bound_steps")
        }
        | {"n_pairs": int(np.isfinite(cost[keep]).sum()), **out["phase_seconds"]},
    )


def _result(x, w, cap, cost, pairs, params, status, h, seconds, penalty) -> SitingResult:
    n, m = cost.shape
    di, sj = pairs
    k = len(di)
    share = x[:k]
    y = x[k : k + m]
    sites = np.flatnonzero(y > 0.5)
    used = share > 1e-9
    people = w[di[used]] * share[used]
    assignment = pd.DataFrame({
        "demand": di[used], "site": sj[used], "people": people,
        "travel_time_s": cost[di[used], sj[used]],
    })  # fmt: skip
    unserved = np.maximum(w * x[k + m :], 0.0) if params.allow_unserved else np.zeros(n)
    load = np.bincount(assignment["site"], weights=people, minlength=m)
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else 0.0
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
    return SitingResult(
        sites=sites,
        assignment=assignment,
        objective_person_s=float(people @ assignment["travel_time_s"].to_numpy(float)),
        unserved_people=unserved,
        site_load=load,
        capacities=cap if cap is not None else np.full(m, np.inf),
        optimal=optimal,
        mip_gap=gap if not optimal or gap > 0 else 0.0,
        solve_seconds=seconds,
        lower_bound_person_s=bound,
        unserved_penalty_person_s=float(penalty * unserved.sum()),
    )
