"""Travel-time matrices on the road network with the traffic engine's shortest-path trees.

One tree per candidate site on the reversed network gives the time from every node to that
site, so a matrix of ``n_demand x n_sites`` costs ``n_sites`` trees.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from simulators.dynamics.network import LinkNetwork, from_graph
from simulators.traffic.paths import shortest_path_tree

__all__ = ["network_for", "snap_to_nodes", "travel_times_s"]


def network_for(graph: nx.MultiDiGraph, mode: str = "car", walk_speed_mps: float = 1.34):
    """The links people travel on, with their free-flow times.

    Parameters
    ----------
    graph : OSMnx-style road graph in a projected CRS (m); edges with ``closed=True`` (a
        scenario's closed roads) get capacity 0 and so no route.
    mode : ``"car"`` (the road links, their speeds) or ``"walk"`` (every road both ways but
        motorways, at ``walk_speed_mps``: the evacuation engine's walking network).
    """
    if mode == "walk":
        from simulators.evacuation import EvacuationParams, walking_network

        return walking_network(graph, EvacuationParams(walk_speed_mps=walk_speed_mps))
    if mode != "car":
        raise ValueError(f"mode must be car or walk, got {mode!r}")
    net = from_graph(graph)
    closed = [bool(graph.edges[k].get("closed", False)) for k in net.link_keys]
    net.capacity_veh_s[np.asarray(closed, dtype=bool)] = 0.0
    return net


def snap_to_nodes(net: LinkNetwork, x, y, into: bool = False) -> np.ndarray:
    """Nearest node with an open link leaving it (``into``: entering it), for each point.

    Parameters
    ----------
    net : the network (node coordinates in a projected CRS, metres).
    x, y : point coordinates in the same CRS (m).
    into : snap to nodes that can be reached (a destination) rather than left (an origin).
    """
    ends = net.link_to if into else net.link_from
    usable = np.unique(ends[net.capacity_veh_s > 0])
    if not len(usable):
        raise ValueError("the network has no open link")
    _, idx = cKDTree(np.c_[net.node_x[usable], net.node_y[usable]]).query(np.c_[x, y])
    return usable[idx].astype(np.int64)


def travel_times_s(
    net: LinkNetwork, origin_nodes, destination_nodes, link_time_s=None
) -> np.ndarray:
    """Shortest travel time (s) from each origin node to each destination node.

    Parameters
    ----------
    net : links with their free-flow times; links with capacity 0 (closed) are left out.
    origin_nodes, destination_nodes : node indices in ``net``.
    link_time_s : per-link travel time (s); default the free-flow time.

    Returns
    -------
    (n_origins, n_destinations) array; ``inf`` where no route exists.
    """
    cost = np.asarray(net.free_flow_time_s if link_time_s is None else link_time_s, float)
    open_ = np.flatnonzero(net.capacity_veh_s > 0)
    # reversed network in CSR by the original head: a tree from a destination gives the
    # time from every node to it
    tails = net.link_to[open_].astype(np.int64)
    order = np.argsort(tails, kind="stable")
    out_links = order.astype(np.int64)
    out_start = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=net.n_nodes), out=out_start[1:])
    head = net.link_from[open_].astype(np.int64)
    link_cost = cost[open_]
    origins = np.asarray(origin_nodes, dtype=np.int64)
    dest = np.asarray(destination_nodes, dtype=np.int64)
    out = np.empty((len(origins), len(dest)))
    trees: dict[int, np.ndarray] = {}
    for j, d in enumerate(dest):
        if int(d) not in trees:
            trees[int(d)], _ = shortest_path_tree(int(d), out_start, out_links, head, link_cost, 0)
        out[:, j] = trees[int(d)][origins]
    return out
