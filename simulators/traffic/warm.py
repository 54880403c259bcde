"""Warm-started what-ifs: re-assign a network with links closed or capacity cut.

A bush-solver run (``assign(..., algorithm="bush", keep_bushes=True)``) holds the
whole equilibrium per origin. :func:`reassign` starts the edited network from those
bushes instead of from free-flow shortest-path trees:

1. per origin whose bush holds a link that is now closed, the share of the origin's
   flow arriving at each node through a closed link is found in topological order (as
   for select-link analysis); every bush link keeps ``1 - share`` of its flow, closed
   links and links from nodes the origin can no longer reach leave the bush;
2. the removed trips (``share`` of each destination's demand) go onto the origin's
   shortest-path tree on the edited network at the base equilibrium's costs, and the
   tree joins the bush (so every reachable node is in it);
3. if that union has a cycle, the bush links left without flow are dropped; if the
   cycle remains, the origin's bush is rebuilt from the tree alone (its whole demand on
   it; counted in ``history["rebuilt_bushes"]``);
4. Algorithm B continues from there to the target gap.

Capacity cuts, speed or toll changes leave every bush feasible: only step 4 runs.
Trips whose every route is closed become ``unassignable`` (reported as in
:func:`~simulators.traffic.assignment.assign`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numba import njit

from .assignment import AssignmentResult, split_reachable_demand
from .bush import BushState, _topological_order, solve_bush_based
from .costs import link_costs
from .network import Network
from .paths import _sp_tree, _tree_buffers

__all__ = ["reassign", "same_graph", "WARM_LAZY_SHARE"]

#: lazy origins for warm starts (see :func:`reassign`)
WARM_LAZY_SHARE = 0.5


@njit(cache=True)
def _repair_bushes(
    origins, od_start, od_dest, od_flow, base_out_start, base_out_links, base_in_start,
    base_in_links, out_start, out_links, tail, head, is_open, cost, first_thru, in_bush, bush_flow,
):  # fmt: skip
    """Steps 1-3 of the module docstring on every origin row, in place.

    Returns the number of origins whose bush was touched and of those rebuilt from a tree.
    """
    n_nodes = out_start.shape[0] - 1
    m = tail.shape[0]
    indegree = np.empty(n_nodes, dtype=np.int64)
    order = np.empty(n_nodes, dtype=np.int64)
    position = np.empty(n_nodes, dtype=np.int64)
    share = np.zeros(n_nodes)
    ahead = np.zeros(n_nodes)
    inflow_at = np.zeros(n_nodes)
    node_flow = np.zeros(n_nodes)
    dist, pred, tree, hk, hn = _tree_buffers(n_nodes, m)
    closed = np.flatnonzero(~is_open)
    touched = 0
    rebuilt = 0
    for k in range(origins.shape[0]):
        row = in_bush[k]
        flow = bush_flow[k]
        hit = False
        for a in closed:
            if row[a]:
                hit = True
                break
        if not hit:
            continue
        touched += 1
        origin = origins[k]
        n = _topological_order(origin, row, base_out_start, base_out_links, head, indegree,
                               order, position)  # fmt: skip
        # share[j]: part of the flow arriving at j that came through a closed link;
        # ahead[j]: part that will go on through one. With flows split at nodes in
        # proportion (a Markov chain along the bush), link (i, j) keeps
        # (1 - share[i]) (1 - ahead[j]) of its flow and every node stays balanced,
        # each destination d losing share[d] of its trips.
        share[:] = 0.0
        ahead[:] = 0.0
        inflow_at[:] = 0.0
        inflow_at[origin] = od_flow[od_start[k] : od_start[k + 1]].sum()
        for i in range(1, n):
            j = order[i]
            inflow = 0.0
            through = 0.0
            for e in range(base_in_start[j], base_in_start[j + 1]):
                a = base_in_links[e]
                f = flow[a]
                if row[a] and f > 0.0:
                    inflow += f
                    through += f if not is_open[a] else f * share[tail[a]]
            inflow_at[j] = inflow
            share[j] = min(through / inflow, 1.0) if inflow > 0.0 else 0.0
        for i in range(n - 1, -1, -1):
            j = order[i]
            if inflow_at[j] <= 0.0:
                continue
            onward = 0.0
            for e in range(base_out_start[j], base_out_start[j + 1]):
                a = base_out_links[e]
                f = flow[a]
                if row[a] and f > 0.0:
                    onward += f if not is_open[a] else f * ahead[head[a]]
            ahead[j] = min(onward / inflow_at[j], 1.0)
        dist[:] = np.inf
        pred[:] = -1
        nt = _sp_tree(origin, out_start, out_links, head, cost, first_thru, dist, pred, tree,
                      hk, hn)  # fmt: skip
        for a in range(m):
            if row[a]:
                if not is_open[a] or dist[tail[a]] == np.inf:
                    row[a] = False
                    flow[a] = 0.0
                else:
                    flow[a] *= (1.0 - share[tail[a]]) * (1.0 - ahead[head[a]])
        for e in range(od_start[k], od_start[k + 1]):
            node_flow[od_dest[e]] += od_flow[e] * share[od_dest[e]]
        for i in range(1, nt):
            row[pred[tree[i]]] = True
        n2 = _topological_order(origin, row, out_start, out_links, head, indegree, order, position)
        if n2 < nt:
            # retry without the bush links that no longer carry flow (most cycles run
            # through those)
            for a in range(m):
                if row[a] and flow[a] <= 0.0:
                    row[a] = False
            for i in range(1, nt):
                row[pred[tree[i]]] = True
            n2 = _topological_order(origin, row, out_start, out_links, head, indegree, order,
                                    position)  # fmt: skip
        if n2 < nt:
            # the kept links and the tree make a cycle: this origin restarts from the tree
            rebuilt += 1
            row[:] = False
            flow[:] = 0.0
            for i in range(1, nt):
                row[pred[tree[i]]] = True
            node_flow[:] = 0.0
            for e in range(od_start[k], od_start[k + 1]):
                node_flow[od_dest[e]] += od_flow[e]
        for i in range(nt - 1, 0, -1):
            v = tree[i]
            f = node_flow[v]
            if f != 0.0:
                link = pred[v]
                flow[link] += f
                node_flow[tail[link]] += f
                node_flow[v] = 0.0
        node_flow[origin] = 0.0
    return touched, rebuilt


def same_graph(base: Network, network: Network) -> bool:
    """Whether ``network`` has ``base``'s nodes and links in the same order (a warm start's
    precondition)."""
    return (
        base.n_nodes == network.n_nodes
        and base.n_links == network.n_links
        and np.array_equal(base.tail, network.tail)
        and np.array_equal(base.head, network.head)
        and base.first_thru_node == network.first_thru_node
    )


def reassign(
    base: AssignmentResult,
    network: Network,
    gap: float = 1e-4,
    max_iter: int = 1000,
    time_limit_s: float | None = None,
    progress: Callable[[float, str], None] | None = None,
    keep_bushes: bool = False,
    lazy_share: float = WARM_LAZY_SHARE,
) -> AssignmentResult:
    """Equilibrium of ``base.demand`` on an edited ``network``, warm-started from ``base``.

    Parameters
    ----------
    base : a run of ``assign(..., algorithm="bush", keep_bushes=True)``; its bushes are
        copied, never modified.
    network : the base network with links closed (``scenarios.close_links``), reopened,
        or with capacity, speed or tolls changed: same nodes and links in the same order
        (an added link needs a cold start).
    gap, max_iter, time_limit_s, progress : as for :func:`~simulators.traffic.assign`.
    keep_bushes : keep the new bushes in the result (to chain what-ifs).
    lazy_share : a sweep visits only the origins whose excess cost is at least this
        share of the mean per origin (``solve_bush_based``): after an edit most origins
        are still at equilibrium and the gap sits in the few whose routes changed.

    Returns
    -------
    AssignmentResult
        ``algorithm == "bush"``; ``history["rebuilt_bushes"]`` and
        ``history["repaired_bushes"]`` (one value each) count the origins whose bush held
        a closed link and those rebuilt from a shortest-path tree.
    """
    if base.algorithm != "bush" or not isinstance(base.bushes, BushState):
        raise ValueError(
            "base: a warm start needs a bush run kept with assign(..., algorithm='bush', "
            "keep_bushes=True)"
        )
    if not same_graph(base.network, network):
        raise ValueError(
            "network: must have the base network's nodes and links in the same order "
            "(close, reopen or re-parameterise links; added links need a cold start)"
        )
    started = time.perf_counter()
    if progress is not None:
        progress(0.0, "preparing")
    demand = base.demand
    loaded, unassignable = split_reachable_demand(network, demand)
    state: BushState = base.bushes
    rows = np.searchsorted(state.origins, loaded.origins)
    if not np.all(state.origins[np.minimum(rows, len(state.origins) - 1)] == loaded.origins):
        raise ValueError("base: its bushes do not cover this demand's origins")
    in_bush = state.in_bush[rows]  # fancy indexing copies: the base stays as it was
    flow = state.flow[rows]
    cost = np.empty(network.n_links)
    link_costs(network.free_flow_time, network.alpha, network.beta, network.capacity,
               network.fixed_cost, base.volume, cost)  # fmt: skip
    b = base.network
    from .bush import in_links_csr

    base_in_start, base_in_links = in_links_csr(b)
    touched, rebuilt = _repair_bushes(
        loaded.origins, loaded.start, loaded.destination, loaded.flow, b.out_start, b.out_links,
        base_in_start, base_in_links, network.out_start, network.out_links, network.tail,
        network.head, network.open, cost, network.first_thru_node, in_bush, flow,
    )  # fmt: skip
    solution = solve_bush_based(
        network, loaded, gap=gap, max_iter=max_iter, time_limit_s=time_limit_s,
        progress=progress, initial_bushes=BushState(loaded.origins.copy(), in_bush, flow),
        keep_bushes=keep_bushes, lazy_share=lazy_share,
    )  # fmt: skip
    solution.history["repaired_bushes"] = [int(touched)]
    solution.history["rebuilt_bushes"] = [int(rebuilt)]
    if progress is not None:
        progress(1.0, "done")
    return AssignmentResult(
        network=network,
        demand=demand,
        algorithm="bush",
        volume=solution.volume,
        cost=solution.cost,
        iterations=solution.iterations,
        relative_gap=solution.relative_gap,
        converged=solution.converged,
        stop_reason=solution.stop_reason,
        seconds=time.perf_counter() - started,
        history=solution.history,
        unassignable=unassignable,
        bushes=solution.bushes,
    )
