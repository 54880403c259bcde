"""Road edits on an OSMnx-style graph: the one set of rules every engine's inputs follow.

The graph's edges carry ``lanes`` (per direction), ``speed_kph``, ``capacity`` (veh/h),
``length`` (m), ``oneway``, ``closed``. Traffic turns it into a CSR network (closed links kept
and closed there, so they report zero flow); evacuation drops the closed edges. The array
versions of the same rules for a built network are in :mod:`simulators.traffic.scenarios`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx
import numpy as np

from .road_defaults import link_defaults

__all__ = ["capacity_for_lanes", "change_roads", "close_roads", "add_road"]


def capacity_for_lanes(capacity_veh_h, lanes_from, lanes_to):
    """Capacity (veh/h) after a lane change, keeping the capacity per lane.

    Works on numbers and NumPy arrays alike (lanes per direction, > 0).
    """
    return capacity_veh_h / np.maximum(lanes_from, 1e-9) * lanes_to


def change_roads(
    G: nx.MultiDiGraph,
    keys: Iterable[tuple],
    lanes: float | None = None,
    capacity_veh_h: float | None = None,
    speed_kph: float | None = None,
) -> None:
    """New lanes / capacity / free-flow speed on the edges ``keys`` (in place).

    A lane change without a capacity scales the capacity with the lanes (the capacity per
    lane of the road's class is kept); an explicit capacity wins.
    """
    for key in keys:
        data = G.edges[key]
        if lanes is not None and capacity_veh_h is None:
            data["capacity"] = float(capacity_for_lanes(data["capacity"], data["lanes"], lanes))
        if lanes is not None:
            data["lanes"] = lanes
        if capacity_veh_h is not None:
            data["capacity"] = capacity_veh_h
        if speed_kph is not None:
            data["speed_kph"] = speed_kph


def close_roads(G: nx.MultiDiGraph, keys: Iterable[tuple]) -> None:
    """Mark the edges ``keys`` closed (in place); they stay in the graph."""
    for key in keys:
        G.edges[key]["closed"] = True


def add_road(
    G: nx.MultiDiGraph,
    key: str,
    xy: np.ndarray,
    ends: Sequence[object | None],
    lanes: float,
    speed_kph: float,
    oneway: bool,
    lonlat: np.ndarray | None = None,
    **attrs,
) -> None:
    """Add a road along the points ``xy`` (m, the graph's CRS) in place.

    ``ends``: existing node ids to join at the start and the end, or None for a new dead end
    (named ``<key>-start`` / ``<key>-end``). Capacity is the unclassified road's per lane
    times ``lanes`` (per direction). Edge keys: ``<key>-f`` and, two-way, ``<key>-b``.
    ``lonlat``: the same points in lon/lat, kept on new end nodes. ``attrs``: extra edge
    attributes; those ending in ``_reverse`` go to the backward edge.
    """
    nodes = []
    for name, node, pos in (("start", ends[0], 0), ("end", ends[1], -1)):
        if node is None or node not in G:
            node = f"{key}-{name}"
            where = {} if lonlat is None else {"lon": lonlat[pos, 0], "lat": lonlat[pos, 1]}
            G.add_node(node, x=xy[pos, 0], y=xy[pos, 1], **where)
        nodes.append(node)
    length_m = float(np.hypot(*np.diff(xy, axis=0).T).sum())
    _, _, capacity = link_defaults("unclassified", speed_kph, lanes, oneway=True)
    common = dict(
        highway="added", lanes=lanes, speed_kph=speed_kph, capacity=capacity,
        oneway=oneway, length=length_m, closed=False,
    )  # fmt: skip
    forward = {k: v for k, v in attrs.items() if not k.endswith("_reverse")}
    backward = {k.removesuffix("_reverse"): v for k, v in attrs.items() if k.endswith("_reverse")}
    G.add_edge(nodes[0], nodes[1], key=f"{key}-f", **common, **forward)
    if not oneway:
        G.add_edge(nodes[1], nodes[0], key=f"{key}-b", **common, **{**forward, **backward})
