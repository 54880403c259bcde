"""Capacity-aware p-median heuristics: greedy opening, regret assignment, vertex substitution.

A good solution in seconds, whatever the size: it is the incumbent handed to HiGHS as a
starting solution and the answer's upper bound (so a time limit always returns a feasible
siting). None of it proves anything; the bound comes from the LP (:mod:`simulators.siting.reduced`).

- :func:`assign`: people to a given set of open sites. Uncapacitated: the nearest open site.
  Capacitated: demand points in order of *regret* (how much worse their second-nearest open
  site is), each to its nearest open site with room (split: filling sites in order of
  travel time), then single moves to cheaper sites with room (Martello & Toth's regret rule
  for the generalised assignment problem, with a shift pass).
- :func:`greedy_sites`: open sites one by one by the largest saving, scaled by the share of the
  people a site attracts that it can hold.
- :func:`interchange`: Teitz & Bart (1968) vertex substitution: swap a closed site for an open
  one while the (capacity-aware) total falls; a closed site is tried against the open sites
  that serve the people it is nearest to (its neighbours), within a time budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Assignment", "assign", "greedy_sites", "interchange", "round_split"]


@dataclass
class Assignment:
    """People of each demand point sent to open sites.

    Attributes
    ----------
    sites : the open sites (candidate indices).
    demand, site, share : one row per (demand point, site) pair carrying people; ``share`` is
        the fraction of the demand point's people (1 with single assignment).
    unserved : per demand point, the share left without a place.
    total_person_s : people-weighted travel time plus the unserved penalty (person-seconds).
    """

    sites: np.ndarray
    demand: np.ndarray
    site: np.ndarray
    share: np.ndarray
    unserved: np.ndarray
    total_person_s: float


def assign(w, cap, cost, sites, single: bool = True, penalty_s: float | None = None):
    """People to the open ``sites``; None when someone has no place and ``penalty_s`` is None.

    Parameters
    ----------
    w : (n,) people per demand point.
    cap : (m,) people per site, or None (uncapacitated).
    cost : (n, m) travel time (s), ``inf`` = no route.
    sites : open site indices.
    single : one site per demand point (else people may split).
    penalty_s : cost of an unserved person (s); None: everyone must be served.
    """
    sites = np.asarray(sites, dtype=np.int64)
    sub = cost[:, sites]
    n, p = sub.shape
    order = np.argsort(sub, axis=1, kind="stable")
    times = np.take_along_axis(sub, order, axis=1)
    if cap is None:
        ok = np.isfinite(times[:, 0])
        if not ok.all() and penalty_s is None:
            return None
        di = np.flatnonzero(ok)
        sj = sites[order[di, 0]]
        unserved = (~ok).astype(float)
        total = float(w[di] @ times[di, 0] + (penalty_s or 0.0) * (w @ unserved))
        return Assignment(sites, di, sj, np.ones(len(di)), unserved, total)
    left = cap[sites].astype(float).tolist()
    second = times[:, 1] if p > 1 else np.full(n, np.inf)
    regret = np.where(np.isfinite(second), second - times[:, 0], 1e18)
    seq = np.lexsort((-w, -regret))  # largest regret first, then the most people
    order_l, times_l, wl = order.tolist(), times.tolist(), w.tolist()
    out: dict[int, list] = {}
    unserved = np.zeros(n)
    for i in seq.tolist():
        need = wl[i]
        got = []
        for r, t in zip(order_l[i], times_l[i]):
            if t == np.inf or need <= 1e-12:
                break
            if single:
                if left[r] >= need - 1e-9:
                    left[r] -= need
                    got.append((r, 1.0))
                    need = 0.0
                    break
            else:
                take = min(left[r], need)
                if take > 1e-12:
                    left[r] -= take
                    need -= take
                    got.append((r, take / wl[i]))
        if need > 1e-9:
            if penalty_s is None:
                return None
            unserved[i] = need / wl[i] if wl[i] > 0 else 0.0
        out[i] = got
    if single:
        _shift(out, unserved, order_l, times_l, wl, left)
    di = [i for i, got in out.items() for _ in got]
    rj = [r for got in out.values() for r, _ in got]
    share = [s for got in out.values() for _, s in got]
    di, rj, share = np.asarray(di, np.int64), np.asarray(rj, np.int64), np.asarray(share, float)
    total = float(np.sum(w[di] * share * sub[di, rj]) + (penalty_s or 0.0) * (w @ unserved))
    return Assignment(sites, di, sites[rj], share, unserved, total)


def _shift(out, unserved, order_l, times_l, wl, left) -> None:
    """Move whole demand points to cheaper open sites with room (and seat the unserved)."""
    for _ in range(2):
        moved = False
        for i, got in out.items():
            now = got[0][0] if got else None
            for r, t in zip(order_l[i], times_l[i]):
                if r == now or t == np.inf:
                    break  # sites are in order of time: the rest are no cheaper
                if left[r] >= wl[i] - 1e-9:
                    left[r] -= wl[i]
                    if now is not None:
                        left[now] += wl[i]
                    out[i] = [(r, 1.0)]
                    unserved[i] = 0.0
                    moved = True
                    break
        if not moved:
            return


def round_split(w, cap, cost, split: Assignment, penalty_s: float | None):
    """Whole assignments from a split one over the same sites (the transportation optimum).

    Demand points the split sends whole keep their site (they fit: the split is feasible);
    the split ones, most people first, go to the site holding most of them that has room,
    else the nearest with room; then single moves to cheaper sites with room.
    """
    sites = split.sites
    sub = cost[:, sites]
    n, p = sub.shape
    pos = np.searchsorted(sites, split.site)
    share = np.zeros((n, p))
    share[split.demand, pos] = split.share
    order = np.lexsort((sub, -share), axis=1) if p > 1 else np.zeros((n, 1), dtype=np.int64)
    times = np.take_along_axis(sub, order, axis=1)
    left = cap[sites].astype(float).tolist() if cap is not None else [np.inf] * p
    wl = w.tolist()
    out: dict[int, list] = {}
    unserved = np.zeros(n)
    whole = share.max(axis=1) > 1 - 1e-9
    seq = np.concatenate([np.flatnonzero(whole), np.flatnonzero(~whole)[np.argsort(-w[~whole])]])
    for i in seq.tolist():
        out[i] = []
        for r, t in zip(order[i].tolist(), times[i].tolist()):
            if t != np.inf and left[r] >= wl[i] - 1e-9:
                left[r] -= wl[i]
                out[i] = [(r, 1.0)]
                break
        if not out[i]:
            if penalty_s is None:
                return None
            unserved[i] = 1.0
    by_time = np.argsort(sub, axis=1, kind="stable")
    _shift(out, unserved, by_time.tolist(), np.take_along_axis(sub, by_time, 1).tolist(), wl, left)
    di = np.asarray([i for i, got in out.items() for _ in got], np.int64)
    rj = np.asarray([r for got in out.values() for r, _ in got], np.int64)
    total = float(np.sum(w[di] * sub[di, rj]) + (penalty_s or 0.0) * (w @ unserved))
    return Assignment(sites, di, sites[rj], np.ones(len(di)), unserved, total)


def greedy_sites(w, cap, cost, p: int, penalty_s: float) -> np.ndarray:
    """``p`` sites opened one at a time by the largest (capacity-scaled) saving.

    Parameters
    ----------
    w, cap, cost : as :func:`assign`.
    p : sites to open.
    penalty_s : cost of a person with no site yet (s); the saving is measured against it.
    """
    c = np.where(np.isfinite(cost), cost, penalty_s)
    best = np.full(len(w), float(penalty_s))
    chosen: list[int] = []
    for _ in range(p):
        gain = np.maximum(best[:, None] - c, 0.0)
        saving = w @ gain
        if cap is not None:
            attracted = w @ (gain > 0)
            saving = saving * np.minimum(1.0, cap / np.maximum(attracted, 1e-9))
        saving[chosen] = -np.inf
        j = int(np.argmax(saving))
        chosen.append(j)
        best = np.minimum(best, c[:, j])
    return np.sort(np.asarray(chosen, dtype=np.int64))


def interchange(
    w, cap, cost, start: Assignment, single: bool, penalty_s, deadline: float,
    priority=None, neighbours: int = 5, tries: int = 3,
) -> Assignment:  # fmt: skip
    """Teitz-Bart vertex substitution from ``start`` until no swap helps or ``deadline``.

    Parameters
    ----------
    w, cap, cost, single, penalty_s : as :func:`assign`.
    start : a feasible assignment (its sites are the first open set).
    deadline : ``time.perf_counter()`` value at which to stop (s).
    priority : (m,) score per candidate; closed sites are tried highest first (e.g. the LP's
        opening values); default the candidates' order.
    neighbours : a closed site is "near" the demand points that have it among this many
        nearest candidates ...
    tries : ... and is swapped for at most this many of the open sites serving them.
    """
    m = cost.shape[1]
    best = start
    nearest = np.argsort(cost, axis=1, kind="stable")[:, : min(neighbours, m)]
    rank = np.argsort(-np.asarray(priority, float), kind="stable") if priority is not None else None
    candidates = rank if rank is not None else np.arange(m)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for j_in in candidates.tolist():
            if time.perf_counter() >= deadline:
                break
            open_ = set(best.sites.tolist())
            if j_in in open_:
                continue
            near = np.flatnonzero((nearest == j_in).any(axis=1))
            serving = best.site[np.isin(best.demand, near)]
            outs, counts = np.unique(serving, return_counts=True)
            outs = outs[np.argsort(-counts, kind="stable")][:tries]
            trial_best = None
            for j_out in outs.tolist():
                trial = np.sort(np.asarray(list(open_ - {j_out} | {j_in}), dtype=np.int64))
                a = assign(w, cap, cost, trial, single, penalty_s)
                if a is not None and (
                    trial_best is None or a.total_person_s < trial_best.total_person_s
                ):
                    trial_best = a
            if (
                trial_best is not None
                and trial_best.total_person_s < best.total_person_s * (1 - 1e-12) - 1e-9
            ):
                best = trial_best
                improved = True
    return best
