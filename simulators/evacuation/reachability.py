"""Who can get out at all: evacuees with no route to safety, found before simulating.

A vehicle (or walker) whose start node cannot reach any destination node (the safe area or
an open shelter) over the open links can never be out, whatever the traffic.  Such evacuees
are kept out of the simulation, of T100 and of the lower bound, and reported apart with a
reason in words:

- ``closed_road``: a route exists once the closed roads (closures that never lift, closed
  edges of the scenario, roads given up to contraflow) are opened again;
- ``edge_of_extract``: the roads from the start lead to the edge of the mapped area (a dead
  end near the hull of the network, where the real road went on outside the extract), or the
  start is on a fragment whose link to the rest of the network lies outside the extract;
- ``one_way_trap``: the start is connected to the safe area, but only against one-way
  streets (a one-way fragment with no exit in the direction of travel);
- ``isolated``: a road fragment with no connection to the rest of the network, away from the
  edge of the extract.

All checks are breadth-first searches over link arrays (scipy.sparse.csgraph), linear in the
network size.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import breadth_first_order, connected_components

from simulators.dynamics.network import LinkNetwork

#: reason code -> words, in the order the reasons are tried
REASONS: dict[str, str] = {
    "closed_road": "a closed road cuts every way out",
    "edge_of_extract": "the roads lead out of the mapped area (edge of the extract)",
    "one_way_trap": "one-way streets lead nowhere safe (one-way trap)",
    "isolated": "a road fragment with no connection to the network",
}

#: nodes within this distance (m) of the network's convex hull are on the edge of the extract
DEFAULT_EDGE_M: float = 150.0


def reaches(n_nodes: int, tails: np.ndarray, heads: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Bool per node: a directed path over the links ``tails -> heads`` leads to a seed.

    Parameters
    ----------
    n_nodes : number of nodes.
    tails, heads : node index of each link's start and end.
    seeds : bool per node (the targets).
    """
    seeds = np.asarray(seeds, dtype=bool)
    root = n_nodes
    seed_idx = np.flatnonzero(seeds)
    # reverse links (head -> tail) and a root pointing at every seed
    rows = np.concatenate([np.asarray(heads, np.int64), np.full(len(seed_idx), root)])
    cols = np.concatenate([np.asarray(tails, np.int64), seed_idx])
    adj = sp.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n_nodes + 1,) * 2)
    seen = breadth_first_order(adj, root, directed=True, return_predecessors=False)
    out = np.zeros(n_nodes + 1, dtype=bool)
    out[seen] = True
    return out[:n_nodes]


def extract_edge_nodes(net: LinkNetwork, edge_m: float = DEFAULT_EDGE_M) -> np.ndarray:
    """Bool per node: within ``edge_m`` metres of the convex hull of all nodes (projected CRS)."""
    points = shapely.points(net.node_x, net.node_y)
    hull = shapely.convex_hull(shapely.multipoints(points))
    if hull.geom_type != "Polygon":  # fewer than three distinct nodes: all on the edge
        return np.ones(net.n_nodes, dtype=bool)
    return shapely.distance(hull.exterior, points) <= edge_m


def classify_starts(
    net: LinkNetwork,
    start_nodes: np.ndarray,
    is_target: np.ndarray,
    open_links: np.ndarray,
    edge_m: float = DEFAULT_EDGE_M,
) -> np.ndarray:
    """Reason why each start node cannot reach a target, ``""`` where it can.

    Parameters
    ----------
    net : the links (every link, open or not).
    start_nodes : node index of each evacuee's start.
    is_target : bool per node, destination nodes (safe area and open shelters).
    open_links : bool per link, usable now and for good (closed roads are False).
    edge_m : distance (m) to the network's convex hull within which a node is on the edge
        of the extract.

    Returns
    -------
    reasons : object array of reason codes (keys of :data:`REASONS`) or ``""``.
    """
    start_nodes = np.asarray(start_nodes, dtype=np.int64)
    reasons = np.full(len(start_nodes), "", dtype=object)
    if len(start_nodes) == 0:
        return reasons
    n, tails, heads = net.n_nodes, net.link_from, net.link_to
    ok = reaches(n, tails[open_links], heads[open_links], is_target)
    stuck = ~ok
    if not stuck[start_nodes].any():
        return reasons
    node_reason = np.full(n, "", dtype=object)
    # a route once every closed road is open again
    with_closed = reaches(n, tails, heads, is_target)
    node_reason[stuck & with_closed] = "closed_road"
    left = stuck & ~with_closed
    edge = extract_edge_nodes(net, edge_m)
    # dead ends on the edge of the extract: the road went on outside the mapped area
    out_degree = np.bincount(tails[open_links], minlength=n)
    dead_edge = edge & (out_degree == 0) & ~is_target
    to_edge = reaches(n, tails[open_links], heads[open_links], dead_edge)
    # connected to the targets if directions are ignored?
    both = np.concatenate([tails, heads]), np.concatenate([heads, tails])
    undirected = reaches(n, *both, is_target)
    adj = sp.csr_matrix((np.ones(len(tails), np.int8), (tails, heads)), shape=(n, n))
    _, component = connected_components(adj, directed=False)
    edge_component = np.zeros(component.max() + 1, dtype=bool)
    edge_component[component[edge]] = True
    trapped = left & undirected
    node_reason[trapped & to_edge] = "edge_of_extract"
    node_reason[trapped & ~to_edge] = "one_way_trap"
    fragment = left & ~undirected
    on_edge = edge_component[component]
    node_reason[fragment & on_edge] = "edge_of_extract"
    node_reason[fragment & ~on_edge] = "isolated"
    return node_reason[start_nodes]
