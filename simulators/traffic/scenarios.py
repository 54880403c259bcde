"""Scenario edits as pure functions: each returns a new Network or Demand.

The rules are those of the twin's road edits on a graph (:mod:`simulators.common.road_edits`):
a lane change keeps the capacity per lane. The baseline objects are never modified, so a planner can compare
``assign(baseline)`` with ``assign(close_links(baseline, [...]))`` directly.
Link indices are positions in the network's link arrays (for OSM graphs, the
position of the edge in ``edge_keys``); an added link goes to the end, so the
indices of existing links never change.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from simulators.common.road_edits import capacity_for_lanes

from .network import Demand, Network

__all__ = [
    "close_links",
    "reopen_links",
    "set_capacity",
    "set_lanes",
    "set_speed",
    "set_toll",
    "add_link",
    "scale_demand",
]


def _links(network: Network, links: Iterable[int]) -> np.ndarray:
    idx = np.atleast_1d(
        np.asarray(list(links) if not np.isscalar(links) else [links], dtype=np.int64)
    )
    if idx.size and (idx.min() < 0 or idx.max() >= network.n_links):
        raise IndexError("link index out of range")
    return idx


def _with(network: Network, name: str, links, values) -> Network:
    array = getattr(network, name).copy()
    array[_links(network, links)] = values
    return network.copy_with(**{name: array})


def close_links(network: Network, links: Iterable[int]) -> Network:
    """Network with the given links closed (no flow, not used by any path)."""
    return _with(network, "open", links, False)


def reopen_links(network: Network, links: Iterable[int]) -> Network:
    """Network with the given links open again."""
    return _with(network, "open", links, True)


def set_capacity(
    network: Network,
    links: Iterable[int],
    capacity: float | None = None,
    factor: float | None = None,
) -> Network:
    """Network with new capacities (veh/h), absolute or as a factor of the current ones."""
    idx = _links(network, links)
    if (capacity is None) == (factor is None):
        raise ValueError("give exactly one of capacity or factor")
    values = network.capacity[idx] * factor if factor is not None else capacity
    return _with(network, "capacity", idx, values)


def set_lanes(network: Network, links: Iterable[int], lanes: float) -> Network:
    """Network with a new lane count; capacity scales with lanes (capacity per lane kept)."""
    idx = _links(network, links)
    if lanes <= 0:
        raise ValueError("lanes must be positive (close the link instead)")
    capacity = network.capacity.copy()
    capacity[idx] = capacity_for_lanes(network.capacity[idx], network.lanes[idx], lanes)
    new_lanes = network.lanes.copy()
    new_lanes[idx] = lanes
    return network.copy_with(capacity=capacity, lanes=new_lanes)


def set_speed(network: Network, links: Iterable[int], speed_kph: float) -> Network:
    """Network with a new free-flow speed (km/h); free-flow time = length / speed."""
    idx = _links(network, links)
    if speed_kph <= 0:
        raise ValueError("speed must be positive")
    hours = network.length[idx] * network.length_unit_km / speed_kph
    return _with(network, "free_flow_time", idx, hours / network.time_unit_h)


def set_toll(network: Network, links: Iterable[int], toll: float) -> Network:
    """Network with a toll on the links (weighted into cost by ``network.toll_weight``)."""
    return _with(network, "toll", links, toll)


def add_link(
    network: Network,
    tail: int,
    head: int,
    free_flow_time: float,
    capacity: float,
    length: float = 0.0,
    alpha: float = 0.15,
    beta: float = 4.0,
    toll: float = 0.0,
    lanes: float = 1.0,
) -> tuple[Network, int]:
    """Network with one new directed link (node indices); returns it and the link's index."""
    if not (0 <= tail < network.n_nodes and 0 <= head < network.n_nodes):
        raise IndexError("node index out of range")
    values = {
        "tail": tail,
        "head": head,
        "free_flow_time": free_flow_time,
        "capacity": capacity,
        "length": length,
        "alpha": alpha,
        "beta": beta,
        "toll": toll,
        "lanes": lanes,
        "open": True,
    }
    changes = {name: np.append(getattr(network, name), value) for name, value in values.items()}
    return network.copy_with(**changes), network.n_links


def scale_demand(
    demand: Demand,
    factor: float,
    zones: Iterable[int] | None = None,
    direction: str = "both",
) -> Demand:
    """Demand scaled by ``factor`` globally, or only for trips from/to some zone nodes.

    Parameters
    ----------
    zones : zone node indices; None scales every OD pair.
    direction : with ``zones``: ``"origin"`` (trips leaving them), ``"destination"``
        (trips arriving) or ``"both"`` (either end in ``zones``).
    """
    if factor < 0:
        raise ValueError("factor must be non-negative")
    flow = demand.flow.copy()
    if zones is None:
        flow *= factor
    else:
        zone_set = np.asarray(list(zones), dtype=np.int64)
        from_zone = np.isin(demand.origin, zone_set)
        to_zone = np.isin(demand.destination, zone_set)
        mask = {"origin": from_zone, "destination": to_zone, "both": from_zone | to_zone}[direction]
        flow[mask] *= factor
    return Demand(demand.origin, demand.destination, flow, demand.zone_ids, demand.info)
