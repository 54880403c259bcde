"""Evacuation of hazard zones over the road (and walking) network.

``run_evacuation`` turns buildings into evacuees (cars and walkers) with mobilisation
delays, loads them with the spatial-queue model of :mod:`simulators.dynamics`, and reports
the evacuation curve, T50/T90/T100, per-building times, shelter loads, bottleneck links and
the ratio to the quickest-flow lower bound of :mod:`simulators.evacuation.lower_bound`.
All geometry must be in the graph's projected CRS (metres); times are seconds from the
earliest hazard start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from simulators.common.presence import persons_present
from simulators.common.road_defaults import highway_class
from simulators.dynamics.loading import (
    ARRIVED,
    STATUS_NAMES,
    CapacityEvent,
    Demand,
    Destinations,
    LoadingParams,
    simulate,
)
from simulators.dynamics.network import LinkNetwork, _is_true, from_graph, storage_from_geometry
from simulators.dynamics.routing import trees
from simulators.evacuation.demand import departure_delays_s, split_households
from simulators.evacuation.lower_bound import (
    LowerBound,
    expanded_lower_bound,
    network_lower_bound,
)
from simulators.evacuation.params import EvacuationParams, Hazard
from simulators.evacuation.reachability import REASONS, classify_starts

Progress = Callable[[float, str], None] | None
_NO_WALK = {"motorway", "motorway_link", "trunk", "trunk_link"}


@dataclass
class EvacuationResult:
    """Outputs of :func:`run_evacuation` (seconds from the earliest hazard start).

    Attributes
    ----------
    curve : DataFrame ``time_s``, ``share_out`` (all evacuees) and one ``share_out_<zone>``
        column per zone.
    t50_s, t90_s, t100_s : times when 50 / 90 / 100 % of the evacuees with a route (persons)
        are out; None when not reached (``t100_reason`` says why).
    lower_bound_s : quickest-flow clearance bound ``T*`` (max over cars and walkers).
    lower_bound_t90_s : ``T90*`` of the car network (vehicles), None without cars.
    efficiency_ratio : ``t100_s / lower_bound_s``.
    evacuees : persons to evacuate; vehicles, walkers : agents.
    not_arrived : persons with a route not out when the simulation ended (hard cap of the
        horizon, or a closure during the run), never dropped.
    stranded : DataFrame of simulated agents not arrived: ``mode``, ``status``, ``link``
        (u, v, key), ``persons``.
    unroutable : DataFrame of evacuees with no route to safety or to any open shelter,
        found before simulating and kept out of the simulation, T-values and bound, one row
        per building and mode: ``building`` (id), ``mode``, ``agents`` (vehicles or
        walkers), ``persons``, ``x``, ``y`` (building point, graph CRS), ``reason`` (code of
        :data:`simulators.evacuation.reachability.REASONS`), ``reason_text`` (words).
    unroutable_persons : persons in ``unroutable``.
    horizon_s : simulated horizon (s; the initial one, or more when it extended itself).
    horizon_capped : the hard cap ``params.max_horizon_s`` stopped the simulation with
        evacuees still on the way.
    t100_reason : why ``t100_s`` is None (words), else None.
    simulation_seconds, lower_bound_seconds : wall-clock time of the loading (cars and
        walkers) and of the bounds.
    buildings : DataFrame ``id``, ``zone``, ``persons``, ``evacuation_time_s`` (last of the
        building's agents out; NaN if someone did not make it or has no route),
        ``unroutable_persons`` and ``unroutable_reason`` (code, ``""`` when none).
    shelter_loads : DataFrame ``time_s``, ``shelter``, ``load``, ``capacity`` (persons).
    bottlenecks : DataFrame of links with a queue: ``u``, ``v``, ``key``, ``mode``,
        ``max_queue_veh``, ``queue_duration_s``, ``capacity_veh_h``.
    car_bound, walk_bound : :class:`LowerBound` per mode (earliest-arrival curves).
    vehicle_arrivals_s : arrival time per car evacuee vehicle (NaN when not arrived), to
        compare with ``car_bound``.
    seconds : wall-clock runtime.
    car_occupancy_veh : with ``params.record_occupancy``, cars on each road link every
        ``params.sample_interval_s`` seconds, ``(samples, links)``; row ``k`` is at
        ``(k + 1) * sample_interval_s``. ``car_link_keys`` gives each column's ``(u, v, key)``.
    """

    curve: pd.DataFrame
    t50_s: float | None
    t90_s: float | None
    t100_s: float | None
    lower_bound_s: float | None
    lower_bound_t90_s: float | None
    efficiency_ratio: float | None
    evacuees: float
    vehicles: int
    walkers: int
    not_arrived: float
    stranded: pd.DataFrame
    buildings: pd.DataFrame
    shelter_loads: pd.DataFrame
    bottlenecks: pd.DataFrame
    car_bound: LowerBound | None = None
    walk_bound: LowerBound | None = None
    vehicle_arrivals_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seconds: float = 0.0
    car_occupancy_veh: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    car_link_keys: list = field(default_factory=list)
    unroutable: pd.DataFrame = field(default_factory=pd.DataFrame)
    unroutable_persons: float = 0.0
    horizon_s: float = 0.0
    horizon_capped: bool = False
    t100_reason: str | None = None
    simulation_seconds: float = 0.0
    lower_bound_seconds: float = 0.0

    def unroutable_by_reason(self) -> dict[str, dict]:
        """``{reason code: {"persons", "vehicles", "walkers", "buildings", "text"}}``."""
        out = {}
        if not len(self.unroutable):
            return out
        for code, rows in self.unroutable.groupby("reason"):
            out[str(code)] = {
                "persons": float(rows.persons.sum()),
                "vehicles": int(rows.agents[rows["mode"] == "car"].sum()),
                "walkers": int(rows.agents[rows["mode"] == "walk"].sum()),
                "buildings": int(rows.building.nunique()),
                "text": REASONS[str(code)],
            }
        return out

    def summary(self) -> dict:
        """The CLI's JSON object."""
        return {
            "t50_s": self.t50_s,
            "t90_s": self.t90_s,
            "t100_s": self.t100_s,
            "lower_bound_s": self.lower_bound_s,
            "lower_bound_t90_s": self.lower_bound_t90_s,
            "efficiency_ratio": self.efficiency_ratio,
            "evacuees": self.evacuees,
            "vehicles": self.vehicles,
            "walkers": self.walkers,
            "not_arrived": self.not_arrived,
            "unroutable_persons": self.unroutable_persons,
            "unroutable_vehicles": int(
                self.unroutable.agents[self.unroutable["mode"] == "car"].sum()
            )
            if len(self.unroutable)
            else 0,
            "unroutable_reasons": {k: v["persons"] for k, v in self.unroutable_by_reason().items()},
            "horizon_s": self.horizon_s,
            "horizon_capped": self.horizon_capped,
            "t100_reason": self.t100_reason,
            "lower_bound_method": None
            if self.car_bound is None and self.walk_bound is None
            else (self.car_bound or self.walk_bound).method,
            "seconds": self.seconds,
            "simulation_seconds": self.simulation_seconds,
            "lower_bound_seconds": self.lower_bound_seconds,
        }


def _as_hazards(hazards) -> list[Hazard]:
    if isinstance(hazards, Hazard):
        return [hazards]
    if isinstance(hazards, gpd.GeoDataFrame):
        out = []
        for i, row in enumerate(hazards.itertuples()):
            start = getattr(row, "start_s", 0.0)
            name = getattr(row, "name", None)
            out.append(Hazard(row.geometry, float(0.0 if pd.isna(start) else start),
                              None if name is None or pd.isna(name) else str(name) or str(i)))  # fmt: skip
        return out
    if isinstance(hazards, shapely.Geometry):
        return [Hazard(hazards)]
    return [h if isinstance(h, Hazard) else Hazard(h) for h in hazards]


def _zone_names(hazards: list[Hazard]) -> list[str]:
    return [h.name or f"zone{i}" for i, h in enumerate(hazards)]


def apply_contraflow(net: LinkNetwork, roads: Sequence[tuple]) -> None:
    """Reverse the opposite direction of each road ``(u, v)``: its lanes, capacity and
    storage are added to ``(u, v)`` and it is closed (capacity 0).  In place."""
    if not roads or net.link_keys is None:
        return
    by_pair: dict[tuple, list[int]] = {}
    for i, (u, v, _k) in enumerate(net.link_keys):
        by_pair.setdefault((u, v), []).append(i)
    for u, v in roads:
        fwd, back = by_pair.get((u, v), []), by_pair.get((v, u), [])
        if not fwd or not back:
            raise ValueError(f"contraflow road {(u, v)} needs links in both directions")
        f = fwd[0]
        for b in back:
            net.lanes[f] += net.lanes[b]
            net.capacity_veh_s[f] += net.capacity_veh_s[b]
            net.storage_veh[f] += net.storage_veh[b]
            net.capacity_veh_s[b] = 0.0


def walking_network(graph: nx.MultiDiGraph, params: EvacuationParams) -> LinkNetwork:
    """Pedestrian links: every road both ways (no motorways/trunk roads), walking speed,
    capacity = specific flow x width, storage = length x width x jam density."""
    net = from_graph(graph, short_link_m=params.short_link_m)
    keep = np.array(
        [highway_class(graph.edges[k].get("highway")) not in _NO_WALK for k in net.link_keys],
        dtype=bool,
    )
    shut = _closed_links(graph, net)
    pairs = set(zip(net.link_from[keep].tolist(), net.link_to[keep].tolist()))
    tails, heads, lengths, keys, closed = [], [], [], [], []
    for i in np.flatnonzero(keep):
        a, b = int(net.link_from[i]), int(net.link_to[i])
        tails.append(a), heads.append(b), lengths.append(net.length_m[i])
        keys.append(net.link_keys[i]), closed.append(shut[i])
        if (b, a) not in pairs:
            pairs.add((b, a))
            u, v, k = net.link_keys[i]
            tails.append(b), heads.append(a), lengths.append(net.length_m[i])
            keys.append((v, u, f"walk{k}")), closed.append(shut[i])
    length = np.asarray(lengths, float)
    width = np.full(len(length), params.walk_width_m)
    storage = np.maximum(1.0, length * width * params.walk_jam_density)
    storage = np.where(length < params.short_link_m, np.inf, storage)
    return LinkNetwork(
        node_ids=net.node_ids,
        node_x=net.node_x,
        node_y=net.node_y,
        link_from=np.asarray(tails, dtype=np.int32),
        link_to=np.asarray(heads, dtype=np.int32),
        length_m=length,
        speed_mps=np.full(len(length), params.walk_speed_mps),
        lanes=width,
        capacity_veh_s=np.where(closed, 0.0, params.pedestrian_specific_flow * width),
        storage_veh=storage,
        link_keys=keys,
    )


def _closed_links(graph: nx.MultiDiGraph, net: LinkNetwork) -> np.ndarray:
    """Bool per link: the edge carries ``closed=True`` (a scenario's closed road)."""
    return np.array([_is_true(graph.edges[k].get("closed", False)) for k in net.link_keys or []],
                    dtype=bool)  # fmt: skip


def _points(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    geom = frame.geometry
    pts = shapely.point_on_surface(geom.values) if len(geom) else np.array([])
    return shapely.get_x(pts), shapely.get_y(pts)


def _persons(population: gpd.GeoDataFrame, params: EvacuationParams) -> np.ndarray:
    """Persons present per building: residents, workers and visitors at the run's hour."""
    zero = pd.Series(0.0, index=population.index)
    residents = population.get("residents", population.get("count", zero))
    return persons_present(
        residents.fillna(0).to_numpy(float),
        population.get("workers", zero).fillna(0).to_numpy(float),
        params.time_of_day_h,
        population["floor_area_m2"].to_numpy(float) if "floor_area_m2" in population else None,
        population["use"].to_numpy(object) if "use" in population else None,
    )


def _snap(net: LinkNetwork, x: np.ndarray, y: np.ndarray, into: bool = False) -> np.ndarray:
    """Nearest node with an outgoing (``into``: incoming) link, for each point."""
    ends = net.link_to if into else net.link_from
    usable = np.unique(ends[net.capacity_veh_s > 0])
    tree = cKDTree(np.c_[net.node_x[usable], net.node_y[usable]])
    _, idx = tree.query(np.c_[x, y])
    return usable[idx].astype(np.int64)


def _share_times(times: np.ndarray, weights: np.ndarray, total: float, shares) -> list:
    ok = np.isfinite(times)
    order = np.argsort(times[ok])
    t, cum = times[ok][order], np.cumsum(weights[ok][order])
    out = []
    for s in shares:
        need = s * total - 1e-6
        i = np.searchsorted(cum, need, side="left")
        out.append(float(t[i]) if total > 0 and i < len(t) else (0.0 if total == 0 else None))
    return out


def _destinations(net, safe, shelter_nodes, shelter_capacity, shadow_targets):
    """Groups: 0 safe area, 1..S shelters, S+1 shadow destinations."""
    groups = [safe]
    for node in shelter_nodes:
        mask = np.zeros(net.n_nodes, dtype=bool)
        mask[node] = True
        groups.append(mask)
    groups.append(shadow_targets)
    masks = np.array(groups)
    capacity = np.full(len(groups), np.inf)
    capacity[1 : 1 + len(shelter_nodes)] = shelter_capacity
    n_s = len(shelter_nodes)
    fallback = np.full((len(groups), max(1, n_s)), -1, dtype=np.int32)
    if n_s:
        _, dist = trees(net, net.free_flow_time_s, masks[1 : 1 + n_s])
        for i, node in enumerate(shelter_nodes):
            near = np.argsort(dist[:, node], kind="stable")
            near = [j + 1 for j in near if j != i and np.isfinite(dist[j, node])]
            fallback[1 + i, : len(near)] = near
    return Destinations(masks, capacity, fallback, overflow_group=0)


def _closure_events(net: LinkNetwork, params: EvacuationParams) -> list[CapacityEvent]:
    if not params.closures:
        return []
    by_pair: dict[tuple, list[int]] = {}
    for i, (u, v, _k) in enumerate(net.link_keys or []):
        by_pair.setdefault((u, v), []).append(i)
    events = []
    for c in params.closures:
        links = by_pair.get((c.u, c.v))
        if not links:
            raise ValueError(f"closed road {(c.u, c.v)} is not in the graph")
        events.append(CapacityEvent(np.array(links), c.start_s, c.end_s, 0.0))
    return events


@dataclass
class _Evacuees:
    """Buildings as evacuees, one entry per building of ``population`` (units: persons,
    metres in the graph's CRS, seconds from the earliest hazard start)."""

    x: np.ndarray  # point on each building, m (graph CRS)
    y: np.ndarray
    persons: np.ndarray  # present now (time of day applied)
    zone_of: np.ndarray  # index of the first zone holding the building, -1 outside all
    ids: np.ndarray
    starts_s: np.ndarray  # per zone: hazard start + stage delay, s
    evac: np.ndarray  # bool: ordered to leave
    walkers: np.ndarray  # per building, persons
    drivers: np.ndarray  # per building, persons in cars
    vehicles: np.ndarray  # per building, cars
    shadow_drivers: np.ndarray  # per building, persons leaving although not ordered to
    shadow_vehicles: np.ndarray


@dataclass
class _ShelterSet:
    """Shelters snapped to a network: ``nodes`` (node indices), ``capacity`` (persons),
    ``ids`` (the shelters' ``id`` or their row numbers)."""

    nodes: list
    capacity: np.ndarray
    ids: list


@dataclass
class _CarRun:
    """The simulated car evacuees (first ``n_car`` agents of ``result``; shadow vehicles
    follow them); ``veh_*`` are per evacuee vehicle (building index, persons, origin node,
    departure s)."""

    result: object
    veh_b: np.ndarray
    veh_size: np.ndarray
    veh_origin: np.ndarray
    veh_depart: np.ndarray
    n_car: int
    sinks: np.ndarray  # bool per node: safe area or a shelter (lower-bound sinks)
    seconds: float  # simulation wall time, s


@dataclass
class _WalkRun:
    """The simulated walkers (``result`` None when nobody walks); ``w_*`` per walker."""

    result: object | None
    net: LinkNetwork | None
    w_b: np.ndarray
    w_origin: np.ndarray | None
    w_depart: np.ndarray | None
    sinks: np.ndarray | None
    n_walk: int
    seconds: float


def _reporter(progress: Progress) -> Callable[[float, str], None]:
    """``report(fraction, stage)`` clamping the fraction to [0, 1]; a no-op without
    ``progress``."""

    def report(frac, stage):
        if progress is not None:
            progress(float(min(1.0, max(0.0, frac))), stage)

    return report


def _road_network(graph: nx.MultiDiGraph, params: EvacuationParams) -> LinkNetwork:
    """Car links of ``graph`` (projected CRS, m) with the scenario's closed roads at
    capacity 0, contraflow applied and capacity (veh/s) reduced by the background share."""
    net = from_graph(graph, short_link_m=params.short_link_m)
    net.capacity_veh_s[_closed_links(graph, net)] = 0.0  # a scenario's closed roads
    apply_contraflow(net, params.contraflow)
    net.capacity_veh_s *= 1.0 - params.background_share
    return net


def _in_zones(zone_geoms: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bool ``(n_zones, n_points)``: point ``(x, y)`` (m, graph CRS) inside each zone."""
    return np.array([shapely.contains_xy(g, x, y) for g in zone_geoms]).reshape(len(zone_geoms), -1)


def _place_evacuees(
    population: gpd.GeoDataFrame,
    zones: list[Hazard],
    zone_geoms: list,
    shadow_area,
    params: EvacuationParams,
) -> _Evacuees:
    """Evacuees per building: zone membership, per-zone start (s), walkers, drivers and
    cars of the ordered households, and the shadow evacuees within ``shadow_area`` (a
    polygon, m, graph CRS) outside the zones."""
    px, py = _points(population)
    persons = _persons(population, params)
    member = _in_zones(zone_geoms, px, py)
    zone_of = np.where(member.any(axis=0), np.argmax(member, axis=0), -1)
    ids = population["id"].to_numpy() if "id" in population else population.index.to_numpy()
    starts = np.array([z.start_s + params.stage_delays_s.get(i, 0.0) for i, z in enumerate(zones)])
    evac = zone_of >= 0
    walkers_b, drivers_b, vehicles_b = split_households(
        np.where(evac, persons, 0.0),
        params.walk_share,
        params.persons_per_household,
        params.vehicles_per_household,
    )
    # shadow evacuation: residents near the zones who leave although not ordered to
    near = ~evac & shapely.contains_xy(shadow_area, px, py)
    _, shadow_drivers, shadow_veh = split_households(
        np.where(near, persons * params.shadow_share, 0.0), 0.0,
        params.persons_per_household, params.vehicles_per_household,
    )  # fmt: skip
    return _Evacuees(px, py, persons, zone_of, ids, starts, evac, walkers_b, drivers_b,
                     vehicles_b, shadow_drivers, shadow_veh)  # fmt: skip


def _snap_shelters(net: LinkNetwork, shelters: gpd.GeoDataFrame | None) -> _ShelterSet:
    """Shelter points (m, graph CRS) on their nearest node with an incoming link."""
    if shelters is None or not len(shelters):
        return _ShelterSet([], np.zeros(0), [])
    sx, sy = _points(shelters)
    return _ShelterSet(
        _snap(net, sx, sy, into=True).tolist(),
        shelters["capacity"].fillna(0).to_numpy(float),
        shelters["id"].tolist() if "id" in shelters else list(range(len(shelters))),
    )


def _destination_groups(
    origin_nodes: np.ndarray,
    building_idx: np.ndarray,
    dist: np.ndarray,
    population: gpd.GeoDataFrame,
    shelter: _ShelterSet,
    params: EvacuationParams,
) -> np.ndarray:
    """Destination group per agent (0 safe area, 1..S shelters): the assigned or the
    nearest shelter by ``dist`` (free-flow s, group x node), or, when out of reach, the
    nearest group within reach."""
    if not shelter.nodes:
        return np.zeros(len(origin_nodes), dtype=np.int64)
    if params.shelter_mode == "assigned":
        col = population["shelter"].to_numpy()[building_idx]
        lookup = {sid: i + 1 for i, sid in enumerate(shelter.ids)}
        group = np.array([lookup.get(c, 0) for c in col], dtype=np.int64)
    else:
        group = 1 + np.argmin(dist[1 : 1 + len(shelter.nodes), origin_nodes], axis=0)
    # a destination out of reach: the nearest one within reach (safe area or shelter)
    lost = ~np.isfinite(dist[group, origin_nodes])
    group[lost] = np.argmin(dist[:-1, origin_nodes[lost]], axis=0)
    return group


def _routable(
    lnet: LinkNetwork,
    origin_nodes: np.ndarray,
    targets: np.ndarray,
    b_idx: np.ndarray,
    sizes: np.ndarray,
    mode: str,
    ev: _Evacuees,
    params: EvacuationParams,
    unroutable_rows: list,
    shut: np.ndarray | None = None,
) -> np.ndarray:
    """Mask of agents with a route from their origin node to a ``targets`` node over open
    links; the others are appended to ``unroutable_rows`` per building and reason
    (persons, building point in m, graph CRS)."""
    open_links = lnet.capacity_veh_s > 0
    if shut is not None:
        open_links &= ~shut
    reason = classify_starts(lnet, origin_nodes, targets, open_links, params.edge_of_extract_m)
    bad = reason != ""
    if bad.any():
        lost = pd.DataFrame({"b": b_idx[bad], "reason": reason[bad], "persons": sizes[bad]})
        for (b, code), rows in lost.groupby(["b", "reason"]):
            unroutable_rows.append((ev.ids[b], mode, len(rows), float(rows.persons.sum()),
                                    float(ev.x[b]), float(ev.y[b]), code, REASONS[code]))  # fmt: skip
    return ~bad


def _shut_from_start(net: LinkNetwork, events: list[CapacityEvent]) -> np.ndarray:
    """Bool per link: closed from time 0 and never reopened."""
    shut = np.zeros(net.n_links, dtype=bool)
    for ev in events:
        if ev.start_s <= 0 and not np.isfinite(ev.end_s):
            shut[np.asarray(ev.links, dtype=np.int64)] = True
    return shut


def _delays(n: int, params: EvacuationParams, rng: np.random.Generator) -> np.ndarray:
    """Mobilisation delays (s) of ``n`` agents."""
    return departure_delays_s(
        n, params.mobilisation, params.mobilisation_scale_min, params.weibull_shape, rng
    )


def _loading_params(params: EvacuationParams) -> LoadingParams:
    """Spatial-queue settings (s); the horizon extends itself up to ``max_horizon_s``."""
    return LoadingParams(
        dt_s=params.dt_s,
        horizon_s=params.horizon_s,
        max_horizon_s=max(params.horizon_s, params.max_horizon_s),
        reroute_interval_s=params.reroute_interval_s,
        sample_interval_s=params.sample_interval_s,
        record_occupancy=params.record_occupancy,
    )


def _simulate_cars(
    net: LinkNetwork,
    dest: Destinations,
    shelter: _ShelterSet,
    ev: _Evacuees,
    population: gpd.GeoDataFrame,
    events: list[CapacityEvent],
    loading: LoadingParams,
    params: EvacuationParams,
    rng: np.random.Generator,
    unroutable_rows: list,
    report: Callable[[float, str], None],
) -> _CarRun:
    """Car evacuees (one agent per vehicle, persons per car) and shadow vehicles: departure
    times (s), routes checked (those without one are reported apart, never simulated),
    destinations, then the spatial-queue simulation."""
    sinks = dest.target_masks[: 1 + len(shelter.nodes)].any(axis=0)
    open_sinks = dest.target_masks[[0] + [1 + i for i, c in enumerate(shelter.capacity) if c > 0]]
    shut = _shut_from_start(net, events)
    veh_b = np.repeat(np.arange(len(ev.persons)), ev.vehicles)
    veh_size = (ev.drivers / np.maximum(ev.vehicles, 1))[veh_b]
    veh_origin = _snap(net, ev.x, ev.y)[veh_b] if len(veh_b) else np.zeros(0, dtype=np.int64)
    veh_depart = ev.starts_s[ev.zone_of[veh_b]] + _delays(len(veh_b), params, rng)
    ok = _routable(net, veh_origin, open_sinks.any(axis=0), veh_b, veh_size, "car", ev, params,
                   unroutable_rows, shut)  # fmt: skip
    veh_b, veh_size, veh_origin, veh_depart = (
        veh_b[ok],
        veh_size[ok],
        veh_origin[ok],
        veh_depart[ok],
    )
    open_cost = np.where(net.capacity_veh_s > 0, net.free_flow_time_s, np.inf)
    _, ff_dist = trees(net, open_cost, dest.target_masks)
    veh_group = _destination_groups(veh_origin, veh_b, ff_dist, population, shelter, params)
    sh_b = np.repeat(np.arange(len(ev.persons)), ev.shadow_vehicles)
    sh_origin = _snap(net, ev.x, ev.y)[sh_b] if len(sh_b) else np.zeros(0, dtype=np.int64)
    sh_depart = (ev.starts_s.min() if len(ev.starts_s) else 0.0) + _delays(len(sh_b), params, rng)
    # shadow vehicles are not evacuees: those with no way out of the shadow area stay home
    sh_ok = np.isfinite(ff_dist[-1, sh_origin])
    sh_b, sh_origin, sh_depart = sh_b[sh_ok], sh_origin[sh_ok], sh_depart[sh_ok]
    shadow_group = dest.target_masks.shape[0] - 1
    car_demand = Demand(
        origin=np.concatenate([veh_origin, sh_origin]).astype(np.int64),
        depart_s=np.concatenate([veh_depart, sh_depart]),
        group=np.concatenate([veh_group, np.full(len(sh_b), shadow_group)]).astype(np.int64),
        size=np.concatenate(
            [veh_size, (ev.shadow_drivers / np.maximum(ev.shadow_vehicles, 1))[sh_b]]
        ),
    )
    report(0.1, "cars")
    sim_started = time.perf_counter()
    car = simulate(
        net, car_demand, dest, loading, events,
        progress=lambda f, s: report(0.1 + 0.4 * f, "cars"),
    )  # fmt: skip
    seconds = time.perf_counter() - sim_started
    return _CarRun(car, veh_b, veh_size, veh_origin, veh_depart, len(veh_b), sinks, seconds)


def _shelter_room(cars: _CarRun, shelter: _ShelterSet) -> np.ndarray:
    """Places (persons) left in each shelter once the cars have arrived."""
    if not len(shelter.nodes):
        return shelter.capacity
    car, n_car = cars.result, cars.n_car
    used = np.array(
        [cars.veh_size[(car.final_group[:n_car] == g + 1) & (car.status[:n_car] == ARRIVED)].sum()
         for g in range(len(shelter.nodes))]
    )  # fmt: skip
    return np.maximum(shelter.capacity - used, 0.0)


def _simulate_walkers(
    graph: nx.MultiDiGraph,
    walk_graph: nx.MultiDiGraph | None,
    shelters: gpd.GeoDataFrame | None,
    shelter: _ShelterSet,
    cars: _CarRun,
    ev: _Evacuees,
    zone_geoms: list,
    population: gpd.GeoDataFrame,
    loading: LoadingParams,
    params: EvacuationParams,
    rng: np.random.Generator,
    unroutable_rows: list,
    report: Callable[[float, str], None],
) -> _WalkRun:
    """Walkers (one agent per person) on the walking network, with the shelter places the
    cars left: departure times (s), routes checked, destinations, simulation."""
    n_walk = int(ev.walkers.sum())
    w_b = np.repeat(np.arange(len(ev.persons)), ev.walkers)
    if not n_walk:
        return _WalkRun(None, None, w_b, None, None, None, n_walk, 0.0)
    report(0.5, "walkers")
    wnet = walking_network(walk_graph if walk_graph is not None else graph, params)
    w_safe = ~_in_zones(zone_geoms, wnet.node_x, wnet.node_y).any(axis=0)
    w_shelters = _snap(wnet, *_points(shelters), into=True).tolist() if shelter.nodes else []
    room = _shelter_room(cars, shelter)
    w_dest = _destinations(wnet, w_safe, w_shelters, room, np.zeros(wnet.n_nodes, bool))
    w_origin = _snap(wnet, ev.x, ev.y)[w_b]
    w_depart = ev.starts_s[ev.zone_of[w_b]] + _delays(n_walk, params, rng)
    w_sinks = w_dest.target_masks[: 1 + len(w_shelters)].any(axis=0)
    w_open = w_dest.target_masks[[0] + [1 + i for i, c in enumerate(room) if c > 0]]
    ok = _routable(wnet, w_origin, w_open.any(axis=0), w_b, np.ones(n_walk), "walk", ev, params,
                   unroutable_rows)  # fmt: skip
    w_b, w_origin, w_depart = w_b[ok], w_origin[ok], w_depart[ok]
    n_walk = len(w_b)
    w_cost = np.where(wnet.capacity_veh_s > 0, wnet.free_flow_time_s, np.inf)
    _, w_dist = trees(wnet, w_cost, w_dest.target_masks)
    w_group = _destination_groups(w_origin, w_b, w_dist, population, shelter, params)
    w_demand = Demand(origin=w_origin, depart_s=w_depart, group=w_group)
    sim_started = time.perf_counter()
    walk = simulate(
        wnet, w_demand, w_dest, loading,
        progress=lambda f, s: report(0.5 + 0.2 * f, "walkers"),
    )  # fmt: skip
    seconds = time.perf_counter() - sim_started
    return _WalkRun(walk, wnet, w_b, w_origin, w_depart, w_sinks, n_walk, seconds)


def _evacuee_agents(
    cars: _CarRun, walkers: _WalkRun, ev: _Evacuees
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-agent table of evacuees, cars then walkers (shadow vehicles excluded): arrival
    time (s, NaN if not arrived), persons, building index, final status, zone index."""
    car, walk, n_car = cars.result, walkers.result, cars.n_car
    a_time = np.concatenate([car.arrival_s[:n_car], walk.arrival_s if walk else np.zeros(0)])
    a_persons = np.concatenate([cars.veh_size, np.ones(walkers.n_walk)])
    a_building = np.concatenate([cars.veh_b, walkers.w_b])
    a_status = np.concatenate([car.status[:n_car], walk.status if walk else np.zeros(0, int)])
    a_time = np.where(a_status == ARRIVED, a_time, np.nan)
    a_zone = ev.zone_of[a_building] if len(a_building) else np.zeros(0, int)
    return a_time, a_persons, a_building, a_status, a_zone


def _unroutable_table(rows: list) -> pd.DataFrame:
    """Evacuees with no route, per building, mode and reason (persons; x, y in m)."""
    return pd.DataFrame(
        rows, columns=["building", "mode", "agents", "persons", "x", "y", "reason", "reason_text"]
    )


def _t100_reason(total, lost, not_arrived, capped, horizon_s, t50, t90, t100):
    """T50/T90/T100 (s) with the reason why T100 is unknown, if it is (persons, s)."""
    t100_reason = None
    if total == 0 and lost > 0:
        t50 = t90 = t100 = None
        t100_reason = f"none of the {lost:.0f} evacuees has a route to safety"
    elif not_arrived > 0:
        t100 = None
        t100_reason = (
            f"{not_arrived:.0f} persons still on the way when the simulation stopped at its "
            f"hard cap of {horizon_s / 3600:.1f} h"
            if capped
            else f"{not_arrived:.0f} persons lost their route to a road closed during the run"
        )
    return t50, t90, t100, t100_reason


def _evacuation_curve(
    a_time: np.ndarray, a_persons: np.ndarray, a_zone: np.ndarray, names: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Share of evacuees out (overall and per zone) every 60 s, and that time grid (s)."""
    end = np.nanmax(a_time) if np.isfinite(a_time).any() else 0.0
    grid = np.arange(0.0, end + 60.0, 60.0)
    curve = pd.DataFrame({"time_s": grid})
    for label, sel in [("share_out", np.ones(len(a_time), bool))] + [
        (f"share_out_{nm}", a_zone == i) for i, nm in enumerate(names)
    ]:
        t, w = a_time[sel], a_persons[sel]
        ok = np.isfinite(t)
        order = np.argsort(t[ok])
        cum = np.concatenate([[0.0], np.cumsum(w[ok][order])])
        idx = np.searchsorted(t[ok][order], grid, side="right")
        denom = w.sum()
        curve[label] = cum[idx] / denom if denom > 0 else 1.0
    return curve, grid


def _building_times(
    ev: _Evacuees,
    names: list[str],
    a_building: np.ndarray,
    a_time: np.ndarray,
    unroutable: pd.DataFrame,
) -> pd.DataFrame:
    """Per ordered building: persons and evacuation time (s, last arrival; NaN if any of
    its evacuees did not arrive or has no route, with the persons and reason)."""
    agents = pd.DataFrame({"b": a_building, "t": a_time})
    b_time = agents.groupby("b")["t"].agg(lambda s: s.max() if s.notna().all() else np.nan)
    evac = ev.evac
    buildings = pd.DataFrame({
        "id": ev.ids[evac],
        "zone": [names[z] for z in ev.zone_of[evac]],
        "persons": ev.persons[evac],
        "evacuation_time_s": b_time.reindex(np.flatnonzero(evac)).to_numpy(),
        "unroutable_persons": 0.0,
        "unroutable_reason": "",
    })  # fmt: skip
    if len(unroutable):
        by_id = unroutable.groupby("building").agg(persons=("persons", "sum"),
                                                   reason=("reason", "first"))  # fmt: skip
        hit = buildings.id.isin(by_id.index).to_numpy()
        rows = by_id.loc[buildings.id[hit]]
        buildings.loc[hit, "unroutable_persons"] = rows.persons.to_numpy()
        buildings.loc[hit, "unroutable_reason"] = rows.reason.to_numpy()
        buildings.loc[hit, "evacuation_time_s"] = np.nan
    return buildings


def _stranded(net: LinkNetwork, cars: _CarRun, walkers: _WalkRun) -> pd.DataFrame:
    """Agents that did not arrive, with their status and last link (never dropped)."""
    rows = []
    for mode, res, n_agents, size, lnet in (
        ("car", cars.result, cars.n_car, cars.veh_size, net),
        ("walk", walkers.result, walkers.n_walk, np.ones(walkers.n_walk), walkers.net),
    ):
        if res is None:
            continue
        for i in np.flatnonzero(res.status[:n_agents] != ARRIVED):
            link = res.last_link[i]
            key = lnet.link_keys[link] if link >= 0 and lnet.link_keys else None
            rows.append((mode, STATUS_NAMES[int(res.status[i])], key, float(size[i])))
    return pd.DataFrame(rows, columns=["mode", "status", "link", "persons"])


def _shelter_loads(
    shelter: _ShelterSet, cars: _CarRun, walkers: _WalkRun, grid: np.ndarray
) -> pd.DataFrame:
    """Persons in each shelter at each time of ``grid`` (s), with its capacity."""
    loads = []
    if shelter.nodes:
        car, n_car, walk = cars.result, cars.n_car, walkers.result
        arr = car.arrival_s[:n_car]
        sel_car = car.status[:n_car] == ARRIVED
        for g, sid in enumerate(shelter.ids):
            t = np.concatenate([
                arr[sel_car & (car.final_group[:n_car] == g + 1)],
                walk.arrival_s[(walk.status == ARRIVED) & (walk.final_group == g + 1)]
                if walk else [],
            ])  # fmt: skip
            w = np.concatenate([
                cars.veh_size[sel_car & (car.final_group[:n_car] == g + 1)],
                np.ones(int(((walk.status == ARRIVED) & (walk.final_group == g + 1)).sum()))
                if walk else [],
            ])  # fmt: skip
            order = np.argsort(t)
            cum = np.concatenate([[0.0], np.cumsum(w[order])])
            load = cum[np.searchsorted(t[order], grid, side="right")]
            loads.append(pd.DataFrame({"time_s": grid, "shelter": sid, "load": load,
                                       "capacity": shelter.capacity[g]}))  # fmt: skip
    return (
        pd.concat(loads, ignore_index=True)
        if loads
        else pd.DataFrame(columns=["time_s", "shelter", "load", "capacity"])
    )


def _bottlenecks(net: LinkNetwork, cars: _CarRun, walkers: _WalkRun) -> pd.DataFrame:
    """Links that queued (veh; capacity in veh/h), longest queue duration (s) first."""
    parts = []
    for mode, res, lnet in (("car", cars.result, net), ("walk", walkers.result, walkers.net)):
        if res is None:
            continue
        q = np.flatnonzero(res.queue_max_veh > 0)
        keys = [lnet.link_keys[i] for i in q] if lnet.link_keys else [(None,) * 3] * len(q)
        parts.append(pd.DataFrame({
            "u": [k[0] for k in keys], "v": [k[1] for k in keys], "key": [k[2] for k in keys],
            "mode": mode, "max_queue_veh": res.queue_max_veh[q],
            "queue_duration_s": res.queue_duration_s[q],
            "capacity_veh_h": lnet.capacity_veh_s[q] * 3600,
        }))  # fmt: skip
    bottlenecks = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(bottlenecks):
        bottlenecks = bottlenecks.sort_values(
            ["queue_duration_s", "max_queue_veh"], ascending=False, ignore_index=True
        )
    return bottlenecks


def _lower_bounds(
    net: LinkNetwork,
    cars: _CarRun,
    walkers: _WalkRun,
    params: EvacuationParams,
    report: Callable[[float, str], None],
) -> tuple[LowerBound | None, LowerBound | None]:
    """Quickest-flow bounds for the cars and the walkers with a route; every shelter and
    the safe area are sinks (a relaxation, so valid)."""
    car_bound = walk_bound = None
    if params.compute_lower_bound:
        report(0.7, "lower bound")
        if cars.n_car:
            car_bound = network_lower_bound(
                net, cars.veh_origin, cars.veh_depart, cars.sinks, params.dt_s,
                progress=lambda f, s: report(0.7 + 0.2 * f, s),
            )  # fmt: skip
        if walkers.result is not None and walkers.n_walk:
            walk_bound = network_lower_bound(walkers.net, walkers.w_origin, walkers.w_depart,
                                             walkers.sinks, params.dt_s)  # fmt: skip
    return car_bound, walk_bound


def run_evacuation(
    graph: nx.MultiDiGraph,
    population: gpd.GeoDataFrame,
    hazards,
    shelters: gpd.GeoDataFrame | None = None,
    params: EvacuationParams | None = None,
    progress: Progress = None,
    walk_graph: nx.MultiDiGraph | None = None,
) -> EvacuationResult:
    """Simulate the evacuation of the hazard zones.

    Parameters
    ----------
    graph : OSMnx-style road ``MultiDiGraph`` in a projected CRS (m); edge attributes as in
        :func:`simulators.dynamics.network.from_graph`.
    population : GeoDataFrame of buildings (any geometry; a point on each is used) with
        ``residents`` and ``workers`` (or ``count``), optional ``id`` and, for assigned
        shelters, ``shelter`` (a shelter ``id``).
    hazards : :class:`Hazard` list, polygon(s), or GeoDataFrame with ``geometry`` and
        optional ``start_s`` and ``name``; same CRS as the graph.
    shelters : GeoDataFrame of points with ``capacity`` (persons) and optional ``id``;
        evacuees go to a shelter (a full one sends arrivals to the next nearest with room,
        then to the safe area).  Without shelters the destination is the safe area (any
        node outside every zone).
    params : :class:`EvacuationParams`.
    progress : optional ``progress(fraction, stage)`` callback.
    walk_graph : walking network (default: the road graph both ways, without motorways).

    Returns
    -------
    EvacuationResult
    """
    started = time.perf_counter()
    params = params or EvacuationParams()
    rng = np.random.default_rng(params.seed)
    zones = _as_hazards(hazards)
    names = _zone_names(zones)
    report = _reporter(progress)

    report(0.0, "network")
    net = _road_network(graph, params)
    zone_geoms = [z.geometry for z in zones]
    for g in zone_geoms:
        shapely.prepare(g)
    union = shapely.union_all([z.geometry for z in zones])
    safe = ~_in_zones(zone_geoms, net.node_x, net.node_y).any(axis=0)
    shadow_area = union.buffer(params.shadow_buffer_m)
    shadow_targets = ~shapely.contains_xy(shadow_area, net.node_x, net.node_y)

    report(0.05, "demand")
    ev = _place_evacuees(population, zones, zone_geoms, shadow_area, params)
    shelter = _snap_shelters(net, shelters)
    dest = _destinations(net, safe, shelter.nodes, shelter.capacity, shadow_targets)
    unroutable_rows: list = []
    loading = _loading_params(params)
    cars = _simulate_cars(net, dest, shelter, ev, population, _closure_events(net, params),
                          loading, params, rng, unroutable_rows, report)  # fmt: skip
    walkers = _simulate_walkers(graph, walk_graph, shelters, shelter, cars, ev, zone_geoms,
                                population, loading, params, rng, unroutable_rows, report)  # fmt: skip
    car, walk, n_car, n_walk = cars.result, walkers.result, cars.n_car, walkers.n_walk

    arr = car.arrival_s[:n_car]
    a_time, a_persons, a_building, a_status, a_zone = _evacuee_agents(cars, walkers, ev)
    total = float(a_persons.sum())
    not_arrived = float(a_persons[a_status != ARRIVED].sum())
    unroutable = _unroutable_table(unroutable_rows)
    lost = float(unroutable.persons.sum()) if len(unroutable) else 0.0
    capped = bool(car.capped or (walk is not None and walk.capped))
    horizon = max(car.horizon_s, walk.horizon_s if walk is not None else 0.0)
    t50, t90, t100, t100_reason = _t100_reason(
        total, lost, not_arrived, capped, horizon,
        *_share_times(a_time, a_persons, total, (0.5, 0.9, 1.0)),
    )  # fmt: skip
    curve, grid = _evacuation_curve(a_time, a_persons, a_zone, names)

    bound_started = time.perf_counter()
    car_bound, walk_bound = _lower_bounds(net, cars, walkers, params, report)
    bound_seconds = time.perf_counter() - bound_started
    bounds = [b.clearance_s for b in (car_bound, walk_bound) if b is not None]
    lower = None if not bounds or any(b is None for b in bounds) else float(max(bounds))
    ratio = t100 / lower if (t100 is not None and lower) else None
    report(1.0, "done")
    return EvacuationResult(
        curve=curve,
        t50_s=t50,
        t90_s=t90,
        t100_s=t100,
        lower_bound_s=lower,
        lower_bound_t90_s=car_bound.t90_s if car_bound else None,
        efficiency_ratio=ratio,
        evacuees=total + lost,
        vehicles=n_car,
        walkers=n_walk,
        not_arrived=not_arrived,
        stranded=_stranded(net, cars, walkers),
        buildings=_building_times(ev, names, a_building, a_time, unroutable),
        shelter_loads=_shelter_loads(shelter, cars, walkers, grid),
        bottlenecks=_bottlenecks(net, cars, walkers),
        car_bound=car_bound,
        walk_bound=walk_bound,
        vehicle_arrivals_s=arr,
        seconds=time.perf_counter() - started,
        car_occupancy_veh=car.occupancy_veh,
        car_link_keys=list(net.link_keys or []),
        unroutable=unroutable,
        unroutable_persons=lost,
        horizon_s=horizon,
        horizon_capped=capped,
        t100_reason=t100_reason,
        simulation_seconds=cars.seconds + walkers.seconds,
        lower_bound_seconds=bound_seconds,
    )


def lower_bound(
    graph: nx.MultiDiGraph,
    population: gpd.GeoDataFrame,
    hazards,
    shelters: gpd.GeoDataFrame | None = None,
    params: EvacuationParams | None = None,
    progress: Progress = None,
    exact_upper_s: float | None = None,
) -> LowerBound:
    """Quickest-flow bound ``T*`` / ``T90*`` for the car evacuees of a scenario, without
    simulating (same demand and departure times as :func:`run_evacuation` with the same
    seed; walkers and vehicles with no route to safety are not included).

    With ``exact_upper_s`` (a clearance known to be achievable, e.g. the simulated T100)
    the exact time-expanded quickest flow is computed instead (reference; memory and time
    grow with links x horizon, see :func:`expanded_lower_bound`)."""
    params = params or EvacuationParams()
    rng = np.random.default_rng(params.seed)
    zones = _as_hazards(hazards)
    net = from_graph(graph, short_link_m=params.short_link_m)
    net.capacity_veh_s[_closed_links(graph, net)] = 0.0
    apply_contraflow(net, params.contraflow)
    net.capacity_veh_s *= 1.0 - params.background_share
    zone_geoms = [z.geometry for z in zones]
    safe = ~np.array([shapely.contains_xy(g, net.node_x, net.node_y) for g in zone_geoms]).any(0)
    sinks = safe.copy()
    if shelters is not None and len(shelters):
        sinks[_snap(net, *_points(shelters), into=True)] = True
    px, py = _points(population)
    persons = _persons(population, params)
    member = np.array([shapely.contains_xy(g, px, py) for g in zone_geoms]).reshape(len(zones), -1)
    zone_of = np.where(member.any(axis=0), np.argmax(member, axis=0), -1)
    starts = np.array([z.start_s + params.stage_delays_s.get(i, 0.0) for i, z in enumerate(zones)])
    _, _, vehicles_b = split_households(
        np.where(zone_of >= 0, persons, 0.0), params.walk_share,
        params.persons_per_household, params.vehicles_per_household,
    )  # fmt: skip
    veh_b = np.repeat(np.arange(len(persons)), vehicles_b)
    depart = starts[zone_of[veh_b]] + departure_delays_s(
        len(veh_b), params.mobilisation, params.mobilisation_scale_min, params.weibull_shape, rng
    )
    origin = _snap(net, px, py)[veh_b]
    # vehicles with no route to safety are left out, as in run_evacuation
    ok = classify_starts(net, origin, sinks, net.capacity_veh_s > 0, params.edge_of_extract_m) == ""
    if exact_upper_s is not None:
        return expanded_lower_bound(net, origin[ok], depart[ok], sinks, params.dt_s,
                                    upper_s=exact_upper_s, progress=progress)  # fmt: skip
    return network_lower_bound(net, origin[ok], depart[ok], sinks, params.dt_s, progress=progress)


__all__ = [
    "EvacuationResult",
    "apply_contraflow",
    "lower_bound",
    "run_evacuation",
    "storage_from_geometry",
    "walking_network",
]
