"""The whole transit model for one period: network, skims, mode choice, assignment, access.

:func:`run_model` takes the road network (traffic engine), the zones and their person trips,
and the transit supply; it builds the walking links over the streets and the strategy network,
skims transit and walking, splits the trips between car, transit and walking iterated with
the car assignment (:mod:`.mode_choice`), and assigns the transit trips (:mod:`.assignment`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulators.traffic import Demand, Network

from .assignment import TransitResult, assign_transit
from .graph import TransitGraph, build_graph
from .mode_choice import ModeChoiceResult, mode_choice
from .network import TransitSupply
from .params import ModeChoiceParams, TransitParams
from .walk import street_access, walk_graph, zone_walk_distances

__all__ = ["ModelResult", "run_model", "accessibility", "door_to_door_s"]


@dataclass
class ModelResult:
    """Everything one period of the model produced.

    ``transit`` holds the transit trips assigned (loads, boardings, skims); ``modes`` the
    mode choice (person trips per mode, the car assignment, convergence history);
    ``walk_m`` the zone-to-zone walking distances; ``graph`` the strategy network.
    """

    graph: TransitGraph
    transit: TransitResult
    modes: ModeChoiceResult
    walk_m: np.ndarray


def door_to_door_s(transit: TransitResult) -> np.ndarray:
    """``(Z, Z)`` expected transit travel time, s: in-vehicle + waiting + walking (unweighted)."""
    s = transit.skims
    return s["in_vehicle_s"] + s["waiting_s"] + s["walking_s"]


def accessibility(
    time_s: np.ndarray,
    zone_of_building: np.ndarray,
    people_per_zone: np.ndarray,
    jobs_per_zone: np.ndarray,
    threshold_s: float = 1800.0,
) -> tuple[np.ndarray, np.ndarray]:
    """People and jobs reachable within ``threshold_s`` from each building's zone.

    Parameters
    ----------
    time_s : ``(Z, Z)`` travel time, s (``inf`` where unreachable); the own zone counts as
        reachable (time 0).
    zone_of_building : zone index of each building (-1: none, reaches nothing).
    people_per_zone, jobs_per_zone : residents and jobs per zone.

    Returns
    -------
    people, jobs : per building.
    """
    t = np.asarray(time_s, dtype=float).copy()
    np.fill_diagonal(t, 0.0)
    within = (t <= threshold_s).astype(float)
    people_zone = within @ np.asarray(people_per_zone, dtype=float)
    jobs_zone = within @ np.asarray(jobs_per_zone, dtype=float)
    zb = np.asarray(zone_of_building, dtype=np.int64)
    ok = zb >= 0
    people = np.zeros(len(zb))
    jobs = np.zeros(len(zb))
    people[ok] = people_zone[zb[ok]]
    jobs[ok] = jobs_zone[zb[ok]]
    return people, jobs


def run_model(
    network: Network,
    node_xy: np.ndarray,
    zone_nodes: np.ndarray,
    person_trips: np.ndarray,
    supply: TransitSupply,
    transit_params: TransitParams | None = None,
    mode_params: ModeChoiceParams | None = None,
    walkable: np.ndarray | None = None,
    fixed_car: Demand | None = None,
    algorithm: str = "bfw",
    gap: float = 1e-4,
    assignment_max_iter: int = 500,
    progress: Callable[[float, str], None] | None = None,
) -> ModelResult:
    """Transit network, skims, mode choice with the car assignment, and transit loads.

    Parameters
    ----------
    network : road network (:class:`simulators.traffic.Network`, lengths in its units).
    node_xy : ``(n_nodes, 2)`` road node positions, m in the city's UTM zone.
    zone_nodes : ``(Z,)`` road node of each zone.
    person_trips : ``(Z, Z)`` person trips of all modes in the period (persons/h).
    supply : stops and lines (:class:`TransitSupply`).
    transit_params, mode_params : parameters (defaults documented with their sources).
    walkable : bool per road link, pedestrians allowed (default all).
    fixed_car : car trips that do not choose a mode (external zones), veh/h.
    algorithm, gap, assignment_max_iter : car assignment settings.
    progress : ``progress(fraction, stage)``.
    """
    tp = transit_params or TransitParams()
    mp = mode_params or ModeChoiceParams()

    def report(lo: float, hi: float, text: str):
        return (lambda f, s: progress(lo + (hi - lo) * f, f"{text}: {s}")) if progress else None

    if progress:
        progress(0.0, "walking distances")
    zone_nodes = np.asarray(zone_nodes, dtype=np.int64)
    node_xy = np.asarray(node_xy, dtype=float)
    length_m = network.length * network.length_unit_km * 1000.0
    streets = walk_graph(network.tail, network.head, length_m, network.n_nodes, walkable)
    stop_xy = np.array([[s.x_m, s.y_m] for s in supply.stops], dtype=float).reshape(-1, 2)
    access = street_access(streets, node_xy, zone_nodes, stop_xy, tp.max_access_m)
    walk_m = zone_walk_distances(streets, zone_nodes, mp.max_walk_m)
    if progress:
        progress(0.1, "transit skims")
    graph = build_graph(supply, node_xy[zone_nodes], tp, access=access)
    skims = assign_transit(graph, progress=report(0.1, 0.15, "transit skims"))
    modes = mode_choice(
        network, zone_nodes, person_trips, skims.skims["generalized_cost_s"], walk_m, mp,
        walk_speed_m_s=tp.walk_speed_m_s, fixed_car=fixed_car, algorithm=algorithm, gap=gap,
        assignment_max_iter=assignment_max_iter, progress=report(0.15, 0.9, "mode choice"),
    )  # fmt: skip
    if progress:
        progress(0.9, "transit assignment")
    transit = assign_transit(graph, modes.person_trips[1], report(0.9, 1.0, "transit assignment"))
    if progress:
        progress(1.0, "done")
    return ModelResult(graph=graph, transit=transit, modes=modes, walk_m=walk_m)
