"""Walking distances over the street network: zones to stops, and zone to zone.

The street network is the road network taken in both directions (pedestrians ignore one-way
streets) without motorways, where walking is forbidden. Distances are shortest paths by
length (scipy's Dijkstra, bounded), metres; a stop is joined to its nearest street node by
a straight line.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

__all__ = ["walk_graph", "street_access", "zone_walk_distances", "NOT_WALKABLE"]

#: road classes closed to pedestrians
NOT_WALKABLE = ("motorway", "motorway_link")

_CHUNK = 128  # sources per bounded Dijkstra call (rows x nodes floats in memory)


def walk_graph(tail, head, length_m, n_nodes: int, walkable=None) -> csr_matrix:
    """Undirected street graph (CSR, metres) of the walkable links.

    Parameters
    ----------
    tail, head : link ends (node indices of the road network).
    length_m : link length, m.
    n_nodes : node count.
    walkable : optional bool mask of the links pedestrians may use (default all).
    """
    tail, head = np.asarray(tail), np.asarray(head)
    length = np.maximum(np.asarray(length_m, dtype=float), 1e-3)  # 0 would drop the edge
    keep = np.ones(len(tail), bool) if walkable is None else np.asarray(walkable, bool)
    rows = np.concatenate([tail[keep], head[keep]])
    cols = np.concatenate([head[keep], tail[keep]])
    data = np.concatenate([length[keep], length[keep]])
    # parallel links: keep the shortest (a sparse matrix would add their lengths)
    order = np.lexsort((data, cols, rows))
    r, c, d = rows[order], cols[order], data[order]
    first = np.ones(len(r), bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return csr_matrix((d[first], (r[first], c[first])), shape=(n_nodes, n_nodes))


def _bounded(graph: csr_matrix, sources: np.ndarray, targets: np.ndarray, max_m: float):
    out = np.full((len(sources), len(targets)), np.inf)
    for start in range(0, len(sources), _CHUNK):
        rows = sources[start : start + _CHUNK]
        dist = dijkstra(graph, directed=False, indices=rows, limit=max_m)
        out[start : start + _CHUNK] = dist[:, targets]
    return out


def street_access(
    graph: csr_matrix,
    node_xy: np.ndarray,
    zone_nodes: np.ndarray,
    stop_xy: np.ndarray,
    max_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, stop, metres) of every stop within ``max_m`` walking of a zone node.

    Parameters
    ----------
    graph : from :func:`walk_graph`.
    node_xy : ``(n_nodes, 2)`` street node positions, m (city UTM).
    zone_nodes : street node of each zone.
    stop_xy : ``(S, 2)`` stop positions, m.
    max_m : longest walk, m.

    Returns
    -------
    zone, stop : indices; metres : street distance plus the stop's straight line to its
    nearest walkable street node.
    """
    stop_xy = np.asarray(stop_xy, dtype=float).reshape(-1, 2)
    zone_nodes = np.asarray(zone_nodes, dtype=np.int64)
    if len(stop_xy) == 0 or len(zone_nodes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    degree = np.diff(graph.indptr)
    walkable = np.flatnonzero(degree > 0)
    if len(walkable) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    snap_m, nearest = cKDTree(np.asarray(node_xy)[walkable]).query(stop_xy)
    stop_node = walkable[nearest]
    unique_nodes, which = np.unique(stop_node, return_inverse=True)
    dist = _bounded(graph, unique_nodes, zone_nodes, max_m)[which]  # (S, Z)
    dist = dist + snap_m[:, None]
    s, z = np.nonzero(dist <= max_m)
    return z.astype(np.int64), s.astype(np.int64), dist[s, z]


def zone_walk_distances(graph: csr_matrix, zone_nodes: np.ndarray, max_m: float) -> np.ndarray:
    """``(Z, Z)`` street walking distance between zone nodes, m (``inf`` beyond ``max_m``)."""
    zone_nodes = np.asarray(zone_nodes, dtype=np.int64)
    return _bounded(graph, zone_nodes, zone_nodes, max_m)
