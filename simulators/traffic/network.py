"""Road network and travel demand as flat arrays.

A :class:`Network` holds one row per directed link (tail, head, free-flow time,
capacity, BPR alpha/beta, length, toll, lanes) plus a CSR index of the open
links by tail node, which is what the compiled kernels walk. Nodes are numbered
``0 .. n_nodes-1``; zones (centroids) are nodes ``0 .. n_zones-1``. Following the
TNTP convention, nodes below ``first_thru_node`` may start or end trips but no
path may pass *through* them (zone connectors are not shortcuts).

A :class:`Demand` is a sparse origin-destination matrix between zone nodes, in
vehicles per hour (or whatever unit the capacities use).

Both are frozen: scenario edits (:mod:`simulators.traffic.scenarios`) return new
objects and never touch the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Network", "Demand", "link_travel_time", "generalized_cost"]


def _as_float(values, n: int, default: float) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.float64)
    out = np.asarray(values, dtype=np.float64).copy()
    if out.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {out.shape}")
    return out


@dataclass(frozen=True, eq=False)
class Network:
    """Directed road network in flat arrays (one entry per link).

    Parameters
    ----------
    tail, head : int arrays, 0-based node indices of each link.
    free_flow_time : free-flow travel time per link, in ``time_unit_h`` hours
        (minutes by default).
    capacity : practical capacity per link, veh/h (same unit as the demand).
    alpha, beta : BPR parameters; ``t = t0 * (1 + alpha * (v/c)**beta)``.
    length : link length, in ``length_unit_km`` kilometres (metres by default for
        networks built from OSM graphs).
    toll : toll per link (any money unit; weighted by ``toll_weight``).
    lanes : lanes per link (used to rescale capacity when lanes change).
    open : bool mask; closed links carry no flow and are skipped by path search.
    n_nodes : number of nodes.
    n_zones : number of zone (centroid) nodes, which are nodes ``0..n_zones-1``.
    first_thru_node : 0-based index of the first node that paths may pass
        through (TNTP ``<FIRST THRU NODE>`` minus one).
    toll_weight, distance_weight : generalized cost =
        time + toll_weight x toll + distance_weight x length (in time units).
    node_ids : external node labels (TNTP numbers or OSM ids), one per node.
    time_unit_h, length_unit_km : unit of ``free_flow_time`` in hours and of
        ``length`` in km, for vehicle-hours and vehicle-km.
    """

    tail: np.ndarray
    head: np.ndarray
    free_flow_time: np.ndarray
    capacity: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    length: np.ndarray
    toll: np.ndarray
    lanes: np.ndarray
    open: np.ndarray
    n_nodes: int
    n_zones: int
    first_thru_node: int
    toll_weight: float = 0.0
    distance_weight: float = 0.0
    node_ids: np.ndarray | None = None
    time_unit_h: float = 1.0 / 60.0
    length_unit_km: float = 0.001
    out_start: np.ndarray = field(init=False, repr=False)
    out_links: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_links = len(self.tail)
        set_ = object.__setattr__
        set_(self, "tail", np.asarray(self.tail, dtype=np.int64).copy())
        set_(self, "head", np.asarray(self.head, dtype=np.int64).copy())
        if self.head.shape != (n_links,):
            raise ValueError("tail and head must have the same length")
        for name, default in (
            ("free_flow_time", None),
            ("capacity", None),
            ("alpha", 0.15),
            ("beta", 4.0),
            ("length", 0.0),
            ("toll", 0.0),
            ("lanes", 1.0),
        ):
            value = getattr(self, name)
            if value is None and default is None:
                raise ValueError(f"{name} is required")
            set_(self, name, _as_float(value, n_links, default if default is not None else 0.0))
        is_open = (
            np.ones(n_links, dtype=bool)
            if self.open is None
            else np.asarray(self.open, dtype=bool).copy()
        )
        set_(self, "open", is_open)
        set_(self, "n_nodes", int(self.n_nodes))
        set_(self, "n_zones", int(self.n_zones))
        set_(self, "first_thru_node", int(self.first_thru_node))
        if self.node_ids is None:
            set_(self, "node_ids", np.arange(1, self.n_nodes + 1))
        if n_links and (
            self.tail.min() < 0 or max(self.tail.max(), self.head.max()) >= self.n_nodes
        ):
            raise ValueError("link end outside 0..n_nodes-1")
        if np.any(self.free_flow_time[is_open] < 0):
            raise ValueError("negative free-flow time")
        if np.any(self.capacity[is_open] <= 0):
            raise ValueError("open links need a positive capacity")
        open_links = np.flatnonzero(is_open)
        order = open_links[np.argsort(self.tail[open_links], kind="stable")]
        counts = np.bincount(self.tail[order], minlength=self.n_nodes)
        out_start = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=out_start[1:])
        set_(self, "out_start", out_start)
        set_(self, "out_links", order.astype(np.int64))

    @property
    def n_links(self) -> int:
        """Number of links (open and closed)."""
        return len(self.tail)

    @property
    def fixed_cost(self) -> np.ndarray:
        """Flow-independent part of the generalized cost per link, in time units."""
        return self.toll_weight * self.toll + self.distance_weight * self.length

    def copy_with(self, **changes) -> Network:
        """New network with some fields replaced (arrays are copied, CSR rebuilt)."""
        return replace(self, **changes)


def link_travel_time(network: Network, volume: np.ndarray) -> np.ndarray:
    """BPR travel time per link at the given volumes, in network time units."""
    ratio = np.asarray(volume, dtype=np.float64) / network.capacity
    return network.free_flow_time * (1.0 + network.alpha * ratio**network.beta)


def generalized_cost(network: Network, volume: np.ndarray) -> np.ndarray:
    """Generalized cost per link: time + toll_weight x toll + distance_weight x length."""
    return link_travel_time(network, volume) + network.fixed_cost


@dataclass(frozen=True, eq=False)
class Demand:
    """Sparse origin-destination demand between zone nodes.

    Parameters
    ----------
    origin, destination : int arrays of 0-based node indices (zone nodes).
    flow : trips per OD pair, veh/h (same unit as link capacities).
    zone_ids : optional external zone labels, one per zone node.
    info : optional metadata (zone table, parameters) from the demand model.
    """

    origin: np.ndarray
    destination: np.ndarray
    flow: np.ndarray
    zone_ids: np.ndarray | None = None
    info: dict | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "origin", np.asarray(self.origin, dtype=np.int64).copy())
        set_(self, "destination", np.asarray(self.destination, dtype=np.int64).copy())
        set_(self, "flow", np.asarray(self.flow, dtype=np.float64).copy())
        if not (self.origin.shape == self.destination.shape == self.flow.shape):
            raise ValueError("origin, destination and flow must have the same length")
        if np.any(self.flow < 0) or not np.all(np.isfinite(self.flow)):
            raise ValueError("demand must be finite and non-negative")

    @property
    def total(self) -> float:
        """Total demand (sum of all OD flows)."""
        return float(self.flow.sum())

    @classmethod
    def from_dense(cls, matrix: np.ndarray, zone_nodes: np.ndarray | None = None) -> Demand:
        """Demand from a dense zone-by-zone matrix (zero cells and diagonal dropped).

        ``zone_nodes[i]`` is the node index of zone ``i`` (default: node ``i``).
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        zones = np.arange(matrix.shape[0]) if zone_nodes is None else np.asarray(zone_nodes)
        rows, cols = np.nonzero(matrix)
        keep = rows != cols
        rows, cols = rows[keep], cols[keep]
        return cls(zones[rows], zones[cols], matrix[rows, cols])

    def by_origin(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """CSR by origin of the positive, off-diagonal entries.

        Returns
        -------
        origins : distinct origin nodes, ascending.
        start : ``start[k]:start[k+1]`` are the entries of ``origins[k]``.
        destination : destination node of each entry, sorted by origin.
        entry : index of each sorted entry in this Demand's arrays (``flow[entry]``).
        """
        keep = np.flatnonzero((self.flow > 0) & (self.origin != self.destination))
        order = keep[np.lexsort((self.destination[keep], self.origin[keep]))]
        origins, counts = np.unique(self.origin[order], return_counts=True)
        start = np.zeros(len(origins) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        return origins.astype(np.int64), start, self.destination[order], order
