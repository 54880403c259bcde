"""Link arrays for mesoscopic network loading, built from an OSMnx-style road graph.

A :class:`LinkNetwork` holds one row per directed link: end nodes, length (m), free-flow
speed (m/s), lanes, flow capacity (veh/s) and storage (vehicles at jam density).  The graph
must be in a projected metric CRS (node ``x``/``y`` in metres); ``length`` is in metres.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from simulators.common.road_defaults import (
    JAM_DENSITY_VEH_PER_KM_LANE,
    link_defaults,
    parse_number,
)

#: links shorter than this (m) are point queues: no storage limit, so that the many
#: tiny OSM links at junctions cannot lock each other (a 10 m link stores one car).
DEFAULT_SHORT_LINK_M: float = 25.0


@dataclass
class LinkNetwork:
    """Directed links as flat arrays (index = link id, node index = position in ``node_ids``).

    Attributes
    ----------
    node_ids : original graph node keys.
    node_x, node_y : node coordinates (CRS of the graph, metres when projected).
    link_from, link_to : node indices of each link's tail and head.
    link_keys : ``(u, v, key)`` of each link in the source graph (``None`` when built from arrays).
    length_m : link length (m).
    speed_mps : free-flow speed (m/s).
    lanes : lanes in the link's direction.
    capacity_veh_s : flow capacity (veh/s).
    storage_veh : vehicles the link holds at jam density; ``inf`` for point queues.
    """

    node_ids: list[Hashable]
    node_x: np.ndarray
    node_y: np.ndarray
    link_from: np.ndarray
    link_to: np.ndarray
    length_m: np.ndarray
    speed_mps: np.ndarray
    lanes: np.ndarray
    capacity_veh_s: np.ndarray
    storage_veh: np.ndarray
    link_keys: list | None = None
    _in_csr: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_from)

    @property
    def free_flow_time_s(self) -> np.ndarray:
        """Free-flow travel time of each link (s)."""
        return self.length_m / self.speed_mps

    @property
    def is_point_queue(self) -> np.ndarray:
        return ~np.isfinite(self.storage_veh)

    def in_links_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(pointer, links): links ending at node ``n`` are ``links[pointer[n]:pointer[n+1]]``."""
        if self._in_csr is None:
            order = np.argsort(self.link_to, kind="stable").astype(np.int32)
            counts = np.bincount(self.link_to, minlength=self.n_nodes)
            pointer = np.zeros(self.n_nodes + 1, dtype=np.int32)
            np.cumsum(counts, out=pointer[1:])
            self._in_csr = (pointer, order)
        return self._in_csr

    def copy(self) -> LinkNetwork:
        return LinkNetwork(
            list(self.node_ids),
            self.node_x.copy(),
            self.node_y.copy(),
            self.link_from.copy(),
            self.link_to.copy(),
            self.length_m.copy(),
            self.speed_mps.copy(),
            self.lanes.copy(),
            self.capacity_veh_s.copy(),
            self.storage_veh.copy(),
            None if self.link_keys is None else list(self.link_keys),
        )


def storage_from_geometry(
    length_m: np.ndarray,
    lanes: np.ndarray,
    jam_density_per_km_lane: float = JAM_DENSITY_VEH_PER_KM_LANE,
    short_link_m: float = DEFAULT_SHORT_LINK_M,
) -> np.ndarray:
    """Storage (vehicles) = length x lanes x jam density, at least one vehicle.

    Links shorter than ``short_link_m`` get ``inf`` (point queue), see module note.
    """
    storage = np.maximum(1.0, length_m / 1000.0 * lanes * jam_density_per_km_lane)
    return np.where(length_m < short_link_m, np.inf, storage)


def from_arrays(
    link_from,
    link_to,
    length_m,
    speed_mps,
    capacity_veh_s,
    lanes=None,
    storage_veh=None,
    n_nodes: int | None = None,
    short_link_m: float = 0.0,
) -> LinkNetwork:
    """Build a network from plain arrays (tests, synthetic grids).

    ``storage_veh`` defaults to length x lanes x jam density (``inf`` = point queue).
    """
    link_from = np.asarray(link_from, dtype=np.int32)
    link_to = np.asarray(link_to, dtype=np.int32)
    n = int(n_nodes if n_nodes is not None else max(link_from.max(), link_to.max()) + 1)
    m = len(link_from)
    length_m = np.broadcast_to(np.asarray(length_m, dtype=float), (m,)).copy()
    lanes = np.ones(m) if lanes is None else np.broadcast_to(np.asarray(lanes, float), (m,)).copy()
    if storage_veh is None:
        storage_veh = storage_from_geometry(length_m, lanes, short_link_m=short_link_m)
    return LinkNetwork(
        node_ids=list(range(n)),
        node_x=np.zeros(n),
        node_y=np.zeros(n),
        link_from=link_from,
        link_to=link_to,
        length_m=length_m,
        speed_mps=np.broadcast_to(np.asarray(speed_mps, dtype=float), (m,)).copy(),
        lanes=lanes,
        capacity_veh_s=np.broadcast_to(np.asarray(capacity_veh_s, dtype=float), (m,)).copy(),
        storage_veh=np.broadcast_to(np.asarray(storage_veh, dtype=float), (m,)).copy(),
    )


def _is_true(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "-1"}
    if isinstance(value, list | tuple):
        return any(_is_true(v) for v in value)
    return bool(value)


def from_graph(
    graph: nx.MultiDiGraph,
    jam_density_per_km_lane: float = JAM_DENSITY_VEH_PER_KM_LANE,
    short_link_m: float = DEFAULT_SHORT_LINK_M,
) -> LinkNetwork:
    """Links of an OSMnx-style ``MultiDiGraph`` (projected, metres).

    Edge attributes used, with defaults from :func:`simulators.common.road_defaults.link_defaults`
    when missing: ``length`` (m; else the straight node distance), ``highway``,
    ``maxspeed`` or ``speed_kph`` (km/h), ``lanes`` and ``oneway``, ``capacity`` (veh/h; when
    given, ``lanes`` is read as lanes in the link's direction, as the twin stores it).
    """
    node_ids = list(graph.nodes)
    index = {n: i for i, n in enumerate(node_ids)}
    xs = np.array([float(graph.nodes[n].get("x", 0.0)) for n in node_ids])
    ys = np.array([float(graph.nodes[n].get("y", 0.0)) for n in node_ids])
    rows = []
    keys = []
    for u, v, k, data in graph.edges(keys=True, data=True):
        if u == v:
            continue  # self-loops carry nobody anywhere
        oneway = _is_true(data.get("oneway", False))
        speed, lanes, capacity_h = link_defaults(
            data.get("highway"), data.get("maxspeed"), data.get("lanes"), oneway
        )
        speed_attr = parse_number(data.get("speed_kph"))
        if speed_attr is not None and speed_attr > 0:
            speed = speed_attr
        cap_attr = parse_number(data.get("capacity"))
        if cap_attr is not None and cap_attr > 0:
            capacity_h = cap_attr
            lanes_attr = parse_number(data.get("lanes"))
            lanes = int(lanes_attr) if lanes_attr and lanes_attr >= 1 else lanes
        length = parse_number(data.get("length"))
        if length is None or length <= 0:
            length = float(np.hypot(xs[index[u]] - xs[index[v]], ys[index[u]] - ys[index[v]]))
        rows.append((index[u], index[v], max(length, 1.0), speed / 3.6, lanes, capacity_h / 3600))
        keys.append((u, v, k))
    arr = np.array(rows, dtype=float).reshape(-1, 6)
    length_m, lanes = arr[:, 2], arr[:, 4]
    return LinkNetwork(
        node_ids=node_ids,
        node_x=xs,
        node_y=ys,
        link_from=arr[:, 0].astype(np.int32),
        link_to=arr[:, 1].astype(np.int32),
        length_m=length_m,
        speed_mps=arr[:, 3],
        lanes=lanes,
        capacity_veh_s=arr[:, 5],
        storage_veh=storage_from_geometry(length_m, lanes, jam_density_per_km_lane, short_link_m),
        link_keys=keys,
    )
