"""Closures and capacity increases evaluated from a base equilibrium (module docstring of
:mod:`simulators.road_upgrades`).

Units: volumes and capacities veh/h; vehicle-hours are those of the modelled hour (veh·h, so
a change is veh·h per hour of the modelled period); lengths km; lane-km = lanes x km.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulators.common.road_edits import capacity_for_lanes
from simulators.traffic import assign
from simulators.traffic.assignment import AssignmentResult
from simulators.traffic.bush import BushState
from simulators.traffic.network import Network
from simulators.traffic.scenarios import close_links, set_capacity
from simulators.traffic.warm import reassign

from .params import MAX_CAPACITY_VEH_H, MAX_LANES

Progress = Callable[[float, str], None]


def vehicle_hours(result: AssignmentResult, unrouted_trip_h: float) -> float:
    """Vehicle-hours travelled plus ``unrouted_trip_h`` per trip left without a route (h).

    Without the penalty a closure that cuts the network in two would look harmless: the
    trips it strands drop out of the assignment's vehicle-hours.
    """
    return float(result.vehicle_hours_travelled + unrouted_trip_h * result.unassigned_demand)


def can_warm_start(base: AssignmentResult) -> bool:
    """Whether ``base`` kept its bushes (``assign(..., "bush", keep_bushes=True)``)."""
    return base.algorithm == "bush" and isinstance(base.bushes, BushState)


def reassigned(
    base: AssignmentResult, network: Network, gap: float, max_iter: int
) -> AssignmentResult:
    """The base's demand on an edited ``network`` (same links, other capacity or closures):
    warm-started from the base's bushes when it kept them, else from scratch with its solver."""
    if can_warm_start(base):
        return reassign(base, network, gap=gap, max_iter=max_iter)
    return assign(network, base.demand, algorithm=base.algorithm, gap=gap, max_iter=max_iter)


def busiest_segments(base: AssignmentResult, eligible: np.ndarray, n: int) -> list[np.ndarray]:
    """The ``n`` busiest road segments: the open ``eligible`` links between the same two
    nodes (both directions of a street) grouped, ranked by their summed base volume (veh/h);
    segments without traffic are left out."""
    net = base.network
    pick = np.flatnonzero(eligible & net.open)
    groups: dict[tuple[int, int], list[int]] = {}
    for i in pick:
        a, b = int(net.tail[i]), int(net.head[i])
        groups.setdefault((min(a, b), max(a, b)), []).append(int(i))
    segments = [np.array(sorted(v), dtype=np.int64) for v in groups.values()]
    volume = [float(base.volume[s].sum()) for s in segments]
    order = sorted(range(len(segments)), key=lambda k: (-volume[k], int(segments[k][0])))
    return [segments[k] for k in order if volume[k] > 0][:n]


@dataclass
class ClosureResult:
    """One closure re-assigned: ``added_h`` = its vehicle-hours minus the base's (h)."""

    links: np.ndarray
    base_volume_veh_h: float
    vehicle_hours_h: float
    added_h: float
    unassignable_trips_veh_h: float
    relative_gap: float
    warm_started: bool


def evaluate_closures(
    base: AssignmentResult,
    segments: Sequence[np.ndarray],
    gap: float,
    max_iter: int,
    unrouted_trip_h: float,
    progress: Progress | None = None,
) -> list[ClosureResult]:
    """Close each of ``segments`` (arrays of link indices) alone; most harmful first."""
    base_vh = vehicle_hours(base, unrouted_trip_h)
    out = []
    for k, links in enumerate(segments):
        if progress is not None:
            progress(k / max(len(segments), 1), f"closure {k + 1} of {len(segments)}")
        result = reassigned(base, close_links(base.network, links), gap, max_iter)
        vh = vehicle_hours(result, unrouted_trip_h)
        out.append(
            ClosureResult(
                links=np.asarray(links, dtype=np.int64),
                base_volume_veh_h=float(base.volume[links].sum()),
                vehicle_hours_h=vh,
                added_h=vh - base_vh,
                unassignable_trips_veh_h=float(result.unassigned_demand),
                relative_gap=float(result.relative_gap),
                warm_started=can_warm_start(base),
            )
        )
    out.sort(key=lambda c: (-c.added_h, int(c.links[0])))
    return out


def link_delay_vehicle_hours(base: AssignmentResult) -> np.ndarray:
    """Per link: volume x (congested - free-flow time), veh·h in the modelled hour."""
    net = base.network
    delay = np.maximum(base.travel_time - net.free_flow_time, 0.0)
    return np.where(net.open, base.volume * delay * net.time_unit_h, 0.0)


def congested_links(base: AssignmentResult, eligible: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` open ``eligible`` links with the most delay vehicle-hours in the base (those
    without delay left out), most first."""
    delay = link_delay_vehicle_hours(base)
    pick = np.flatnonzero(eligible & base.network.open & (delay > 0))
    order = np.lexsort((pick, -delay[pick]))
    return pick[order][:n]


@dataclass(frozen=True)
class UpgradeOption:
    """A capacity increase: ``kind`` "lanes" (``amount`` lanes more, capacity per lane kept,
    as the twin's lane edit) or "capacity" (``amount`` % more capacity, counted as that share
    of the link's lanes in lane-km)."""

    kind: str
    amount: float

    @property
    def label(self) -> str:
        if self.kind == "lanes":
            return f"+{self.amount:g} lane{'s' if self.amount != 1 else ''}"
        return f"+{self.amount:g}% capacity"

    def apply(self, network: Network, link: int) -> tuple[float, float, float] | None:
        """``(new capacity veh/h, new lanes, lane-km added)`` on ``link``, or None when the
        result passes the road edits' limits (8 lanes, 20,000 veh/h) or adds no lane-km."""
        lanes = float(network.lanes[link])
        capacity = float(network.capacity[link])
        km = float(network.length[link]) * network.length_unit_km
        if self.kind == "lanes":
            new_lanes = lanes + self.amount
            new_capacity = float(capacity_for_lanes(capacity, lanes, new_lanes))
            lane_km = self.amount * km
            if new_lanes > MAX_LANES:
                return None
        else:
            new_lanes = lanes
            new_capacity = capacity * (1.0 + self.amount / 100.0)
            lane_km = max(lanes, 1.0) * self.amount / 100.0 * km
        if new_capacity > MAX_CAPACITY_VEH_H or lane_km <= 0:
            return None
        return new_capacity, new_lanes, lane_km


def options_from(lanes_added: int, capacity_increase_pct: float) -> list[UpgradeOption]:
    """The options of :class:`~simulators.road_upgrades.params.RoadUpgradeParams`."""
    out = []
    if lanes_added > 0:
        out.append(UpgradeOption("lanes", float(lanes_added)))
    if capacity_increase_pct > 0:
        out.append(UpgradeOption("capacity", float(capacity_increase_pct)))
    return out


@dataclass
class UpgradeResult:
    """The best option on one link (most vehicle-hours saved per lane-km added).

    ``saving_veh_h_per_h``: base vehicle-hours minus the upgraded network's, in the modelled
    hour; ``evaluated``: every option tried on the link (label, saving, per lane-km).
    """

    link: int
    option: UpgradeOption
    capacity_veh_h: float
    new_capacity_veh_h: float
    lanes: float
    new_lanes: float
    lane_km_added: float
    saving_veh_h_per_h: float
    saving_per_lane_km: float
    base_vc_ratio: float
    base_delay_vehicle_hours: float
    relative_gap: float
    warm_started: bool
    evaluated: list[dict] = field(default_factory=list)


def evaluate_upgrades(
    base: AssignmentResult,
    links: Sequence[int],
    options: Sequence[UpgradeOption],
    gap: float,
    max_iter: int,
    unrouted_trip_h: float,
    progress: Progress | None = None,
) -> list[UpgradeResult]:
    """Each option on each link alone; per link the option with the largest saving per
    lane-km; links ranked by it, best first (links where no option fits are left out)."""
    net = base.network
    base_vh = vehicle_hours(base, unrouted_trip_h)
    delay = link_delay_vehicle_hours(base)
    out = []
    total = max(len(links) * len(options), 1)
    done = 0
    for link in (int(i) for i in links):
        tried: list[UpgradeResult] = []
        for option in options:
            if progress is not None:
                progress(done / total, f"upgrade {done + 1} of {total}")
            done += 1
            applied = option.apply(net, link)
            if applied is None:
                continue
            new_capacity, new_lanes, lane_km = applied
            result = reassigned(base, set_capacity(net, [link], capacity=new_capacity), gap,
                                max_iter)  # fmt: skip
            saving = base_vh - vehicle_hours(result, unrouted_trip_h)
            tried.append(
                UpgradeResult(
                    link=link, option=option, capacity_veh_h=float(net.capacity[link]),
                    new_capacity_veh_h=new_capacity, lanes=float(net.lanes[link]),
                    new_lanes=new_lanes, lane_km_added=lane_km, saving_veh_h_per_h=saving,
                    saving_per_lane_km=saving / lane_km,
                    base_vc_ratio=float(base.volume_capacity_ratio[link]),
                    base_delay_vehicle_hours=float(delay[link]),
                    relative_gap=float(result.relative_gap), warm_started=can_warm_start(base),
                )
            )  # fmt: skip
        if not tried:
            continue
        best = max(tried, key=lambda r: r.saving_per_lane_km)
        best.evaluated = [
            {
                "option": r.option.label,
                "lane_km_added": r.lane_km_added,
                "saving_veh_h_per_h": r.saving_veh_h_per_h,
                "saving_per_lane_km": r.saving_per_lane_km,
            }
            for r in tried
        ]
        out.append(best)
    out.sort(key=lambda r: (-r.saving_per_lane_km, r.link))
    return out
