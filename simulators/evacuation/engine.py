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
from simulators.dynamics.network import LinkNetwork, from_graph, storage_from_geometry
from simulators.dynamics.routing import trees
from simulators.evacuation.demand import departure_delays_s, split_households
from simulators.evacuation.lower_bound import LowerBound, network_lower_bound
from simulators.evacuation.params import EvacuationParams, Hazard

Progress = Callable[[float, str], None] | None
_NO_WALK = {"motorway", "motorway_link", "trunk", "trunk_link"}


@dataclass
class EvacuationResult:
    """Outputs of :func:`run_evacuation` (seconds from the earliest hazard start).

    Attributes
    ----------
    curve : DataFrame ``time_s``, ``share_out`` (all evacuees) and one ``share_out_<zone>``
        column per zone.
    t50_s, t90_s, t100_s : times when 50 / 90 / 100 % of evacuees (persons) are out; None
        when not reached within the horizon.
    lower_bound_s : quickest-flow clearance bound ``T*`` (max over cars and walkers).
    lower_bound_t90_s : ``T90*`` of the car network (vehicles), None without cars.
    efficiency_ratio : ``t100_s / lower_bound_s``.
    evacuees : persons to evacuate; vehicles, walkers : agents.
    not_arrived : persons not out at the horizon (or with no route), never dropped.
    stranded : DataFrame of agents not arrived: ``mode``, ``status``, ``link`` (u, v, key),
        ``persons``.
    buildings : DataFrame ``id``, ``zone``, ``persons``, ``evacuation_time_s`` (last of the
        building's agents out; NaN if someone did not make it).
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
            "seconds": self.seconds,
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
    pairs = set(zip(net.link_from[keep].tolist(), net.link_to[keep].tolist()))
    tails, heads, lengths, keys = [], [], [], []
    for i in np.flatnonzero(keep):
        a, b = int(net.link_from[i]), int(net.link_to[i])
        tails.append(a), heads.append(b), lengths.append(net.length_m[i])
        keys.append(net.link_keys[i])
        if (b, a) not in pairs:
            pairs.add((b, a))
            u, v, k = net.link_keys[i]
            tails.append(b), heads.append(a), lengths.append(net.length_m[i])
            keys.append((v, u, f"walk{k}"))
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
        capacity_veh_s=params.pedestrian_specific_flow * width,
        storage_veh=storage,
        link_keys=keys,
    )


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

    def report(frac, stage):
        if progress is not None:
            progress(float(min(1.0, max(0.0, frac))), stage)

    report(0.0, "network")
    net = from_graph(graph, short_link_m=params.short_link_m)
    apply_contraflow(net, params.contraflow)
    net.capacity_veh_s *= 1.0 - params.background_share
    zone_geoms = [z.geometry for z in zones]
    for g in zone_geoms:
        shapely.prepare(g)
    union = shapely.union_all([z.geometry for z in zones])

    def in_zone(x, y):
        return np.array([shapely.contains_xy(g, x, y) for g in zone_geoms]).reshape(len(zones), -1)

    safe = ~in_zone(net.node_x, net.node_y).any(axis=0)
    shadow_area = union.buffer(params.shadow_buffer_m)
    shadow_targets = ~shapely.contains_xy(shadow_area, net.node_x, net.node_y)

    # population
    report(0.05, "demand")
    px, py = _points(population)
    persons = _persons(population, params)
    member = in_zone(px, py)
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

    # shelters
    shelter_nodes: list[int] = []
    shelter_cap = np.zeros(0)
    shelter_ids: list = []
    if shelters is not None and len(shelters):
        sx, sy = _points(shelters)
        shelter_nodes = _snap(net, sx, sy, into=True).tolist()
        shelter_cap = shelters["capacity"].fillna(0).to_numpy(float)
        shelter_ids = shelters["id"].tolist() if "id" in shelters else list(range(len(shelters)))
    dest = _destinations(net, safe, shelter_nodes, shelter_cap, shadow_targets)
    shadow_group = dest.target_masks.shape[0] - 1

    def groups_for(origin_nodes, building_idx, dist):
        if not shelter_nodes:
            return np.zeros(len(origin_nodes), dtype=np.int64)
        if params.shelter_mode == "assigned":
            col = population["shelter"].to_numpy()[building_idx]
            lookup = {sid: i + 1 for i, sid in enumerate(shelter_ids)}
            return np.array([lookup.get(c, 0) for c in col], dtype=np.int64)
        return 1 + np.argmin(dist[1 : 1 + len(shelter_nodes), origin_nodes], axis=0)

    # car agents
    veh_b = np.repeat(np.arange(len(persons)), vehicles_b)
    veh_size = (drivers_b / np.maximum(vehicles_b, 1))[veh_b]
    veh_origin = _snap(net, px, py)[veh_b] if len(veh_b) else np.zeros(0, dtype=np.int64)
    veh_depart = starts[zone_of[veh_b]] + departure_delays_s(
        len(veh_b), params.mobilisation, params.mobilisation_scale_min, params.weibull_shape, rng
    )
    _, ff_dist = trees(net, net.free_flow_time_s, dest.target_masks)
    veh_group = groups_for(veh_origin, veh_b, ff_dist)
    sh_b = np.repeat(np.arange(len(persons)), shadow_veh)
    sh_origin = _snap(net, px, py)[sh_b] if len(sh_b) else np.zeros(0, dtype=np.int64)
    sh_depart = (starts.min() if len(starts) else 0.0) + departure_delays_s(
        len(sh_b), params.mobilisation, params.mobilisation_scale_min, params.weibull_shape, rng
    )
    n_car = len(veh_b)
    car_demand = Demand(
        origin=np.concatenate([veh_origin, sh_origin]).astype(np.int64),
        depart_s=np.concatenate([veh_depart, sh_depart]),
        group=np.concatenate([veh_group, np.full(len(sh_b), shadow_group)]).astype(np.int64),
        size=np.concatenate([veh_size, (shadow_drivers / np.maximum(shadow_veh, 1))[sh_b]]),
    )
    loading = LoadingParams(
        dt_s=params.dt_s,
        horizon_s=params.horizon_s,
        reroute_interval_s=params.reroute_interval_s,
        sample_interval_s=params.sample_interval_s,
        record_occupancy=params.record_occupancy,
    )
    report(0.1, "cars")
    car = simulate(
        net, car_demand, dest, loading, _closure_events(net, params),
        progress=lambda f, s: report(0.1 + 0.4 * f, "cars"),
    )  # fmt: skip

    # walkers, with the shelter places the cars left
    n_walk = int(walkers_b.sum())
    walk = None
    wnet = None
    w_b = np.repeat(np.arange(len(persons)), walkers_b)
    if n_walk:
        report(0.5, "walkers")
        wnet = walking_network(walk_graph if walk_graph is not None else graph, params)
        w_safe = ~in_zone(wnet.node_x, wnet.node_y).any(axis=0)
        w_shelters = _snap(wnet, *_points(shelters), into=True).tolist() if shelter_nodes else []
        used = np.array(
            [car_demand.size[:n_car][(car.final_group[:n_car] == g + 1)
                                     & (car.status[:n_car] == ARRIVED)].sum()
             for g in range(len(shelter_nodes))]
        )  # fmt: skip
        room = np.maximum(shelter_cap - used, 0.0) if len(shelter_nodes) else shelter_cap
        w_dest = _destinations(wnet, w_safe, w_shelters, room, np.zeros(wnet.n_nodes, bool))
        w_origin = _snap(wnet, px, py)[w_b]
        _, w_dist = trees(wnet, wnet.free_flow_time_s, w_dest.target_masks)
        w_demand = Demand(
            origin=w_origin,
            depart_s=starts[zone_of[w_b]] + departure_delays_s(
                n_walk, params.mobilisation, params.mobilisation_scale_min,
                params.weibull_shape, rng,
            ),
            group=groups_for(w_origin, w_b, w_dist),
        )  # fmt: skip
        walk = simulate(
            wnet, w_demand, w_dest, loading,
            progress=lambda f, s: report(0.5 + 0.2 * f, "walkers"),
        )  # fmt: skip

    # per-agent table of evacuees (shadow vehicles excluded)
    arr = car.arrival_s[:n_car]
    a_time = np.concatenate([arr, walk.arrival_s if walk else np.zeros(0)])
    a_persons = np.concatenate([veh_size, np.ones(n_walk)])
    a_building = np.concatenate([veh_b, w_b])
    a_status = np.concatenate([car.status[:n_car], walk.status if walk else np.zeros(0, int)])
    a_time = np.where(a_status == ARRIVED, a_time, np.nan)
    a_zone = zone_of[a_building] if len(a_building) else np.zeros(0, int)
    total = float(a_persons.sum())
    t50, t90, t100 = _share_times(a_time, a_persons, total, (0.5, 0.9, 1.0))
    not_arrived = float(a_persons[a_status != ARRIVED].sum())
    if not_arrived > 0:
        t100 = None

    # evacuation curve
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

    # buildings
    agents = pd.DataFrame({"b": a_building, "t": a_time})
    b_time = agents.groupby("b")["t"].agg(lambda s: s.max() if s.notna().all() else np.nan)
    buildings = pd.DataFrame({
        "id": ids[evac],
        "zone": [names[z] for z in zone_of[evac]],
        "persons": persons[evac],
        "evacuation_time_s": b_time.reindex(np.flatnonzero(evac)).to_numpy(),
    })  # fmt: skip

    # stranded agents, never silently dropped
    rows = []
    for mode, res, n_agents, size, lnet in (
        ("car", car, n_car, veh_size, net),
        ("walk", walk, n_walk, np.ones(n_walk), wnet),
    ):
        if res is None:
            continue
        for i in np.flatnonzero(res.status[:n_agents] != ARRIVED):
            link = res.last_link[i]
            key = lnet.link_keys[link] if link >= 0 and lnet.link_keys else None
            rows.append((mode, STATUS_NAMES[int(res.status[i])], key, float(size[i])))
    stranded = pd.DataFrame(rows, columns=["mode", "status", "link", "persons"])

    # shelter loads over time
    loads = []
    if shelter_nodes:
        sel_car = car.status[:n_car] == ARRIVED
        for g, sid in enumerate(shelter_ids):
            t = np.concatenate([
                arr[sel_car & (car.final_group[:n_car] == g + 1)],
                walk.arrival_s[(walk.status == ARRIVED) & (walk.final_group == g + 1)]
                if walk else [],
            ])  # fmt: skip
            w = np.concatenate([
                veh_size[sel_car & (car.final_group[:n_car] == g + 1)],
                np.ones(int(((walk.status == ARRIVED) & (walk.final_group == g + 1)).sum()))
                if walk else [],
            ])  # fmt: skip
            order = np.argsort(t)
            cum = np.concatenate([[0.0], np.cumsum(w[order])])
            load = cum[np.searchsorted(t[order], grid, side="right")]
            loads.append(pd.DataFrame({"time_s": grid, "shelter": sid, "load": load,
                                       "capacity": shelter_cap[g]}))  # fmt: skip
    shelter_loads = (
        pd.concat(loads, ignore_index=True)
        if loads
        else pd.DataFrame(columns=["time_s", "shelter", "load", "capacity"])
    )

    # bottlenecks
    parts = []
    for mode, res, lnet in (("car", car, net), ("walk", walk, wnet)):
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

    # lower bounds: every shelter and the safe area are sinks (a relaxation, so valid)
    car_bound = walk_bound = None
    if params.compute_lower_bound:
        report(0.7, "lower bound")
        sinks = dest.target_masks[: 1 + len(shelter_nodes)].any(axis=0)
        car_t100 = np.nanmax(arr) if n_car and (car.status[:n_car] == ARRIVED).all() else None
        if n_car:
            car_bound = network_lower_bound(
                net, veh_origin, veh_depart, sinks, params.dt_s, upper_s=car_t100,
                progress=lambda f, s: report(0.7 + 0.2 * f, s),
            )  # fmt: skip
        if walk is not None:
            w_sinks = w_dest.target_masks[: 1 + len(w_shelters)].any(axis=0)
            ok = (walk.status == ARRIVED).all()
            walk_bound = network_lower_bound(
                wnet, w_demand.origin, w_demand.depart_s, w_sinks, params.dt_s,
                upper_s=np.nanmax(walk.arrival_s) if ok else None,
            )  # fmt: skip
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
        evacuees=total,
        vehicles=n_car,
        walkers=n_walk,
        not_arrived=not_arrived,
        stranded=stranded,
        buildings=buildings,
        shelter_loads=shelter_loads,
        bottlenecks=bottlenecks,
        car_bound=car_bound,
        walk_bound=walk_bound,
        vehicle_arrivals_s=arr,
        seconds=time.perf_counter() - started,
        car_occupancy_veh=car.occupancy_veh,
        car_link_keys=list(net.link_keys or []),
    )


def lower_bound(
    graph: nx.MultiDiGraph,
    population: gpd.GeoDataFrame,
    hazards,
    shelters: gpd.GeoDataFrame | None = None,
    params: EvacuationParams | None = None,
    progress: Progress = None,
) -> LowerBound:
    """Quickest-flow bound ``T*`` / ``T90*`` for the car evacuees of a scenario, without
    simulating (same demand and departure times as :func:`run_evacuation` with the same
    seed; walkers are not included)."""
    params = params or EvacuationParams()
    rng = np.random.default_rng(params.seed)
    zones = _as_hazards(hazards)
    net = from_graph(graph, short_link_m=params.short_link_m)
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
    return network_lower_bound(
        net, _snap(net, px, py)[veh_b], depart, sinks, params.dt_s, progress=progress
    )


__all__ = [
    "EvacuationResult",
    "apply_contraflow",
    "lower_bound",
    "run_evacuation",
    "storage_from_geometry",
    "walking_network",
]
