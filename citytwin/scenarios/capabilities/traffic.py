"""Traffic: peak-hour user equilibrium of the trips from the scenario's buildings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from simulators.traffic import Demand, Network, assign, warm
from simulators.traffic.bush import MAX_BUSH_ENTRIES
from simulators.traffic.demand import (
    DemandParameters,
    ExternalParameters,
    combine,
    demand_from_buildings,
    external_demand,
    hour_factor,
)
from simulators.traffic.osm import network_from_graph
from simulators.traffic.params import TrafficParams
from simulators.traffic.scenarios import close_links, scale_demand

from .. import inputs
from ..models import EdgeResult, Run
from ..warnings import traffic_warnings, warning
from . import Kpi, ParamsRejected, Progress, Simulator, SweepMetric, register, reuse, same_names
from .reuse import WorkerCache
from .storage import edge_result, finite


@dataclass
class TrafficModel:
    """The engine inputs of a traffic run: graph, network, links and the model's demand."""

    base_graph: object
    graph: object
    network: Network
    edge_keys: list
    closed: list
    demand: Demand
    external: Demand | None


#: per worker process (:mod:`.reuse`), for sweep variants and their base: the city's road
#: graph as imported, and the model's demand (zones, trips from the buildings, external
#: zones, hour) under the checksum of what it is made from; ``builds`` counts the builds
BASE_GRAPHS = WorkerCache("traffic base road graph")
MODEL_DEMAND = WorkerCache("traffic model demand", size=2)


def traffic_model(
    city,
    edits,
    time_of_day_h: float | None,
    external_traffic: bool,
    peak_hour_factor: float,
    progress: Progress,
    cached: bool = False,
) -> TrafficModel:
    """Roads with the edits and the model's peak-hour demand (buildings + external zones).

    Road edits do not change the trip matrix (fixed demand, the usual assumption when a
    scenario is compared with its baseline): the gravity model's travel times are the base
    network's free-flow times. Building edits and demand changes do change it. With
    ``cached`` (sweeps), the base graph and the demand come from this worker's caches when
    it built them for the same inputs already: the demand is keyed by the city's data, the
    building edits and the demand parameters, which are all it depends on.
    """
    progress(0.01, "reading the road network")
    if cached:
        base_graph = BASE_GRAPHS.get(reuse.inputs_key(city), lambda: inputs.base_road_graph(city))
    else:
        base_graph = inputs.base_road_graph(city)
    G = inputs.apply_road_edits(base_graph.copy(), city, edits) if edits else base_graph
    network, edge_keys = network_from_graph(G)
    closed = [i for i, key in enumerate(edge_keys) if G.edges[key]["closed"]]
    if closed:
        network = close_links(network, closed)

    def build() -> tuple[Demand, Demand | None]:
        return model_demand(
            base_graph, city, edits, time_of_day_h, external_traffic, peak_hour_factor, progress
        )

    if cached:
        key = reuse.inputs_key(
            city,
            building_edits=[
                [i, e] for i, e in enumerate(edits) if inputs.touches([e], "apply_to_buildings")
            ],
            demand=[time_of_day_h, external_traffic, peak_hour_factor],
        )
        demand, external = MODEL_DEMAND.get(key, build)
    else:
        demand, external = build()
    return TrafficModel(base_graph, G, network, edge_keys, closed, demand, external)


def model_demand(
    base_graph,
    city,
    edits,
    time_of_day_h: float | None,
    external_traffic: bool,
    peak_hour_factor: float,
    progress: Progress,
) -> tuple[Demand, Demand | None]:
    """The model's demand at the hour (veh/h) from the scenario's buildings, with the external
    zones' trips when asked, and those external trips alone (or None)."""
    buildings = inputs.buildings_frame(city, edits)
    progress(0.05, "trip generation and distribution")
    demand = demand_from_buildings(
        base_graph,
        buildings,
        DemandParameters(peak_hour_factor=peak_hour_factor),
        progress=lambda f, s: progress(0.05 + 0.15 * f, f"demand: {s}"),
    )
    external = None
    if external_traffic:
        # trips entering, leaving and crossing the area where its roads are cut
        external = external_demand(
            base_graph, demand, ExternalParameters(hour=time_of_day_h)
        )  # fmt: skip
    # another hour than the design hour: the weekday profile of trips by hour
    demand = scale_demand(demand, hour_factor(time_of_day_h))
    if external is not None:
        demand = combine(demand, external)
    return demand, external


def apply_demand_edits(model: TrafficModel, city, edits) -> Demand:
    """The model's demand scaled by the scenario's demand edits (city-wide or in an area)."""
    G, network, demand = model.graph, model.network, model.demand
    node_xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in network.node_ids])
    zone_nodes = np.unique(np.concatenate([demand.origin, demand.destination]))
    for factor, polygon in inputs.demand_zone_polygons(city, edits):
        if polygon is None:
            demand = scale_demand(demand, factor)
        else:
            inside = shapely.contains_xy(polygon, *node_xy[zone_nodes].T)
            demand = scale_demand(demand, factor, zones=zone_nodes[inside])
    return demand


def run_traffic(run: Run, progress: Progress) -> dict:
    """Static user equilibrium on the scenario's roads with demand from its buildings, or
    (``demand: "calibrated"``) the city's newest demand calibrated to its counters."""
    return _run_traffic(run, progress, store=True)


#: per worker process, the equilibrium of the sweep base last seen, its bushes kept: a variant
#: that only closes links or changes their capacity or speed re-assigns from it
#: (:func:`simulators.traffic.warm.reassign`, several times faster than from scratch). One
#: base at a time: a worker takes chunks of one sweep after another.
_WARM_BASE: dict[tuple, object] = {}


def run_traffic_variant(run: Run, base_run: Run | None, progress: Progress) -> dict:
    """A sweep variant: the same run, its KPIs only (no per-link rows), warm-started from the
    base's equilibrium when the variant keeps the base's links and demand."""
    return _run_traffic(run, progress, store=False, warm_from=base_run)


def _base_equilibrium(base_run: Run, params: TrafficParams, progress: Progress):
    """The base run's bush equilibrium, computed once per worker process (or None when the
    base cannot be warm-started from: that answer is kept too, so no variant rebuilds the
    base's model to learn it again)."""
    key = (base_run.pk, params.gap, int(params.max_iter))
    if key not in _WARM_BASE:
        _WARM_BASE.clear()
        _WARM_BASE[key] = _bush_equilibrium(base_run, params, progress)
    return _WARM_BASE[key]


def _bush_equilibrium(base_run: Run, params: TrafficParams, progress: Progress):
    base_params: TrafficParams = SPEC.engine_params(base_run.params)
    if base_params.demand == "calibrated":
        return None
    model, demand, _ = scenario_demand(base_run, base_params, progress, cached=True)
    algorithm, _ = solver_for(base_params.algorithm, model.network.n_links, demand)
    if algorithm != "bush":
        return None
    return assign(
        model.network, demand, algorithm="bush", gap=params.gap,
        max_iter=int(params.max_iter), keep_bushes=True,
        progress=lambda f, s: progress(0.1 * f, f"base equilibrium: {s}"),
    )  # fmt: skip


def scenario_demand(
    run: Run, params: TrafficParams, progress: Progress, cached: bool = False
) -> tuple[TrafficModel, Demand, float]:
    """The run's model, the demand to assign (the model's or, with ``demand: "calibrated"``,
    the calibrated one; scaled by the demand edits) and the calibrated trips dropped
    (veh/h) because their roads are gone."""
    city, edits = run.scenario.city, run.edits
    model = traffic_model(
        city, edits, params.time_of_day_h, params.external_traffic, params.peak_hour_factor,
        progress, cached=cached,
    )  # fmt: skip
    dropped = 0.0
    if params.demand == "calibrated":
        model.demand, dropped = _calibrated_demand(run, model.network, params)
        model.external = None  # the calibrated matrix holds the gateway trips already
    return model, apply_demand_edits(model, city, edits), dropped


def _same_demand(a: Demand, b: Demand) -> bool:
    return (
        np.array_equal(a.origin, b.origin)
        and np.array_equal(a.destination, b.destination)
        and np.allclose(a.flow, b.flow, rtol=1e-12, atol=0.0)
    )


def _run_traffic(run: Run, progress: Progress, store: bool, warm_from: Run | None = None) -> dict:
    params: TrafficParams = SPEC.engine_params(run.params)
    model, demand, dropped = scenario_demand(run, params, progress, cached=warm_from is not None)
    G, network, edge_keys, closed, external = (
        model.graph, model.network, model.edge_keys, model.closed, model.external
    )  # fmt: skip
    algorithm, fallback = solver_for(params.algorithm, network.n_links, demand)
    base = None
    if warm_from is not None and algorithm == "bush" and params.demand != "calibrated":
        base = _base_equilibrium(warm_from, params, progress)
        if base is not None and not (
            warm.same_graph(base.network, network) and _same_demand(base.demand, demand)
        ):
            base = None  # an added road or a demand change: from scratch
    if base is not None:
        result = warm.reassign(
            base, network, gap=params.gap, max_iter=int(params.max_iter),
            progress=lambda f, s: progress(0.2 + 0.7 * f, f"assignment (warm start): {s}"),
        )  # fmt: skip
    else:
        result = assign(
            network,
            demand,
            algorithm=algorithm,
            gap=params.gap,
            max_iter=int(params.max_iter),
            progress=lambda f, s: progress(0.2 + 0.7 * f, f"assignment: {s}"),
        )
    if store:
        progress(0.92, "storing the edge results")
        _store_edges(run, G, edge_keys, result)
    summary = result.summary()
    kpis = {
        "vehicle_hours": summary["vehicle_hours_travelled"],
        "vehicle_km": summary["vehicle_km_travelled"],
        "delay_vehicle_hours": summary["vehicle_hours_delay"],
        "relative_gap": summary["relative_gap"],
        "iterations": summary["iterations"],
        "converged": summary["converged"],
        "trips": summary["total_demand"],
        "unassignable_trips": summary["unassigned_demand"],
        "unassignable_pairs": summary["unassignable_pairs"],
        "closed_links": len(closed),
        "max_vc_ratio": float(np.max(result.volume_capacity_ratio, initial=0.0)),
        "max_volume_veh_h": float(np.max(result.volume, initial=0.0)),
        "gateways": len(external.info["gateways"]["index"]) if external is not None else 0,
        "through_trips": external.info["through_veh_h"] if external is not None else 0.0,
        "inbound_trips": external.info["inbound_veh_h"] if external is not None else 0.0,
        "outbound_trips": external.info["outbound_veh_h"] if external is not None else 0.0,
        "calibrated_trips_dropped": dropped,
    }
    run.warnings = traffic_warnings(kpis) + fallback
    if warm_from is not None:
        kpis["warm_started"] = base is not None  # a variant's own record (not a run KPI)
    return kpis


#: a peak-hour trip left without a route by a variant counts as this many vehicle-hours in the
#: sweep metric: a closure that cuts the network in two must rank above any detour, although
#: the trips it strands drop out of the assignment's vehicle-hours (Scott et al. 2006 leave
#: disconnection undefined; an hour is longer than any trip of a city's peak hour)
UNROUTED_TRIP_H = 1.0


def vehicle_hours_with_unrouted(kpis: dict) -> float:
    """Vehicle-hours travelled plus :data:`UNROUTED_TRIP_H` per trip without a route (h)."""
    return float(kpis["vehicle_hours"]) + UNROUTED_TRIP_H * float(kpis["unassignable_trips"])


def solver_for(algorithm: str, n_links: int, demand) -> tuple[str, list[dict]]:
    """The solver to run and a warning when the bush solver's storage (one float per origin
    and link) would pass its cap: then biconjugate Frank-Wolfe, which needs none, runs."""
    origins = len(np.unique(demand.origin))
    if algorithm != "bush" or origins * n_links <= MAX_BUSH_ENTRIES:
        return algorithm, []
    message = (
        f"{origins} zones x {n_links} road links is too large for the bush solver's memory "
        f"(over {MAX_BUSH_ENTRIES:,} origin-link pairs): solved with biconjugate Frank-Wolfe"
    )
    return "bfw", [warning("solver_fallback", message)]


def _calibrated_demand(run: Run, network, params: TrafficParams) -> tuple[Demand, float]:
    """The calibrated demand pinned at start (``calibrated_demand`` in the run's parameters):
    hourly volumes at its hour, rescaled to the run's hour by the weekday profile of trips and
    divided by the peak hour factor like the model's demand."""
    from sensors.analysis.calibrated import as_engine_demand
    from sensors.analysis.models import CalibratedDemand

    stored = CalibratedDemand.objects.get(pk=run.params["calibrated_demand"])
    demand, dropped = as_engine_demand(stored, network)
    run_hour = hour_factor(params.time_of_day_h)
    factor = run_hour / hour_factor(stored.hour_local) / params.peak_hour_factor
    return scale_demand(demand, factor), dropped * factor


def _pin_calibrated_demand(city, params: dict) -> None:
    """Pre-flight: a "calibrated" run names the demand it uses (so a newer calibration is a
    new input, never a reused result); 400 when the city has none yet."""
    if params.get("demand") != "calibrated":
        return
    from sensors.analysis.calibrated import latest

    stored = latest(city)
    if stored is None:
        raise ParamsRejected(
            "demand", "this city has no calibrated demand yet: run a calibration first"
        )
    params["calibrated_demand"] = stored.pk


def _store_edges(run: Run, G, edge_keys, result) -> None:
    """One EdgeResult per link (times converted from the network's unit to seconds)."""
    net = result.network
    seconds_per_time_unit = net.time_unit_h * 3600.0
    rows = []
    for i, (u, v, k) in enumerate(edge_keys):
        rows.append(
            edge_result(
                run,
                G.edges[u, v, k],
                closed=not bool(net.open[i]),
                volume_veh_h=float(result.volume[i]),
                capacity_veh_h=float(net.capacity[i]),
                vc_ratio=float(result.volume_capacity_ratio[i]),
                speed_kph=finite(result.speed_kph[i]),
                congested_time_s=float(result.travel_time[i]) * seconds_per_time_unit,
                delay_s=float(result.delay[i]) * seconds_per_time_unit,
            )
        )
    EdgeResult.objects.bulk_create(rows, batch_size=5000)


SPEC = register(
    Simulator(
        name="traffic",
        label="Traffic",
        description="Peak-hour car traffic: user-equilibrium assignment of trips from the "
        "buildings",
        params_class=TrafficParams,
        params=same_names(
            "algorithm",
            "gap",
            "max_iter",
            "peak_hour_factor",
            "external_traffic",
            "time_of_day_h",
            "demand",
        ),  # fmt: skip
        run=run_traffic,
        run_variant=run_traffic_variant,
        preflight=_pin_calibrated_demand,
        kpis=(
            Kpi("vehicle_hours", "Vehicle hours travelled", "h"),
            Kpi("vehicle_km", "Vehicle kilometres travelled", "km"),
            Kpi("delay_vehicle_hours", "Vehicle hours of delay", "h"),
            Kpi("relative_gap", "Relative gap reached", "1"),
            Kpi("iterations", "Iterations", "1"),
            Kpi("converged", "Converged", "1"),
            Kpi("trips", "Car trips in the peak hour", "veh/h"),
            Kpi("unassignable_trips", "Trips without a route", "veh/h"),
            Kpi("unassignable_pairs", "Origin-destination pairs without a route", "1"),
            Kpi("closed_links", "Closed road links", "1"),
            Kpi("max_vc_ratio", "Highest volume/capacity ratio", "1"),
            Kpi("max_volume_veh_h", "Highest link volume", "veh/h"),
            Kpi("gateways", "Roads leaving the area (external zones)", "1"),
            Kpi("through_trips", "Trips crossing the area", "veh/h"),
            Kpi("inbound_trips", "Trips entering the area", "veh/h"),
            Kpi("outbound_trips", "Trips leaving the area", "veh/h"),
            Kpi("calibrated_trips_dropped", "Calibrated trips whose roads are gone", "veh/h"),
        ),
        results=("edges",),
        engine_packages=("traffic", "common"),
        report_map=("edges", "vc_ratio", "Volume/capacity", "1"),
        # the network robustness index of a variant is this metric's change from the base
        sweep_metric=SweepMetric(
            "vehicle_hours",
            "Vehicle-hours travelled (a trip without a route counts 1 h)",
            "h",
            vehicle_hours_with_unrouted,
        ),
    )
)
