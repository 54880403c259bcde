"""Lower bounds on clearance time: flows over time (Ford & Fulkerson 1958).

Two implementations of the same theory:

- :func:`network_lower_bound` (what the engine reports): **temporally repeated flows** on
  a relaxation, computed without a time-expanded network, in memory linear in the network
  and a time that does not grow with the horizon (see "Temporally repeated bound" below);
- :func:`max_flow_over_time` / :func:`quickest_flow_steps`: the exact quickest flow in the
  time-expanded network (reference implementation, small cases and tests).

No simulation can clear a network faster than the quickest flow over time: the most flow
that can reach the sinks by step ``T`` is the maximum flow in the time-expanded network
(one copy of every node per step, link arcs ``(u, t) -> (v, t + transit)`` with the link's
capacity per step, unlimited waiting arcs ``(v, t) -> (v, t + 1)``; Ford & Fulkerson 1958).
The smallest ``T`` at which every unit arrives is the clearance bound ``T*``; the same flow
values for smaller ``T`` give the earliest-arrival curve, and ``T90*`` is the first ``T`` at
which 90 % can be out.

For large networks the step is coarsened to ``k`` simulation steps: transit times are
rounded *down* and the capacity of a coarse step is the most the simulation can pass in
``k`` steps (under ``max(1, r) + 1 + (k - 1) r`` vehicles for ``r`` vehicles per step, the credit
rule of :mod:`simulators.dynamics.loading`), so the bound stays valid.  Max-flows are
:func:`scipy.sparse.csgraph.maximum_flow` (Dinic).

Temporally repeated bound
-------------------------
For one source with unlimited supply at step 0, the most flow that reaches the sinks by step
``T`` in the time-expanded network equals ``max_x (T + 1)|x| - sum_e tau_e x_e`` over static
flows ``x`` (Ford & Fulkerson's temporally repeated flows), and the successive shortest
paths of a min-cost flow give it for every ``T`` at once:
``value(T) = sum_p F_p (T + 1 - D_p)^+`` where phase ``p`` adds flow ``F_p`` on paths of
transit ``D_p`` (:func:`repeated_flow_phases`, primal-dual in numba: Dijkstra with
potentials and Dinic's blocking flow per distinct path length).  Releasing a set ``V'`` of vehicles (those
starting in a region ``R``, released at step ``r0`` or later) all at step ``r0`` from a
super-source joined to every start node of ``R`` only adds flow, so if
``value_R(T - r0) < |V'|`` not all of ``V'`` can be out by ``T``: clearance is at least
``step x (r0 + T_q)`` with ``T_q`` the smallest ``T`` where ``value_R(T) >= |V'|``.  The
bound reported is the largest of these over a few regions (by free-flow distance to safety)
and release steps, on steps of 30 s and 60 s, and the per-vehicle bound
``max(departure + free-flow time to the nearest sink)``.  Every term is valid, so the
largest is; it is weaker than the exact quickest flow (supplies and release times are
relaxed), never above it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from simulators.dynamics.network import LinkNetwork
from simulators.dynamics.routing import _heap_pop, _heap_push, trees


def _reduce(n_nodes, tails, heads, supply_nodes, is_sink):
    """Keep nodes reachable from a source without passing a sink (sinks are absorbing)."""
    keep_arc = ~is_sink[tails]
    root = n_nodes
    rows = np.concatenate([tails[keep_arc], np.full(len(supply_nodes), root)])
    cols = np.concatenate([heads[keep_arc], supply_nodes])
    adj = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), (n_nodes + 1,) * 2)
    seen = breadth_first_order(adj, root, directed=True, return_predecessors=False)
    reach = np.zeros(n_nodes + 1, dtype=bool)
    reach[seen] = True
    return reach[:n_nodes]


def max_flow_over_time(
    n_nodes: int,
    tails: np.ndarray,
    heads: np.ndarray,
    transit_steps: np.ndarray,
    capacity_per_step: np.ndarray,
    supply_nodes: np.ndarray,
    supply_steps: np.ndarray,
    supply_amounts: np.ndarray,
    is_sink: np.ndarray,
    horizon_steps: int,
) -> int:
    """Most flow units that reach a sink by step ``horizon_steps`` (discrete time).

    Flow leaving ``u`` at step ``t`` on an arc with transit ``tau`` reaches ``v`` at
    ``t + tau``; an arc takes at most ``capacity_per_step`` units per step; flow may wait at
    nodes; ``supply_amounts[i]`` units become available at ``supply_nodes[i]`` at step
    ``supply_steps[i]``.  All quantities are integers.
    """
    T = int(horizon_steps)
    tails = np.asarray(tails, dtype=np.int64)
    heads = np.asarray(heads, dtype=np.int64)
    tau = np.asarray(transit_steps, dtype=np.int64)
    cap = np.asarray(capacity_per_step, dtype=np.int64)
    s_nodes = np.asarray(supply_nodes, dtype=np.int64)
    s_steps = np.asarray(supply_steps, dtype=np.int64)
    s_amt = np.asarray(supply_amounts, dtype=np.int64)
    is_sink = np.asarray(is_sink, dtype=bool)
    ok = s_steps <= T
    s_nodes, s_steps, s_amt = s_nodes[ok], s_steps[ok], s_amt[ok]
    total = int(s_amt.sum())
    if total == 0 or T < 0:
        return 0
    at_sink = is_sink[s_nodes]
    direct = int(s_amt[at_sink].sum())  # released at a sink: already out
    s_nodes, s_steps, s_amt = s_nodes[~at_sink], s_steps[~at_sink], s_amt[~at_sink]
    if len(s_nodes) == 0:
        return direct
    reach = _reduce(n_nodes, tails, heads, s_nodes, is_sink)
    arc = reach[tails] & ~is_sink[tails] & (tails != heads) & (cap > 0) & (tau <= T)
    arc &= reach[heads] | is_sink[heads]
    tails, heads, tau, cap = tails[arc], heads[arc], tau[arc], cap[arc]
    inner = np.flatnonzero(reach & ~is_sink)
    local = np.full(n_nodes, -1, dtype=np.int64)
    local[inner] = np.arange(len(inner))
    n = len(inner)
    src, sink = n * (T + 1), n * (T + 1) + 1
    big = np.int64(min(total, 2**31 - 1))
    # waiting arcs
    t_hold = np.arange(T)
    hold_rows = (t_hold[:, None] * n + np.arange(n)[None, :]).ravel()
    # link arcs: departures at steps 0 .. T - tau
    n_dep = T - tau + 1
    arc_idx = np.repeat(np.arange(len(tails)), n_dep)
    offsets = np.arange(n_dep.sum()) - np.repeat(np.cumsum(n_dep) - n_dep, n_dep)
    dep_t = offsets
    rows = dep_t * n + local[tails[arc_idx]]
    to_sink = is_sink[heads[arc_idx]]
    cols = np.where(to_sink, sink, (dep_t + tau[arc_idx]) * n + local[heads[arc_idx]])
    data = cap[arc_idx]
    all_rows = np.concatenate([hold_rows, rows, np.full(len(s_nodes), src)])
    all_cols = np.concatenate([hold_rows + n, cols, s_steps * n + local[s_nodes]])
    all_data = np.concatenate([np.full(len(hold_rows), big), data, s_amt])
    all_data = np.minimum(all_data, big).astype(np.int32)
    graph = sp.csr_matrix((all_data, (all_rows, all_cols)), shape=(sink + 1, sink + 1))
    graph.sum_duplicates()
    graph.data = np.minimum(graph.data.astype(np.int64), big).astype(np.int32)
    return direct + int(maximum_flow(graph, src, sink, method="dinic").flow_value)


def quickest_flow_steps(
    n_nodes: int,
    tails,
    heads,
    transit_steps,
    capacity_per_step,
    supply_nodes,
    supply_steps,
    supply_amounts,
    is_sink,
    share: float = 1.0,
    upper_steps: int | None = None,
) -> int | None:
    """Smallest horizon ``T`` (steps) at which ``share`` of all supply can reach a sink.

    ``upper_steps`` is a horizon known to suffice (e.g. a simulated clearance); without it
    the horizon is doubled until it suffices.  Returns None when some supply can never
    reach a sink.
    """
    args = (n_nodes, tails, heads, transit_steps, capacity_per_step, supply_nodes, supply_steps,
            supply_amounts, is_sink)  # fmt: skip
    need = int(np.ceil(share * int(np.sum(supply_amounts)) - 1e-9))
    lo = int(np.max(supply_steps)) if share >= 1.0 else 0
    if upper_steps is None:
        hi = max(1, lo + 1)
        limit = hi + 2**22
        while max_flow_over_time(*args, hi) < need:
            hi *= 2
            if hi > limit:
                return None
    else:
        hi = int(upper_steps)
        if max_flow_over_time(*args, hi) < need:
            return quickest_flow_steps(*args, share=share, upper_steps=None)
    lo = min(lo, hi)
    # invariant: flow(hi) >= need; find the smallest such T in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if max_flow_over_time(*args, mid) >= need:
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass
class LowerBound:
    """Quickest-flow bounds for one loading problem.

    Attributes
    ----------
    clearance_s : ``T*``, no schedule clears everyone earlier (s); None when some vehicle
        can never reach a sink.
    t90_s : ``T90*``, no schedule gets 90 % out earlier (s).
    step_s : time step of the flows over time (s; the finer one when several were used).
    curve_s, curve_units : earliest-arrival curve: at most ``curve_units[i]`` vehicles can be
        out by ``curve_s[i]``.
    total_units : vehicles to move.
    method : which bound (words).
    seconds : wall-clock time of the computation (s).
    unreachable_units : vehicles that can never reach a sink (then ``clearance_s`` is None).
    """

    clearance_s: float | None
    t90_s: float | None
    step_s: float
    curve_s: np.ndarray
    curve_units: np.ndarray
    total_units: int
    method: str = ""
    seconds: float = 0.0
    unreachable_units: int = 0


@njit(cache=True)
def _residual_dijkstra(n, ptr, slot_arc, slot_fwd, a_tail, a_head, cost, cap, flow, pot, src):
    """Reduced-cost distances from ``src`` in the residual graph (costs are integers)."""
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    keys = np.empty(2 * slot_arc.shape[0] + n + 1)
    vals = np.empty(2 * slot_arc.shape[0] + n + 1, dtype=np.int64)
    dist[src] = 0.0
    size = _heap_push(keys, vals, 0, 0.0, src)
    while size > 0:
        d, v, size = _heap_pop(keys, vals, size)
        if done[v]:
            continue
        done[v] = True
        for j in range(ptr[v], ptr[v + 1]):
            a = slot_arc[j]
            if slot_fwd[j]:
                if flow[a] >= cap[a]:
                    continue
                w = a_head[a]
                c = cost[a]
            else:
                if flow[a] <= 0:
                    continue
                w = a_tail[a]
                c = -cost[a]
            nd = d + c + pot[v] - pot[w]
            if nd < dist[w]:
                dist[w] = nd
                size = _heap_push(keys, vals, size, nd, w)
    return dist


def repeated_flow_phases(
    n_nodes: int,
    tails: np.ndarray,
    heads: np.ndarray,
    transit_steps: np.ndarray,
    capacity_per_step: np.ndarray,
    sources: np.ndarray,
    is_sink: np.ndarray,
    reach: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Successive-shortest-path phases of the min-cost flow from ``sources`` to the sinks.

    Returns ``(D, F)``: phase ``p`` sends ``F[p]`` more units per step on paths of transit
    ``D[p]`` steps (increasing).  With unlimited supply at every source at step 0, the most
    units that reach a sink by step ``T`` is ``sum_p F[p] * max(0, T + 1 - D[p])``
    (temporally repeated flow; equal to :func:`max_flow_over_time` with that supply).
    """
    tails = np.asarray(tails, np.int64)
    heads = np.asarray(heads, np.int64)
    tau = np.asarray(transit_steps, np.int64)
    cap = np.asarray(capacity_per_step, np.int64)
    is_sink = np.asarray(is_sink, bool)
    src_nodes = np.flatnonzero(np.asarray(sources, bool) & ~is_sink)
    if len(src_nodes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if reach is None:  # nodes reachable from a source without passing a sink
        reach = _reduce(n_nodes, tails, heads, src_nodes, is_sink)
    arc = reach[tails] & ~is_sink[tails] & (tails != heads) & (cap > 0)
    arc &= reach[heads] | is_sink[heads]
    tails, heads, tau, cap = tails[arc], heads[arc], tau[arc], cap[arc]
    S, T = n_nodes, n_nodes + 1
    n = n_nodes + 2
    heads = np.where(is_sink[heads], T, heads)
    out_cap = np.bincount(tails, weights=cap, minlength=n_nodes)
    src_cap = np.minimum(out_cap[src_nodes], 2**30).astype(np.int64)
    keep = src_cap > 0
    a_tail = np.concatenate([np.full(int(keep.sum()), S), tails])
    a_head = np.concatenate([src_nodes[keep], heads])
    a_cost = np.concatenate([np.zeros(int(keep.sum()), np.int64), tau]).astype(np.float64)
    a_cap = np.concatenate([src_cap[keep], cap])
    # residual slots: forward arcs at their tail, backward arcs at their head
    slot_node = np.concatenate([a_tail, a_head])
    slot_arc = np.concatenate([np.arange(len(a_tail)), np.arange(len(a_tail))])
    slot_fwd = np.concatenate([np.ones(len(a_tail), bool), np.zeros(len(a_tail), bool)])
    order = np.argsort(slot_node, kind="stable")
    slot_arc, slot_fwd = slot_arc[order], slot_fwd[order]
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(slot_node, minlength=n), out=ptr[1:])
    a_cost_i = a_cost.astype(np.int64)
    d, f = _primal_dual(n, S, T, ptr, slot_arc, slot_fwd, a_tail, a_head, a_cost, a_cost_i, a_cap)
    return d, f


@njit(cache=True)
def _slot_ends(j, slot_arc, slot_fwd, a_tail, a_head, a_cost, a_cap, flow):
    """(from, to, residual, cost) of residual slot ``j``."""
    a = slot_arc[j]
    if slot_fwd[j]:
        return a_tail[a], a_head[a], a_cap[a] - flow[a], a_cost[a]
    return a_head[a], a_tail[a], flow[a], -a_cost[a]


@njit(cache=True)
def _primal_dual(n, S, T, ptr, slot_arc, slot_fwd, a_tail, a_head, a_cost, a_cost_i, a_cap):
    """Min-cost flow phases: Dijkstra with potentials, then a blocking flow (Dinic) on the
    residual arcs of zero reduced cost; one phase per distinct path length."""
    m = a_tail.shape[0]
    flow = np.zeros(m, dtype=np.int64)
    pot = np.zeros(n)
    out_d = np.empty(m + 1, dtype=np.int64)
    out_f = np.empty(m + 1, dtype=np.int64)
    level = np.empty(n, dtype=np.int64)
    it = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    path = np.empty(n + 1, dtype=np.int64)
    phases = 0
    while True:
        dist = _residual_dijkstra(n, ptr, slot_arc, slot_fwd, a_tail, a_head, a_cost, a_cap,
                                  flow, pot, S)  # fmt: skip
        if not np.isfinite(dist[T]):
            break
        d_t = dist[T]
        for v in range(n):
            pot[v] += min(dist[v], d_t)
        total = 0
        while True:
            # levels over admissible residual slots (positive residual, zero reduced cost)
            level[:] = -1
            level[S] = 0
            head, tail = 0, 1
            queue[0] = S
            while head < tail:
                v = queue[head]
                head += 1
                for j in range(ptr[v], ptr[v + 1]):
                    u, w, res, c = _slot_ends(j, slot_arc, slot_fwd, a_tail, a_head, a_cost_i,
                                              a_cap, flow)  # fmt: skip
                    if res > 0 and level[w] < 0 and abs(c + pot[u] - pot[w]) < 0.5:
                        level[w] = level[v] + 1
                        queue[tail] = w
                        tail += 1
            if level[T] < 0:
                break
            for v in range(n):
                it[v] = ptr[v]
            v, depth = S, 0
            while True:
                if v == T:
                    push = np.int64(2**62)
                    for i in range(depth):
                        _, _, res, _ = _slot_ends(path[i], slot_arc, slot_fwd, a_tail, a_head,
                                                  a_cost_i, a_cap, flow)  # fmt: skip
                        push = min(push, res)
                    for i in range(depth):
                        a = slot_arc[path[i]]
                        if slot_fwd[path[i]]:
                            flow[a] += push
                        else:
                            flow[a] -= push
                    total += push
                    v, depth = S, 0
                    continue
                moved = False
                while it[v] < ptr[v + 1]:
                    j = it[v]
                    u, w, res, c = _slot_ends(j, slot_arc, slot_fwd, a_tail, a_head, a_cost_i,
                                              a_cap, flow)  # fmt: skip
                    if res > 0 and level[w] == level[v] + 1 and abs(c + pot[u] - pot[w]) < 0.5:
                        path[depth] = j
                        depth += 1
                        v = w
                        moved = True
                        break
                    it[v] += 1
                if moved:
                    continue
                if v == S:
                    break
                level[v] = -1  # dead end for this blocking flow
                depth -= 1
                u, _, _, _ = _slot_ends(path[depth], slot_arc, slot_fwd, a_tail, a_head,
                                        a_cost_i, a_cap, flow)  # fmt: skip
                v = u
                it[v] += 1
        if total <= 0:
            break
        out_d[phases] = int(round(pot[T] - pot[S]))
        out_f[phases] = total
        phases += 1
    return out_d[:phases].copy(), out_f[:phases].copy()


def repeated_value(phases_d: np.ndarray, phases_f: np.ndarray, horizon_steps) -> np.ndarray:
    """Units that can reach a sink by step ``T`` (array of ``T``), from the phases."""
    t = np.atleast_1d(np.asarray(horizon_steps, np.int64))
    return (phases_f[None, :] * np.maximum(0, t[:, None] + 1 - phases_d[None, :])).sum(axis=1)


def repeated_quickest_steps(phases_d: np.ndarray, phases_f: np.ndarray, units: int) -> int | None:
    """Smallest ``T`` with ``repeated_value(T) >= units`` (None: never)."""
    if units <= 0:
        return 0
    if len(phases_f) == 0:
        return None
    # value is piecewise linear in T: rate_p T + base_p on [D_p - 1, D_{p+1} - 1]
    rate = np.cumsum(phases_f)
    base = np.cumsum(phases_f * (1 - phases_d))
    t = np.maximum(phases_d - 1, np.ceil((units - base) / rate).astype(np.int64))
    end = np.r_[phases_d[1:] - 1, np.iinfo(np.int64).max]
    return max(int(t[np.argmax(t <= end)]), 0)


def _quickest_many(phases_d: np.ndarray, phases_f: np.ndarray, units: np.ndarray) -> np.ndarray:
    """:func:`repeated_quickest_steps` for several unit counts (float, ``inf`` = never)."""
    units = np.asarray(units, np.int64)
    out = np.zeros(len(units))
    need = units > 0
    if not need.any():
        return out
    if len(phases_f) == 0:
        out[need] = np.inf
        return out
    rate = np.cumsum(phases_f)
    base = np.cumsum(phases_f * (1 - phases_d))
    end = np.r_[phases_d[1:] - 1, np.iinfo(np.int64).max]
    t = np.maximum(phases_d[None, :] - 1,
                   np.ceil((units[need, None] - base[None, :]) / rate[None, :]))  # fmt: skip
    first = np.argmax(t <= end[None, :], axis=1)
    out[need] = np.maximum(t[np.arange(len(first)), first], 0)
    return out


@njit(cache=True)
def _forward_reach(n, out_ptr, out_links, link_to, sources, is_sink):
    """Nodes reachable from a source without passing through a sink."""
    seen = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for v in sources:
        if not seen[v]:
            seen[v] = True
            stack[top] = v
            top += 1
    while top > 0:
        top -= 1
        v = stack[top]
        if is_sink[v]:
            continue
        for j in range(out_ptr[v], out_ptr[v + 1]):
            w = link_to[out_links[j]]
            if not seen[w]:
                seen[w] = True
                stack[top] = w
                top += 1
    return seen


def _regions(
    d: np.ndarray, at_sink: np.ndarray, distance_shares: tuple[float, ...]
) -> list[np.ndarray]:
    """Vehicle subsets (bool per vehicle, distinct): those off a sink whose free-flow time
    to safety ``d`` (s) is at least each quantile of ``distance_shares``."""
    off_sink = ~at_sink
    regions = []
    for share in distance_shares:
        region = off_sink & (d >= np.quantile(d, share))
        if region.any() and not any((region == r).all() for r in regions):
            regions.append(region)
    return regions


def _repeated_terms(
    net: LinkNetwork,
    cap: np.ndarray,
    fft: np.ndarray,
    origin: np.ndarray,
    depart_s: np.ndarray,
    is_sink: np.ndarray,
    dt_s: float,
    steps: list[int],
    regions: list[np.ndarray],
    release_shares: tuple[float, ...],
    scale: int,
    progress: Callable[[float, str], None] | None,
) -> list[tuple]:
    """Temporally repeated flow terms, one per (region, step of ``k * dt_s`` s):
    ``(step s, release steps r0, vehicles of the subset per r0, phases D, phases F)``;
    capacities ``cap`` in veh/s scaled to integer units (``scale`` per vehicle), link
    free-flow times ``fft`` in s."""
    terms = []
    r = cap * dt_s
    out_links = np.argsort(net.link_from, kind="stable").astype(np.int64)
    out_ptr = np.zeros(net.n_nodes + 1, np.int64)
    np.cumsum(np.bincount(net.link_from, minlength=net.n_nodes), out=out_ptr[1:])
    for ri, region in enumerate(regions):
        sources = np.zeros(net.n_nodes, bool)
        sources[origin[region]] = True
        reach = _forward_reach(net.n_nodes, out_ptr, out_links, net.link_to.astype(np.int64),
                               np.flatnonzero(sources), np.asarray(is_sink, bool))  # fmt: skip
        for k in steps:
            step = k * dt_s
            cap_units = np.floor(scale * (np.maximum(1.0, r) + 1.0 + (k - 1) * r)).astype(np.int64)
            cap_units[r <= 0] = 0
            tau = np.floor(fft / step + 1e-9).astype(np.int64)
            rel = np.sort(np.floor(depart_s[region] / step + 1e-9).astype(np.int64))
            pd_, pf_ = repeated_flow_phases(net.n_nodes, net.link_from, net.link_to, tau,
                                            cap_units, sources, is_sink, reach)  # fmt: skip
            r0 = np.unique(np.quantile(rel, release_shares, method="lower"))
            units = len(rel) - np.searchsorted(rel, r0, side="left")
            terms.append((step, r0, units, pd_, pf_))
        if progress:
            progress((ri + 1) / len(regions), "lower bound")
    return terms


def _term_time(term: tuple, need: int, total: int, scale: int) -> float:
    """Earliest time (s) at which one term lets ``need`` of ``total`` vehicles be out."""
    step, r0, units, pd_, pf_ = term
    missing = need - (total - units)  # of each subset, at least this many must be out
    q = _quickest_many(pd_, pf_, missing * scale)
    return float(np.max(step * (r0 + q), initial=0.0))


def _bound_curve(
    terms: list[tuple], ff_arrival: np.ndarray, grid: np.ndarray, total: int, scale: int
) -> np.ndarray:
    """Earliest-arrival curve: at most this many vehicles out by each time of ``grid`` (s),
    the least of the free-flow arrivals ``ff_arrival`` (s) and every term."""
    units = np.searchsorted(ff_arrival, grid, side="right").astype(float)
    for step, r0s, n_subs, pd_, pf_ in terms:
        for r0, n_sub in zip(r0s, n_subs, strict=True):
            horizon = np.floor(grid / step + 1e-9).astype(np.int64) - r0
            value = repeated_value(pd_, pf_, np.maximum(horizon, 0)) / scale
            value = np.where(horizon >= 0, value, 0.0)
            units = np.minimum(units, total - n_sub + np.minimum(n_sub, value))
    return units


def network_lower_bound(
    net: LinkNetwork,
    origin: np.ndarray,
    depart_s: np.ndarray,
    is_sink: np.ndarray,
    dt_s: float,
    link_capacity_veh_s: np.ndarray | None = None,
    upper_s: float | None = None,
    max_arcs: int = 3_000_000,
    curve_points: int = 12,
    progress: Callable[[float, str], None] | None = None,
    steps_s: tuple[float, ...] = (30.0, 60.0),
    distance_shares: tuple[float, ...] = (0.0, 0.5),
    release_shares: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8),
) -> LowerBound:
    """Temporally repeated lower bound for vehicles released at ``origin`` at ``depart_s``.

    See the module notes: the largest of the per-vehicle free-flow bound and the
    temporally repeated bounds of several (region, release step) subsets, on each step
    length of ``steps_s`` (rounded to multiples of ``dt_s``).  Memory is linear in the
    network; time is a few shortest-path trees and static max-flows per subset and step.

    Parameters
    ----------
    net : links; ``link_capacity_veh_s`` overrides their capacities (veh/s).
    origin, depart_s : start node and release time (s) of each vehicle.
    is_sink : bool per node, where vehicles are out.
    dt_s : simulation step (s); the bound's steps are multiples of it.
    upper_s, max_arcs : unused (kept for the signature of :func:`expanded_lower_bound`).
    curve_points : points of the earliest-arrival curve.
    steps_s : step lengths (s) of the flows over time; each gives a valid bound.
    distance_shares : regions: vehicles whose free-flow time to safety is at least this
        quantile of all vehicles'.
    release_shares : release steps: quantiles of the departure times within a region.
    """
    started = time.perf_counter()
    cap = np.asarray(net.capacity_veh_s if link_capacity_veh_s is None else link_capacity_veh_s,
                     float)  # fmt: skip
    origin = np.asarray(origin, dtype=np.int64)
    depart_s = np.asarray(depart_s, float)
    total = len(origin)
    if total == 0:
        return LowerBound(0.0, 0.0, dt_s, np.zeros(1), np.zeros(1), 0, "no vehicles")
    if progress:
        progress(0.0, "lower bound")
    fft = net.free_flow_time_s
    _, dist = trees(net, np.where(cap > 0, fft, np.inf), np.asarray(is_sink, bool)[None, :])
    d = dist[0][origin]
    reachable = np.isfinite(d)
    if not reachable.all():
        return LowerBound(None, None, dt_s, np.zeros(1), np.zeros(1), total,
                          "no bound: some vehicles can never reach a sink",
                          time.perf_counter() - started, int((~reachable).sum()))  # fmt: skip
    # less a microsecond: the simulation sums the same link times in another order
    ff_arrival = np.sort(depart_s + d) - 1e-6
    need100, need90 = total, int(np.ceil(0.9 * total - 1e-9))
    t100 = float(ff_arrival[need100 - 1])
    t90 = float(ff_arrival[need90 - 1])
    scale = 4
    steps = sorted({max(1, int(round(s / dt_s))) for s in steps_s})
    regions = _regions(d, np.asarray(is_sink, bool)[origin], distance_shares)
    terms = _repeated_terms(net, cap, fft, origin, depart_s, is_sink, dt_s, steps, regions,
                            release_shares, scale, progress)  # fmt: skip
    for term in terms:
        t100 = max(t100, _term_time(term, need100, total, scale))
        t90 = max(t90, _term_time(term, need90, total, scale))
    grid = np.linspace(0.0, t100, curve_points)
    units = _bound_curve(terms, ff_arrival, grid, total, scale)
    return LowerBound(
        clearance_s=float(t100),
        t90_s=float(t90),
        step_s=steps[0] * dt_s,
        curve_s=grid,
        curve_units=units,
        total_units=total,
        method=f"temporally repeated flows (steps {', '.join(f'{k * dt_s:g}' for k in steps)} s)"
        " and free-flow times",
        seconds=time.perf_counter() - started,
    )


def expanded_lower_bound(
    net: LinkNetwork,
    origin: np.ndarray,
    depart_s: np.ndarray,
    is_sink: np.ndarray,
    dt_s: float,
    link_capacity_veh_s: np.ndarray | None = None,
    upper_s: float | None = None,
    max_arcs: int = 3_000_000,
    curve_points: int = 12,
    progress: Callable[[float, str], None] | None = None,
) -> LowerBound:
    """Exact quickest-flow bound in the time-expanded network (reference implementation).

    Memory and time grow with ``links x horizon / step`` (the step is coarsened to keep
    ``max_arcs`` link arcs) and with the binary search on the horizon: use it on small
    networks and in tests; :func:`network_lower_bound` is the bounded one.

    Parameters
    ----------
    net : links; ``link_capacity_veh_s`` overrides their capacities (veh/s), e.g. after
        background traffic or contraflow.
    origin, depart_s : start node and release time (s) of each vehicle.
    is_sink : bool per node, where vehicles are out.
    dt_s : simulation step (s); the coarse step is a multiple of it.
    upper_s : a clearance time known to be achievable (a simulation's T100) to start the
        search from.
    max_arcs : budget of time-expanded link arcs; sets the coarse step.
    curve_points : points of the earliest-arrival curve.
    """
    cap = net.capacity_veh_s if link_capacity_veh_s is None else link_capacity_veh_s
    r = np.asarray(cap, float) * dt_s  # vehicles per simulation step
    fft = net.free_flow_time_s
    origin = np.asarray(origin, dtype=np.int64)
    depart_s = np.asarray(depart_s, float)
    total = len(origin)
    if total == 0:
        return LowerBound(0.0, 0.0, dt_s, np.zeros(1), np.zeros(1), 0)
    horizon_guess = upper_s if upper_s is not None else float(depart_s.max()) + 3600.0
    k = max(1, int(np.ceil(net.n_links * horizon_guess / dt_s / max_arcs)))
    step = k * dt_s
    # units: 1/scale vehicle, so that fractional capacities are not rounded up to 1
    scale = 4
    cap_units = np.floor(scale * (np.maximum(1.0, r) + 1.0 + (k - 1) * r)).astype(np.int64)
    cap_units[r <= 0] = 0
    tau = np.floor(fft / step + 1e-9).astype(np.int64)
    rel = np.floor(depart_s / step + 1e-9).astype(np.int64)
    key = origin * (rel.max() + 1) + rel
    uniq, counts = np.unique(key, return_counts=True)
    s_nodes, s_steps = uniq // (rel.max() + 1), uniq % (rel.max() + 1)
    args = (net.n_nodes, net.link_from, net.link_to, tau, cap_units, s_nodes, s_steps,
            counts * scale, is_sink)  # fmt: skip
    upper_steps = None if upper_s is None else int(np.floor(upper_s / step + 1e-9))
    if progress:
        progress(0.0, "lower bound")
    t100 = quickest_flow_steps(*args, share=1.0, upper_steps=upper_steps)
    if progress:
        progress(0.5, "lower bound")
    t90 = quickest_flow_steps(*args, share=0.9, upper_steps=t100)
    last = t100 if t100 is not None else int(rel.max()) + int(3600 / step)
    grid = np.unique(np.linspace(0, last, curve_points).round().astype(np.int64))
    values = np.array([max_flow_over_time(*args, int(t)) for t in grid]) / scale
    if progress:
        progress(1.0, "lower bound")
    return LowerBound(
        clearance_s=None if t100 is None else t100 * step,
        t90_s=None if t90 is None else t90 * step,
        step_s=step,
        curve_s=grid * step,
        curve_units=values,
        total_units=total,
        method="time-expanded quickest flow",
    )
