"""Static user-equilibrium assignment: the public entry point and its results.

:func:`assign` finds the OD pairs without a path (reported, never dropped
silently), runs the chosen solver and returns an :class:`AssignmentResult` with
per-link volumes, v/c, congested time and speed, delay, and network totals
(vehicle-hours and vehicle-km travelled, TSTT, Beckmann objective) plus the
per-iteration convergence history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .bush import solve_bush_based
from .costs import beckmann_objective, link_costs
from .frank_wolfe import LinkSolution, LoadedDemand, solve_link_based
from .network import Demand, Network
from .paths import all_or_nothing


def _plain(value):
    """Python scalar of a numpy scalar (node ids may be numpy ints or arbitrary objects)."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["AssignmentResult", "assign", "ALGORITHMS", "split_reachable_demand"]

ALGORITHMS = ("bfw", "cfw", "fw", "bush")


@dataclass
class AssignmentResult:
    """Outcome of one equilibrium assignment.

    Link arrays are in network link order (closed links carry zero volume).
    Times are in network time units (minutes for OSM and TNTP networks).
    """

    network: Network
    demand: Demand
    algorithm: str
    volume: np.ndarray
    cost: np.ndarray
    iterations: int
    relative_gap: float
    converged: bool
    stop_reason: str
    seconds: float
    history: dict[str, list[float]]
    #: indices into ``demand`` of the OD pairs with no path (not assigned)
    unassignable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: per selected link, OD flows through it (same order as ``demand``)
    select_link_flows: dict[int, np.ndarray] = field(default_factory=dict)
    #: ``bush`` with ``keep_bushes``: the origin bushes (:class:`~.bush.BushState`), the
    #: state :func:`simulators.traffic.warm.reassign` continues from
    bushes: object | None = None

    @property
    def travel_time(self) -> np.ndarray:
        """Congested BPR travel time per link (time units)."""
        return self.cost - self.network.fixed_cost

    @property
    def volume_capacity_ratio(self) -> np.ndarray:
        """Volume / capacity per link."""
        return self.volume / self.network.capacity

    @property
    def delay(self) -> np.ndarray:
        """Congested minus free-flow time per link (time units per vehicle)."""
        return self.travel_time - self.network.free_flow_time

    @property
    def speed_kph(self) -> np.ndarray:
        """Congested speed per link, km/h (nan on zero-time links)."""
        net = self.network
        hours = self.travel_time * net.time_unit_h
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(hours > 0, net.length * net.length_unit_km / hours, np.nan)

    @property
    def objective(self) -> float:
        """Beckmann objective at the returned flows (veh x time units)."""
        net = self.network
        return float(
            beckmann_objective(
                net.free_flow_time, net.alpha, net.beta, net.capacity, net.fixed_cost, self.volume
            )
        )

    @property
    def tstt(self) -> float:
        """Total system travel time, sum of volume x congested time (veh x time units)."""
        return float(np.dot(self.volume, self.travel_time))

    @property
    def vehicle_hours_travelled(self) -> float:
        """Vehicle-hours travelled (veh x h)."""
        return self.tstt * self.network.time_unit_h

    @property
    def vehicle_hours_delay(self) -> float:
        """Vehicle-hours lost to congestion (veh x h)."""
        return float(np.dot(self.volume, self.delay)) * self.network.time_unit_h

    @property
    def vehicle_km_travelled(self) -> float:
        """Vehicle-kilometres travelled (veh x km)."""
        return float(np.dot(self.volume, self.network.length)) * self.network.length_unit_km

    @property
    def unassigned_demand(self) -> float:
        """Total demand of the OD pairs that have no path."""
        return float(self.demand.flow[self.unassignable].sum())

    def unassignable_pairs(self) -> list[tuple[object, object, float]]:
        """(origin id, destination id, flow) of every OD pair that could not be assigned."""
        ids = self.network.node_ids
        d = self.demand
        return [
            (_plain(ids[d.origin[i]]), _plain(ids[d.destination[i]]), float(d.flow[i]))
            for i in self.unassignable
        ]

    def select_link(self, link: int) -> list[tuple[object, object, float]]:
        """OD pairs whose flow uses ``link`` and that flow: (origin id, destination id, flow).

        The link must have been passed in ``assign(..., select_links=...)``.
        """
        if link not in self.select_link_flows:
            raise KeyError(f"link {link} was not selected; pass select_links=[{link}] to assign()")
        flows = self.select_link_flows[link]
        ids = self.network.node_ids
        d = self.demand
        used = np.flatnonzero(flows > 1e-9 * max(1.0, flows.max(initial=0.0)))
        return [
            (_plain(ids[d.origin[i]]), _plain(ids[d.destination[i]]), float(flows[i])) for i in used
        ]

    def summary(self) -> dict[str, float | int | str | bool]:
        """Network totals and convergence figures as plain values (JSON-friendly)."""
        return {
            "algorithm": self.algorithm,
            "iterations": self.iterations,
            "relative_gap": self.relative_gap,
            "converged": self.converged,
            "stop_reason": self.stop_reason,
            "objective": self.objective,
            "tstt": self.tstt,
            "seconds": self.seconds,
            "vehicle_hours_travelled": self.vehicle_hours_travelled,
            "vehicle_hours_delay": self.vehicle_hours_delay,
            "vehicle_km_travelled": self.vehicle_km_travelled,
            "total_demand": self.demand.total,
            "unassigned_demand": self.unassigned_demand,
            "unassignable_pairs": int(len(self.unassignable)),
        }


def split_reachable_demand(network: Network, demand: Demand) -> tuple[LoadedDemand, np.ndarray]:
    """Demand in CSR by origin for the OD pairs with a path, and the entries without one.

    Returns
    -------
    loaded : the servable demand; ``loaded.entry`` maps rows back to ``demand``.
    unassignable : indices into ``demand`` of positive OD pairs with no path.
    """
    origins, start, destination, entry = demand.by_origin()
    flow = demand.flow[entry]
    cost = network.free_flow_time + network.fixed_cost
    scratch = np.empty(network.n_links)
    od_cost = all_or_nothing(
        network.out_start, network.out_links, network.tail, network.head, cost,
        network.first_thru_node, origins, start, destination, flow, scratch,
    )  # fmt: skip
    reachable = np.isfinite(od_cost)
    unassignable = np.sort(entry[~reachable])
    keep = np.flatnonzero(reachable)
    kept_origin = np.repeat(origins, np.diff(start))[keep]
    new_origins, counts = np.unique(kept_origin, return_counts=True)
    new_start = np.zeros(len(new_origins) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_start[1:])
    loaded = LoadedDemand(new_origins.astype(np.int64), new_start, destination[keep], flow[keep])
    loaded.entry = entry[keep]  # type: ignore[attr-defined]
    return loaded, unassignable


def check_initial_volume(
    network: Network, demand: Demand, unassignable: np.ndarray, initial_volume
) -> np.ndarray:
    """``initial_volume`` as float array, or ValueError naming the field when it cannot be a
    flow of ``demand`` (shape, sign, closed links, or trips not conserved at some node)."""
    volume = np.asarray(initial_volume, dtype=np.float64)
    if volume.shape != (network.n_links,):
        raise ValueError(
            f"initial_volume: expected {network.n_links} link volumes, got shape {volume.shape}"
        )
    if not np.all(np.isfinite(volume)) or np.any(volume < 0):
        raise ValueError("initial_volume: volumes must be finite and non-negative")
    if np.any(volume[~network.open] > 0):
        raise ValueError("initial_volume: closed links carry flow")
    n = network.n_nodes
    served = np.ones(len(demand.flow), dtype=bool)
    served[unassignable] = False
    balance = np.bincount(network.head, volume, n) - np.bincount(network.tail, volume, n)
    balance += np.bincount(demand.origin[served], demand.flow[served], n)
    balance -= np.bincount(demand.destination[served], demand.flow[served], n)
    worst = int(np.argmax(np.abs(balance))) if n else 0
    if n and abs(balance[worst]) > 1e-6 * max(demand.total, 1.0):
        raise ValueError(
            f"initial_volume is not a flow of this demand: at node {_plain(network.node_ids[worst])} "
            f"inflow + trips starting - outflow - trips ending = {balance[worst]:.6g} veh/h "
            "(pass the volumes of a run with the same demand and open links)"
        )
    return volume.copy()


def assign(
    network: Network,
    demand: Demand,
    algorithm: str = "bfw",
    gap: float = 1e-5,
    max_iter: int = 1000,
    time_limit_s: float | None = None,
    progress: Callable[[float, str], None] | None = None,
    select_links: Sequence[int] = (),
    initial_volume: np.ndarray | None = None,
    keep_bushes: bool = False,
) -> AssignmentResult:
    """Static user-equilibrium assignment of ``demand`` on ``network``.

    Parameters
    ----------
    network, demand : from :mod:`simulators.traffic.tntp`, :func:`network_from_graph`
        and :func:`demand_from_buildings`, or built directly.
    algorithm : ``"bfw"`` (biconjugate Frank-Wolfe, default), ``"cfw"``, ``"fw"`` or
        ``"bush"`` (Algorithm B, for gaps of 1e-8 and tighter).
    gap : target relative gap (AequilibraE definition, on generalized cost).
    max_iter : iteration limit.
    time_limit_s : wall-clock limit for the solver, seconds.
    progress : ``progress(fraction, stage)`` callback, fraction in [0, 1].
    select_links : link indices for select-link analysis (OD flows through each).
    initial_volume : warm start, veh/h per link in network link order: a feasible flow
        of this demand on this network (every trip from its origin to its destination,
        nothing on closed links), typically ``previous_result.volume`` of the same
        demand. ``fw``/``cfw``/``bfw`` start from it; ``bush`` starts from the
        shortest-path trees at its costs. Not combinable with ``select_links``.
    keep_bushes : ``bush`` only: keep the origin bushes in ``result.bushes`` (9 bytes per
        origin and link) for warm-started what-ifs (:func:`simulators.traffic.warm.reassign`).

    Returns
    -------
    AssignmentResult
    """
    import time

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    started = time.perf_counter()
    if progress is not None:
        progress(0.0, "preparing")
    loaded, unassignable = split_reachable_demand(network, demand)
    select_links = [int(a) for a in select_links]
    if initial_volume is not None:
        initial_volume = check_initial_volume(network, demand, unassignable, initial_volume)
        if select_links:
            raise ValueError("select_links needs a cold start: drop initial_volume")
    if len(loaded.origins) == 0:
        solution = LinkSolution(
            volume=np.zeros(network.n_links),
            cost=np.zeros(network.n_links),
            iterations=0,
            relative_gap=0.0,
            converged=True,
            stop_reason="no_demand",
            history={},
        )
        link_costs(
            network.free_flow_time, network.alpha, network.beta, network.capacity,
            network.fixed_cost, solution.volume, solution.cost,
        )  # fmt: skip
    elif algorithm == "bush":
        solution = solve_bush_based(
            network, loaded, gap=gap, max_iter=max_iter, time_limit_s=time_limit_s,
            progress=progress, select_links=select_links, initial_volume=initial_volume,
            keep_bushes=keep_bushes,
        )  # fmt: skip
    else:
        solution = solve_link_based(
            network, loaded, algorithm=algorithm, gap=gap, max_iter=max_iter,
            time_limit_s=time_limit_s, progress=progress, select_links=select_links,
            initial_volume=initial_volume,
        )  # fmt: skip
    select_flows = {}
    for link, od_flow in getattr(solution, "select_link_flows", {}).items():
        full = np.zeros(len(demand.flow))
        full[loaded.entry] = od_flow  # type: ignore[attr-defined]
        select_flows[link] = full
    if progress is not None:
        progress(1.0, "done")
    return AssignmentResult(
        network=network,
        demand=demand,
        algorithm=algorithm,
        volume=solution.volume,
        cost=solution.cost,
        iterations=solution.iterations,
        relative_gap=solution.relative_gap,
        converged=solution.converged,
        stop_reason=solution.stop_reason,
        seconds=time.perf_counter() - started,
        history=solution.history,
        unassignable=unassignable,
        select_link_flows=select_flows,
        bushes=getattr(solution, "bushes", None),
    )
