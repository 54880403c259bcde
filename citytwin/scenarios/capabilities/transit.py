"""Transit: public transport, mode choice between car, transit and walking, and its effect on
car traffic (optimal-strategy assignment, logit split iterated with the car equilibrium)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from simulators.traffic.demand import (
    HOURLY_TRIP_SHARE,
    DemandParameters,
    ExternalParameters,
    demand_from_buildings,
    external_demand,
)
from simulators.traffic.osm import network_from_graph
from simulators.traffic.scenarios import close_links, scale_demand
from simulators.transit.model import accessibility, door_to_door_s, run_model
from simulators.transit.params import TransitRunParams
from simulators.transit.walk import NOT_WALKABLE

from .. import inputs
from ..models import BuildingResult, Run
from ..warnings import warning
from . import Kpi, Progress, Simulator, register, same_names
from .storage import finite, multipolygon
from .traffic import _store_edges


def _period_hour_factor(start_h: float, end_h: float) -> float:
    """Average trips per hour of the period relative to the design (busiest) hour."""
    hours = np.arange(np.floor(start_h), np.ceil(end_h)).astype(int) % 24
    return float(HOURLY_TRIP_SHARE[hours].mean() / HOURLY_TRIP_SHARE.max())


def _dense(demand, zone_nodes: np.ndarray) -> np.ndarray:
    index = {int(n): k for k, n in enumerate(zone_nodes)}
    out = np.zeros((len(zone_nodes), len(zone_nodes)))
    for o, d, f in zip(demand.origin, demand.destination, demand.flow, strict=True):
        out[index[int(o)], index[int(d)]] += f
    return out


def _local_xy_to_lonlat(city, xy: np.ndarray) -> np.ndarray:
    lon, lat = inputs.to_local(city).transform(xy[:, 0], xy[:, 1], direction="INVERSE")
    return np.column_stack([lon, lat])


@dataclass
class ModelInputs:
    """The engine inputs of one transit run (road network, zones, trips, supply)."""

    G: object
    edge_keys: list
    network: object
    node_xy: np.ndarray
    zone_nodes: np.ndarray
    trips: np.ndarray
    external: object
    supply: object
    buildings: object
    walkable: np.ndarray


def model_inputs(
    city, edits: list[dict], params: TransitRunParams, progress: Progress
) -> ModelInputs:
    """Roads with the edits, person trips of every mode from the buildings (the traffic demand
    model with every trip counted), car trips across the city's edge, and the transit supply
    (imported lines plus the transit edits)."""
    progress(0.01, "reading the road network")
    base_graph = inputs.base_road_graph(city)
    G = inputs.apply_road_edits(base_graph.copy(), city, edits) if edits else base_graph
    buildings = inputs.buildings_frame(city, edits)
    network, edge_keys = network_from_graph(G)
    closed = [i for i, key in enumerate(edge_keys) if G.edges[key]["closed"]]
    if closed:
        network = close_links(network, closed)
    progress(0.03, "person trips")
    # every trip, whatever its mode: the mode choice splits them
    persons = demand_from_buildings(
        base_graph, buildings, DemandParameters(car_mode_share=1.0, car_occupancy=1.0),
        progress=lambda f, s: progress(0.03 + 0.07 * f, f"demand: {s}"),
    )  # fmt: skip
    zone_nodes = np.asarray(persons.info["zone_nodes"], dtype=np.int64)
    external = None
    if params.external_traffic:
        external = external_demand(base_graph, persons, ExternalParameters(hour=params.start_h))
    persons = scale_demand(persons, _period_hour_factor(params.start_h, params.end_h))
    node_xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in network.node_ids])
    for factor, polygon in inputs.demand_zone_polygons(city, edits):
        if polygon is None:
            persons = scale_demand(persons, factor)
        else:
            inside = shapely.contains_xy(polygon, *node_xy[zone_nodes].T)
            persons = scale_demand(persons, factor, zones=zone_nodes[inside])
    progress(0.1, "transit lines")
    supply = inputs.transit_supply(city, edits, params.start_h, params.end_h, params.day)
    walkable = np.array([str(G.edges[k].get("highway")) not in NOT_WALKABLE for k in edge_keys])
    return ModelInputs(G, edge_keys, network, node_xy, zone_nodes, _dense(persons, zone_nodes),
                       external, supply, buildings, walkable)  # fmt: skip


def run_transit(run: Run, progress: Progress) -> dict:
    """The transit model for one period of the scenario (see docs/transit.md, "Model").

    Results: car volumes per road edge (the traffic result, so that difference layers compare
    it with a traffic or transit baseline), people and jobs reachable by transit per
    building, line loads and boardings in ``run.meta["transit"]``, mode shares and
    convergence in the KPIs. Car trips across the city's edge stay cars.
    """
    city, edits = run.scenario.city, run.edits
    params: TransitRunParams = SPEC.engine_params(run.params)
    m = model_inputs(city, edits, params, progress)
    result = run_model(
        m.network, m.node_xy, m.zone_nodes, m.trips, m.supply, params.transit(),
        params.mode_choice(), walkable=m.walkable, fixed_car=m.external, gap=params.gap,
        progress=lambda f, s: progress(0.1 + 0.8 * f, s),
    )  # fmt: skip
    progress(0.92, "storing the results")
    _store_edges(run, m.G, m.edge_keys, result.modes.car)
    people, jobs = _store_buildings(run, m.buildings, m.node_xy[m.zone_nodes], result, params)
    run.meta = {**(run.meta or {}), "transit": _lines_meta(city, m.supply, result)}
    kpis = _kpis(result, m.supply, m.external, people, jobs)
    run.warnings = _warnings(kpis, m.supply)
    return kpis


def _store_buildings(run, buildings, zone_xy, result, params) -> tuple[np.ndarray, np.ndarray]:
    """People and jobs reachable within the threshold per building (zone = nearest zone)."""
    points = buildings.geometry.representative_point()
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    zone = cKDTree(zone_xy).query(xy)[1] if len(zone_xy) else np.full(len(xy), -1)
    residents = buildings["residents"].fillna(0.0).to_numpy(dtype=float)
    workers = buildings["workers"].fillna(0.0).to_numpy(dtype=float)
    z = len(zone_xy)
    people_zone = np.bincount(zone, residents, z) if z else np.zeros(0)
    jobs_zone = np.bincount(zone, workers, z) if z else np.zeros(0)
    people, jobs = accessibility(
        door_to_door_s(result.transit), zone, people_zone, jobs_zone,
        params.access_threshold_min * 60.0,
    )  # fmt: skip
    rows = [
        BuildingResult(
            run=run,
            building_id=b.building_id if not b.added else None,
            added=bool(b.added),
            geom=multipolygon(b.geometry_wgs84),
            height_m=float(b.height_m),
            residents=finite(residents[k]),
            transit_people_reachable=float(people[k]),
            transit_jobs_reachable=float(jobs[k]),
        )
        for k, b in enumerate(buildings.itertuples())
    ]
    BuildingResult.objects.bulk_create(rows, batch_size=5000)
    return people, jobs


def _lines_meta(city, supply, result) -> dict:
    """Lines with their stops (lon/lat), boardings, alightings and segment loads."""
    t = result.transit
    boardings, alightings = t.boardings, t.alightings
    stop_index = {s.stop_id: k for k, s in enumerate(supply.stops)}
    xy = np.array([[s.x_m, s.y_m] for s in supply.stops], dtype=float).reshape(-1, 2)
    lonlat = _local_xy_to_lonlat(city, xy) if len(xy) else np.zeros((0, 2))
    lines = []
    for line, loads, on in zip(supply.lines, t.line_loads(), t.line_boardings(), strict=True):
        k = [stop_index[s] for s in line.stop_ids]
        lines.append(
            {
                "line_id": line.line_id, "name": line.name, "mode": line.mode,
                "headway_s": line.headway_s, "capacity_per_h": line.capacity_per_h,
                "boardings": float(on),
                "coordinates": lonlat[k].round(6).tolist(),
                "stop_ids": list(line.stop_ids),
                "segment_load_per_h": [float(v) for v in loads],
                "segment_load_ratio": [float(v / line.capacity_per_h) for v in loads],
            }
        )  # fmt: skip
    stops = [
        {"stop_id": s.stop_id, "name": s.name, "lon": float(lonlat[i, 0]),
         "lat": float(lonlat[i, 1]), "boardings": float(boardings[i]),
         "alightings": float(alightings[i])}
        for i, s in enumerate(supply.stops)
    ]  # fmt: skip
    history = {k: [float(x) for x in v] for k, v in result.modes.history.items()}
    return {"period": supply.period, "lines": lines, "stops": stops, "convergence": history}


def _kpis(result, supply, external, people, jobs) -> dict:
    modes, car = result.modes, result.modes.car
    shares = modes.shares()
    trips = modes.person_trips.sum(axis=(1, 2))
    summary = result.transit.summary()
    loads = result.transit.line_loads()
    ratio = max(
        (float(v.max() / ln.capacity_per_h) for v, ln in zip(loads, supply.lines, strict=True)
         if len(v)), default=0.0,
    )  # fmt: skip
    residents_weight = people > 0
    car_summary = car.summary()
    return {
        "car_share": shares["car"],
        "transit_share": shares["transit"],
        "walk_share": shares["walk"],
        "person_trips": float(trips.sum()),
        "car_person_trips": float(trips[0]),
        "transit_trips": float(trips[1]),
        "walk_trips": float(trips[2]),
        "unserved_transit_trips": summary["unserved_trips"],
        "boardings": summary["boardings"],
        "boardings_per_trip": summary["boardings_per_trip"],
        "transit_passenger_hours": summary["in_vehicle_hours"] + summary["waiting_hours"]
        + summary["walking_hours"],
        "waiting_hours": summary["waiting_hours"],
        "max_load_ratio": ratio,
        "lines": len(supply.lines),
        "stops": len(supply.stops),
        "car_trips": float(car.demand.total),
        "vehicle_hours": car_summary["vehicle_hours_travelled"],
        "vehicle_km": car_summary["vehicle_km_travelled"],
        "delay_vehicle_hours": car_summary["vehicle_hours_delay"],
        "max_vc_ratio": float(np.max(car.volume_capacity_ratio, initial=0.0)),
        "rounds": modes.iterations,
        "share_gap": modes.history["share_gap"][-1] if modes.history["share_gap"] else 0.0,
        "relative_gap": float(car.relative_gap),
        "converged": bool(modes.converged),
        "mean_jobs_reachable": float(jobs[residents_weight].mean()) if residents_weight.any()
        else 0.0,
        "through_trips": external.info["through_veh_h"] if external is not None else 0.0,
    }  # fmt: skip


def _warnings(kpis: dict, supply) -> list[dict]:
    out = []
    if not supply.lines:
        out.append(warning("no_transit_lines", "the city has no transit lines in this period and "
                           "the scenario adds none: every trip is by car or on foot"))  # fmt: skip
    elif kpis["transit_trips"] <= 0:
        out.append(warning("no_transit_trips", f"{len(supply.lines)} lines carry 0 persons/h: "
                           "no zone is within walking distance of two stops of a line"))  # fmt: skip
    if kpis["max_load_ratio"] > 1.0:
        out.append(warning("overcrowded", f"a line segment carries {kpis['max_load_ratio']:.1f} x "
                           "its capacity (the assignment ignores crowding)"))  # fmt: skip
    if not kpis["converged"]:
        out.append(warning("not_converged", f"mode choice stopped after {kpis['rounds']} rounds "
                           f"with car shares still {kpis['share_gap']:.4f} apart"))  # fmt: skip
    return out


SPEC = register(
    Simulator(
        name="transit",
        label="Transit and mode choice",
        description="Public transport lines, the split between car, transit and walking, and "
        "its effect on car traffic",
        params_class=TransitRunParams,
        params={
            **same_names("start_h", "end_h", "day", "walk_speed_m_s", "wait_weight"),
            "boarding_penalty_min": ("boarding_penalty_s", 60.0, "min"),
            **same_names(
                "max_access_m",
                "value_of_time_eur_h",
                "fare_eur",
                "asc_transit",
                "max_iter",
                "share_tolerance",
                "averaging",
                "gap",
                "external_traffic",
                "access_threshold_min",
            ),
        },  # fmt: skip
        run=run_transit,
        kpis=(
            Kpi("car_share", "Share of trips by car", "1"),
            Kpi("transit_share", "Share of trips by transit", "1"),
            Kpi("walk_share", "Share of trips on foot", "1"),
            Kpi("person_trips", "Person trips per hour", "persons/h"),
            Kpi("car_person_trips", "Trips by car per hour", "persons/h"),
            Kpi("transit_trips", "Trips by transit per hour", "persons/h"),
            Kpi("walk_trips", "Trips on foot per hour", "persons/h"),
            Kpi("unserved_transit_trips", "Transit trips without a line", "persons/h"),
            Kpi("boardings", "Boardings per hour", "boardings/h"),
            Kpi("boardings_per_trip", "Boardings per transit trip", "1"),
            Kpi("transit_passenger_hours", "Transit passenger hours per hour", "h/h"),
            Kpi("waiting_hours", "Hours waiting at stops per hour", "h/h"),
            Kpi("max_load_ratio", "Highest segment load / capacity", "1"),
            Kpi("lines", "Transit lines (directions)", "1"),
            Kpi("stops", "Transit stops", "1"),
            Kpi("car_trips", "Car trips on the roads", "veh/h"),
            Kpi("vehicle_hours", "Vehicle hours travelled", "h"),
            Kpi("vehicle_km", "Vehicle kilometres travelled", "km"),
            Kpi("delay_vehicle_hours", "Vehicle hours of delay", "h"),
            Kpi("max_vc_ratio", "Highest volume/capacity ratio", "1"),
            Kpi("rounds", "Mode choice rounds", "1"),
            Kpi("share_gap", "Largest car share difference at the end", "1"),
            Kpi("relative_gap", "Relative gap of the car assignment", "1"),
            Kpi("converged", "Converged", "1"),
            Kpi(
                "mean_jobs_reachable", "Jobs within the threshold by transit (mean home)", "jobs"
            ),  # fmt: skip
            Kpi("through_trips", "Car trips crossing the area", "veh/h"),
        ),
        results=("edges", "buildings"),
        engine_packages=("transit", "traffic", "common"),
        report_map=("edges", "volume_veh_h", "Car volume after the mode choice", "veh/h"),
    )
)
