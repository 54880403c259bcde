"""Transit assignment by optimal strategies on a :class:`TransitGraph`: loads and skims.

The assignment is uncongested (Spiess & Florian 1989): a line's capacity does not change the
strategies; the load over capacity of each segment is reported so that crowding shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .graph import ACCESS, ALIGHT, BOARD, IVT, TransitGraph
from .strategies import assign_strategies

__all__ = ["TransitResult", "assign_transit", "SKIM_NAMES"]

#: skim matrices returned, in the order of :data:`strategies.N_COMPONENTS`
SKIM_NAMES = ("in_vehicle_s", "waiting_s", "walking_s", "boardings", "generalized_cost_s")


@dataclass
class TransitResult:
    """Volumes on the strategy network and per-zone-pair skims.

    Attributes
    ----------
    graph : the network assigned.
    volume : trips per link (unit of the demand, e.g. persons/h).
    skims : name -> ``(Z, Z)`` expected value per trip from origin zone (row) to destination
        zone (column); ``inf`` where no transit strategy exists. ``boardings`` counts
        vehicles boarded (transfers = boardings - 1).
    demand : the ``(Z, Z)`` trips assigned.
    """

    graph: TransitGraph
    volume: np.ndarray
    skims: dict[str, np.ndarray]
    demand: np.ndarray

    def _by_stop(self, kind: int) -> np.ndarray:
        g = self.graph
        mask = g.kind == kind
        return np.bincount(g.stop[mask], self.volume[mask], g.n_stops)

    @property
    def boardings(self) -> np.ndarray:
        """Boardings per stop (supply order), trips."""
        return self._by_stop(BOARD)

    @property
    def alightings(self) -> np.ndarray:
        """Alightings per stop, trips."""
        return self._by_stop(ALIGHT)

    @property
    def access_trips(self) -> np.ndarray:
        """Trips walking from a zone to each stop."""
        return self._by_stop(ACCESS)

    def line_loads(self) -> list[np.ndarray]:
        """Per line, the load of each segment (trips on board between stop k and k+1)."""
        g = self.graph
        out = []
        for li, line in enumerate(g.supply.lines):
            mask = (g.kind == IVT) & (g.line == li)
            loads = np.zeros(len(line.stop_ids) - 1)
            loads[g.seq[mask]] = self.volume[mask]
            out.append(loads)
        return out

    def line_boardings(self) -> np.ndarray:
        """Boardings per line, trips."""
        g = self.graph
        mask = g.kind == BOARD
        return np.bincount(g.line[mask], self.volume[mask], len(g.supply.lines))

    def summary(self) -> dict[str, float]:
        """Totals: trips, unserved trips, passenger-hours by component, mean boardings."""
        d = self.demand
        served = np.isfinite(self.skims["generalized_cost_s"])
        trips = float(d[served].sum())
        total = float(d.sum())

        def hours(name: str) -> float:
            return float((d[served] * self.skims[name][served]).sum()) / 3600.0

        return {
            "trips": trips,
            "unserved_trips": total - trips,
            "in_vehicle_hours": hours("in_vehicle_s"),
            "waiting_hours": hours("waiting_s"),
            "walking_hours": hours("walking_s"),
            "boardings": float(self.boardings.sum()),
            "boardings_per_trip": float(self.boardings.sum()) / trips if trips > 0 else 0.0,
        }


#: destination zones per call of the strategy kernel: each call is one progress step
CHUNK_DESTINATIONS = 64


def assign_transit(
    graph: TransitGraph,
    demand: np.ndarray | None = None,
    progress: Callable[[float, str], None] | None = None,
    chunk_destinations: int = CHUNK_DESTINATIONS,
) -> TransitResult:
    """Optimal-strategy assignment of a zone-by-zone trip matrix (persons per period).

    Parameters
    ----------
    graph : from :func:`simulators.transit.graph.build_graph`.
    demand : ``(Z, Z)`` trips (zeros when absent: skims only).
    progress : ``progress(fraction, stage)`` after each chunk of destination zones (the
        strategies of a destination do not depend on the others: volumes add up).
    chunk_destinations : destination zones per kernel call (the same result for any value).

    Returns
    -------
    TransitResult with link volumes and the skims of every zone pair.
    """
    z = graph.n_zones
    demand = np.zeros((z, z)) if demand is None else np.asarray(demand, dtype=np.float64)
    if demand.shape != (z, z):
        raise ValueError(f"demand must be a {z} x {z} matrix, got shape {demand.shape}")
    if np.any(demand < 0) or not np.all(np.isfinite(demand)):
        raise ValueError("demand must be finite and non-negative")
    p = graph.params
    walking = np.isin(graph.kind, (3, 4, 5))  # access, egress, transfer
    link_ivt_s = np.where(graph.kind == IVT, graph.time_s, 0.0)
    link_walk_s = np.where(walking, graph.time_s, 0.0)
    link_boardings = (graph.kind == BOARD).astype(float)
    volume = np.zeros(len(graph.tail))
    skims = np.empty((len(SKIM_NAMES), z, z))
    for start in range(0, z, chunk_destinations):
        dests = np.arange(start, min(z, start + chunk_destinations))
        part, part_skims = assign_strategies(
            graph.n_nodes, z, graph.tail, graph.head, graph.cost_s, graph.freq_per_s,
            demand[:, dests], destinations=dests, wait_weight=p.wait_weight,
            wait_factor=p.wait_factor, link_ivt_s=link_ivt_s, link_walk_s=link_walk_s,
            link_boardings=link_boardings,
        )  # fmt: skip
        volume += part
        skims[:, :, dests] = part_skims
        if progress:
            progress((dests[-1] + 1) / z, f"{dests[-1] + 1} of {z} destination zones")
    named = {name: skims[k] for k, name in enumerate(SKIM_NAMES)}
    for m in named.values():
        np.fill_diagonal(m, 0.0)  # intrazonal trips do not use the network
    return TransitResult(graph=graph, volume=volume, skims=named, demand=demand)
