"""Link-OD shares of an equilibrium from its origin-based decomposition.

The estimation needs, for the current equilibrium, the share ``p[a, i]`` of OD pair ``i``'s
trips that use link ``a``. Link flows of a user equilibrium are unique, path flows are not;
the origin-based (bush) solution gives one consistent decomposition: at every node, the
trips of an origin arriving there split over the incoming links in proportion to that
origin's flows on them (Bar-Gera 2002, *Origin-based algorithm for the traffic assignment
problem*, Transportation Science 36(4); the same proportionality the bush solver's
select-link analysis uses). With those node splits the estimator never stores ``p``; it
needs two products, each one sweep over every origin's used links:

- :meth:`OriginShares.od_mean` ``= p^T x``: the share-weighted sum of a link value along the
  paths of every OD pair (the gradient of the count misfit with respect to the OD flows);
- :meth:`OriginShares.load` ``= p y``: link volumes of OD flows ``y`` spread by the shares.

``dense_shares`` builds ``p`` explicitly for small networks: the reference the tests
compare both products with.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulators.traffic.assignment import split_reachable_demand
from simulators.traffic.bush import in_links_csr, solve_bush_based
from simulators.traffic.network import Demand, Network

__all__ = ["OriginShares", "equilibrium_shares", "dense_shares"]

#: an origin's flow on a link below this share of its trips is rounding, not use
USED_SHARE = 1e-9


@njit(cache=True)
def _orders(origins, od_start, od_flow, origin_flow, out_start, out_links, head, used_share):
    """Topological order of the nodes reached by each origin's used links (Kahn)."""
    n_origins = origins.shape[0]
    n_nodes = out_start.shape[0] - 1
    order = np.empty((n_origins, n_nodes), dtype=np.int32)
    count = np.zeros(n_origins, dtype=np.int64)
    threshold = np.empty(n_origins)
    indegree = np.zeros(n_nodes, dtype=np.int64)
    for k in range(n_origins):
        total = 0.0
        for e in range(od_start[k], od_start[k + 1]):
            total += od_flow[e]
        eps = used_share * total
        threshold[k] = eps
        row = origin_flow[k]
        indegree[:] = 0
        for link in range(row.shape[0]):
            if row[link] > eps:
                indegree[head[link]] += 1
        order[k, 0] = origins[k]
        n = 1
        i = 0
        while i < n:
            u = order[k, i]
            i += 1
            for p in range(out_start[u], out_start[u + 1]):
                link = out_links[p]
                if row[link] > eps:
                    v = head[link]
                    indegree[v] -= 1
                    if indegree[v] == 0:
                        order[k, n] = v
                        n += 1
        count[k] = n
    return order, count, threshold


@njit(cache=True)
def _od_mean(order, count, threshold, origin_flow, in_start, in_links, tail, od_start, od_dest,
             link_value):  # fmt: skip
    n_nodes = in_start.shape[0] - 1
    out = np.zeros(od_dest.shape[0])
    mean = np.zeros(n_nodes)
    for k in range(order.shape[0]):
        row = origin_flow[k]
        eps = threshold[k]
        mean[order[k, 0]] = 0.0
        for i in range(1, count[k]):
            j = order[k, i]
            inflow = 0.0
            acc = 0.0
            for p in range(in_start[j], in_start[j + 1]):
                a = in_links[p]
                f = row[a]
                if f > eps:
                    inflow += f
                    acc += f * (mean[tail[a]] + link_value[a])
            mean[j] = acc / inflow if inflow > 0.0 else 0.0
        for e in range(od_start[k], od_start[k + 1]):
            out[e] = mean[od_dest[e]]
    return out


@njit(cache=True)
def _load(order, count, threshold, origin_flow, in_start, in_links, tail, od_start, od_dest,
          od_value, n_links):  # fmt: skip
    n_nodes = in_start.shape[0] - 1
    out = np.zeros(n_links)
    node = np.zeros(n_nodes)
    for k in range(order.shape[0]):
        row = origin_flow[k]
        eps = threshold[k]
        for e in range(od_start[k], od_start[k + 1]):
            node[od_dest[e]] += od_value[e]
        for i in range(count[k] - 1, 0, -1):
            j = order[k, i]
            d = node[j]
            if d == 0.0:
                continue
            inflow = 0.0
            for p in range(in_start[j], in_start[j + 1]):
                a = in_links[p]
                if row[a] > eps:
                    inflow += row[a]
            if inflow > 0.0:
                for p in range(in_start[j], in_start[j + 1]):
                    a = in_links[p]
                    if row[a] > eps:
                        s = d * row[a] / inflow
                        out[a] += s
                        node[tail[a]] += s
            node[j] = 0.0
        node[order[k, 0]] = 0.0
    return out


class OriginShares:
    """Link-OD shares of one equilibrium, as two matrix-free products.

    Parameters
    ----------
    network : the assigned network.
    demand : the assigned demand (its entries index the OD vectors below).
    origin_flow : per loaded origin and link, veh/h (``solve_bush_based(keep_origin_flows)``).
    loaded : the loaded demand in CSR by origin (``split_reachable_demand``), with ``entry``.
    """

    def __init__(self, network: Network, demand: Demand, origin_flow: np.ndarray, loaded):
        self.network, self.demand, self.loaded = network, demand, loaded
        self.origin_flow = origin_flow
        self.in_start, self.in_links = in_links_csr(network)
        self.order, self.count, self.threshold = _orders(
            loaded.origins, loaded.start, loaded.flow, origin_flow, network.out_start,
            network.out_links, network.head, USED_SHARE,
        )  # fmt: skip

    def od_mean(self, link_value: np.ndarray) -> np.ndarray:
        """``p^T x``: per demand entry, the share-weighted sum of ``link_value`` on its paths.

        Entries without a path (or not loaded) get 0.
        """
        value = np.asarray(link_value, dtype=float)
        sums = _od_mean(
            self.order, self.count, self.threshold, self.origin_flow, self.in_start,
            self.in_links, self.network.tail, self.loaded.start, self.loaded.destination, value,
        )  # fmt: skip
        out = np.zeros(len(self.demand.flow))
        out[self.loaded.entry] = sums
        return out

    def load(self, od_value: np.ndarray) -> np.ndarray:
        """``p y``: link volumes of per-entry OD values ``y`` spread by the shares (veh/h)."""
        value = np.asarray(od_value, dtype=float)[self.loaded.entry]
        return _load(
            self.order, self.count, self.threshold, self.origin_flow, self.in_start,
            self.in_links, self.network.tail, self.loaded.start, self.loaded.destination, value,
            self.network.n_links,
        )  # fmt: skip


def equilibrium_shares(
    network: Network,
    demand: Demand,
    gap: float = 1e-6,
    max_iter: int = 500,
    time_limit_s: float | None = None,
) -> tuple[np.ndarray, OriginShares, dict]:
    """User equilibrium of ``demand`` (bush-based) and its link-OD shares.

    Returns
    -------
    volume : link volumes, veh/h.
    shares : :class:`OriginShares` of that equilibrium.
    info : ``relative_gap``, ``iterations``, ``unassignable`` (demand entries without path).
    """
    loaded, unassignable = split_reachable_demand(network, demand)
    if len(loaded.origins) == 0:
        raise ValueError("demand: no trip has a path on the network")
    solution = solve_bush_based(
        network, loaded, gap=gap, max_iter=max_iter, time_limit_s=time_limit_s,
        keep_origin_flows=True,
    )  # fmt: skip
    shares = OriginShares(network, demand, solution.origin_flow, loaded)
    info = {
        "relative_gap": solution.relative_gap,
        "iterations": solution.iterations,
        "unassignable": unassignable,
    }
    return solution.volume, shares, info


def dense_shares(shares: OriginShares) -> np.ndarray:
    """Reference: the dense ``(n_links, n_entries)`` share matrix, one path walk per pair.

    Recursion on the origin-based flows in plain Python: the share of pair (o, d) on link a
    is ``sum over links b into d of f_ob / inflow_o(d) x (1[b == a] + share(o, tail b))``.
    Only for small networks (tests).
    """
    net, loaded = shares.network, shares.loaded
    n_links, n_entries = net.n_links, len(shares.demand.flow)
    p = np.zeros((n_links, n_entries))
    incoming: dict[int, list[int]] = {}
    for a in range(n_links):
        incoming.setdefault(int(net.head[a]), []).append(a)
    for k, origin in enumerate(loaded.origins):
        row = shares.origin_flow[k]
        eps = shares.threshold[k]
        memo: dict[int, np.ndarray] = {int(origin): np.zeros(n_links)}

        def node_share(j: int, row=row, eps=eps, memo=memo) -> np.ndarray:
            if j not in memo:
                used = [a for a in incoming.get(j, []) if row[a] > eps]
                inflow = sum(row[a] for a in used)
                vec = np.zeros(n_links)
                for a in used:
                    part = node_share(int(net.tail[a])).copy()
                    part[a] += 1.0
                    vec += row[a] / inflow * part
                memo[j] = vec
            return memo[j]

        for e in range(loaded.start[k], loaded.start[k + 1]):
            p[:, loaded.entry[e]] = node_share(int(loaded.destination[e]))
    return p
