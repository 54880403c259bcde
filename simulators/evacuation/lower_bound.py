"""Quickest-flow lower bound on clearance time (time-expanded network + scipy max-flow).

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from simulators.dynamics.network import LinkNetwork


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
    clearance_s : ``T*``, no schedule clears everyone earlier (s).
    t90_s : ``T90*``, no schedule gets 90 % out earlier (s).
    step_s : time step of the time-expanded network (s).
    curve_s, curve_units : earliest-arrival curve: at most ``curve_units[i]`` vehicles can be
        out by ``curve_s[i]``.
    total_units : vehicles to move.
    """

    clearance_s: float | None
    t90_s: float | None
    step_s: float
    curve_s: np.ndarray
    curve_units: np.ndarray
    total_units: int


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
) -> LowerBound:
    """Quickest-flow bound for vehicles released at ``origin`` nodes at ``depart_s``.

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
    )
