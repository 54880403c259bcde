"""Evacuation: the scenario's hazard zones emptied over its roads (closed roads closed)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from simulators.evacuation import EvacuationParams, run_evacuation
from simulators.evacuation.reachability import REASONS as STRANDED_REASONS

from .. import inputs
from ..models import BuildingResult, EdgeResult, Run, RunSeries
from ..warnings import evacuation_warnings
from . import Kpi, Progress, Simulator, kpi_metric, register, reuse, same_names
from .reuse import WorkerCache
from .storage import edge_result, finite, multipolygon

#: step of the recorded per-link occupancy and of the series (s)
SAMPLE_INTERVAL_S = 60.0


@dataclass
class EvacuationInputs:
    """The engine inputs of an evacuation run, in the city's local CRS: the road graph (closed
    roads kept, ``closed=True``), the buildings, the shelters and the hazard zones."""

    graph: nx.MultiDiGraph
    buildings: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    hazards: list


def evacuation_inputs(city, edits: list[dict]) -> EvacuationInputs:
    """The inputs of a run on the city with ``edits``, built from the base tables."""
    return EvacuationInputs(
        inputs.road_graph(city, edits),
        inputs.buildings_frame(city, edits),
        inputs.shelters_frame(city, edits),
        inputs.hazards(city, edits),
    )


@dataclass
class _BaseInputs:
    """A sweep base's inputs, with the stages a variant's own edits apply to."""

    inputs: EvacuationInputs
    building_rows: object  # pd.DataFrame, base edits applied (inputs.base_building_rows' form)
    shelter_rows: list[dict]


#: per worker process, the inputs of the sweep bases last seen, by the checksum of the city's
#: data and the base's edits (:mod:`.reuse`); ``builds`` counts how often they were built
BASE_INPUTS = WorkerCache("evacuation base inputs", size=2)


def _base_inputs(city, edits: list[dict]) -> _BaseInputs:
    epsg = int(city.local_epsg)
    rows = inputs.apply_building_edits(inputs.base_building_rows(city), city, edits)
    shelter_rows = inputs.base_shelter_rows(city) + inputs.added_shelter_rows(city, edits)
    built = EvacuationInputs(
        inputs.road_graph(city, edits),
        inputs.as_buildings_frame(rows, epsg),
        inputs.as_shelters_frame(shelter_rows, epsg),
        inputs.hazards(city, edits),
    )
    return _BaseInputs(built, rows, shelter_rows)


def variant_inputs(city, base_edits: list[dict], own_edits: list[dict]) -> EvacuationInputs:
    """The inputs of a sweep variant: its base's, built once per worker process, with only
    the variant's own edits applied (an input they do not touch is the base's own object;
    the engine and the runner only read them). Equal to ``evacuation_inputs(city,
    base_edits + own_edits)``."""
    base = BASE_INPUTS.get(
        reuse.inputs_key(city, edits=base_edits), lambda: _base_inputs(city, base_edits)
    )
    start, epsg, out = len(base_edits), int(city.local_epsg), base.inputs
    graph, buildings, shelters = out.graph, out.buildings, out.shelters
    if inputs.touches(own_edits, "apply_to_roads"):
        graph = inputs.apply_road_edits(graph.copy(), city, own_edits, start)
    if inputs.touches(own_edits, "apply_to_buildings"):
        rows = inputs.apply_building_edits(base.building_rows, city, own_edits, start)
        buildings = inputs.as_buildings_frame(rows, epsg)
    added = inputs.added_shelter_rows(city, own_edits, start)
    if added:
        shelters = inputs.as_shelters_frame(base.shelter_rows + added, epsg)
    hazards = out.hazards + inputs.hazards(city, own_edits, start)
    return EvacuationInputs(graph, buildings, shelters, hazards)


def run_evacuation_job(run: Run, progress: Progress) -> dict:
    """Evacuate the scenario's hazard zones on its roads (closed roads closed for everyone).

    Evacuees with no route to safety are reported apart (KPIs ``stranded_*``, a
    ``stranded_evacuees`` warning and the ``stranded`` GeoJSON points in ``run.meta``).
    """
    progress(0.01, "reading the roads, buildings and shelters")
    return _evacuate(run, evacuation_inputs(run.scenario.city, run.edits), progress, store=True)


def run_evacuation_variant(run: Run, base_run: Run | None, progress: Progress) -> dict:
    """A sweep variant: the same run on its base's inputs (built once per worker) plus its own
    edits, its KPIs only (no per-building, per-link or series rows)."""
    city = run.scenario.city
    base_edits = base_run.edits if base_run is not None else None
    if base_edits is not None and run.edits[: len(base_edits)] == base_edits:
        data = variant_inputs(city, base_edits, run.edits[len(base_edits) :])
    else:  # not a variant of this base: everything afresh
        data = evacuation_inputs(city, run.edits)
    return _evacuate(run, data, progress, store=False)


def _evacuate(run: Run, data: EvacuationInputs, progress: Progress, store: bool) -> dict:
    city, edits = run.scenario.city, run.edits
    G, buildings, shelters, zones = data.graph, data.buildings, data.shelters, data.hazards
    params = engine_params(run.params, edits)
    result = run_evacuation(
        G,
        buildings[["id", "residents", "workers", "floor_area_m2", "use", "geometry"]].copy(),
        zones,
        shelters=shelters if len(shelters) else None,
        params=params,
        progress=lambda f, s: progress(0.05 + 0.85 * f, s),
    )
    if store:
        progress(0.92, "storing the results")
        _store_buildings(run, buildings, result)
        _store_edges(run, G, result)
        _store_series(run, result, shelters)
        run.meta = {
            "series_step_s": params.sample_interval_s,
            "samples": int(result.car_occupancy_veh.shape[0]),
            "shelters": _shelter_points(city, shelters),
            "stranded": _stranded_geojson(city, result.unroutable),
        }
    summary = result.summary()
    for key in ("seconds", "simulation_seconds", "lower_bound_seconds", "unroutable_reasons"):
        summary.pop(key, None)
    summary["bottlenecks"] = len(_car_queues(result))
    # flat numbers, so that two runs compare KPI by KPI
    summary["stranded_persons"] = summary.pop("unroutable_persons")
    summary["stranded_vehicles"] = summary.pop("unroutable_vehicles")
    reasons = result.unroutable_by_reason()
    for code in STRANDED_REASONS:
        summary[f"stranded_{code}_persons"] = reasons.get(code, {}).get("persons", 0.0)
    in_zone = int(
        np.any(
            [shapely.intersects(buildings.geometry.to_numpy(), h.geometry) for h in zones], axis=0
        ).sum()
    ) if zones and len(buildings) else 0  # fmt: skip
    # nobody to evacuate (credible inputs), people with no route and a reached cap (engine)
    run.warnings = evacuation_warnings(summary, run.params, in_zone) + _warnings(result)
    return summary


def _stranded_geojson(city, unroutable: pd.DataFrame) -> dict:
    """Points (lon/lat) of the buildings whose evacuees have no route, one per building and mode."""
    to_local = inputs.to_local(city)
    features = []
    for row in unroutable.itertuples():
        lon, lat = to_local.transform(row.x, row.y, direction="INVERSE")
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "building": row.building if isinstance(row.building, str) else int(row.building),
                "mode": row.mode, "agents": int(row.agents), "persons": float(row.persons),
                "reason": row.reason, "reason_text": row.reason_text,
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _warnings(result) -> list[dict]:
    """Run warnings (``{"code", "message"}``, see CONTRACT): stranded evacuees, horizon cap."""
    warnings = []
    if result.unroutable_persons > 0:
        reasons = result.unroutable_by_reason()
        parts = "; ".join(
            f"{r['persons']:.0f} persons in {r['buildings']} "
            f"building{'' if r['buildings'] == 1 else 's'}: {r['text']}"
            for r in sorted(reasons.values(), key=lambda r: -r["persons"])
        )
        vehicles = sum(r["vehicles"] for r in reasons.values())
        walkers = sum(r["walkers"] for r in reasons.values())
        warnings.append({
            "code": "stranded_evacuees",
            "message": f"{result.unroutable_persons:.0f} evacuees ({vehicles} vehicles, "
            f"{walkers} walkers) have no route to safety or to an open shelter and are left "
            f"out of T100 and the lower bound ({parts})",
        })  # fmt: skip
    if result.horizon_capped:
        warnings.append({"code": "horizon_capped", "message": result.t100_reason})
    return warnings


def engine_params(run_params: dict, edits: list[dict]) -> EvacuationParams:
    """The engine's parameters: the run's, overridden by the scenario's departure profile."""
    extra = {"record_occupancy": True, "sample_interval_s": SAMPLE_INTERVAL_S}
    if run_params["reroute_min"] == 0:  # 0 = never re-route
        extra["reroute_interval_s"] = None
    # a departure-profile edit of the scenario wins over the run's mobilisation parameter
    extra.update(inputs.departure_params(edits))
    return SPEC.engine_params(run_params, **extra)


def _store_buildings(run: Run, buildings, result) -> None:
    """Evacuees and evacuation time of every building that had people to move."""
    per_building = result.buildings.set_index("id")
    rows = []
    for b in buildings.itertuples():
        if b.id not in per_building.index:
            continue
        info = per_building.loc[b.id]
        rows.append(
            BuildingResult(
                run=run,
                building_id=b.building_id if not b.added else None,
                added=bool(b.added),
                geom=multipolygon(b.geometry_wgs84),
                height_m=float(b.height_m),
                residents=float(b.residents),
                evacuees=float(info["persons"]),
                evacuation_time_s=finite(info["evacuation_time_s"]),
            )
        )
    BuildingResult.objects.bulk_create(rows, batch_size=5000)


def _car_queues(result) -> dict:
    """The bottlenecks (car links with a queue) by link key."""
    if not len(result.bottlenecks):
        return {}
    return {(q.u, q.v, q.key): q for q in result.bottlenecks.itertuples() if q.mode == "car"}


def _store_edges(run: Run, G, result) -> None:
    """Every road edge that held a car at some sample (for the replay) or had a queue."""
    queues = _car_queues(result)
    occupancy = result.car_occupancy_veh
    used = set(np.flatnonzero(occupancy.any(axis=0))) if occupancy.size else set()
    edges = []
    for column, key in enumerate(result.car_link_keys):
        if column not in used and key not in queues:
            continue
        data = G.edges[key]
        queue = queues.get(key)
        edges.append(
            edge_result(
                run,
                data,
                capacity_veh_h=float(data["capacity"]),
                max_queue_veh=float(queue.max_queue_veh) if queue else 0.0,
                queue_duration_s=float(queue.queue_duration_s) if queue else 0.0,
                occupancy_veh=occupancy[:, column].tolist() if occupancy.size else None,
            )
        )
    EdgeResult.objects.bulk_create(edges, batch_size=5000)


def _store_series(run: Run, result, shelters) -> None:
    """Evacuated share over time (all and per zone) and each shelter's load."""
    curve = result.curve
    series = [
        RunSeries(
            run=run,
            name="evacuated_share"
            if column == "share_out"
            else column.replace("share_out_", "zone:"),
            unit="share",
            t_s=curve["time_s"].astype(float).tolist(),
            values=curve[column].astype(float).tolist(),
        )
        for column in curve.columns
        if column.startswith("share_out")
    ]
    for name, load in result.shelter_loads.groupby("shelter"):
        label = shelters.set_index("id")["name"].get(name, str(name)) if len(shelters) else name
        series.append(
            RunSeries(
                run=run,
                name=f"shelter:{label}",
                unit="persons",
                t_s=load["time_s"].astype(float).tolist(),
                values=load["load"].astype(float).tolist(),
                capacity=float(load["capacity"].iloc[0]),
            )
        )
    RunSeries.objects.bulk_create(series)


def _shelter_points(city, shelters) -> list[dict]:
    """Shelters with their places, for the map (their loads are the shelter:<name> series)."""
    to_local = inputs.to_local(city)
    return [
        dict(zip(("lon", "lat"), to_local.transform(p.x, p.y, direction="INVERSE"), strict=True))
        | {"name": name, "capacity": float(capacity)}
        for p, name, capacity in zip(
            shelters.geometry, shelters["name"], shelters["capacity"], strict=True
        )
    ]


SPEC = register(
    Simulator(
        name="evacuation",
        label="Evacuation",
        description="Evacuation of the scenario's hazard zones by car and on foot, with queues "
        "on the roads and shelter loads",
        params_class=EvacuationParams,
        params={
            "share_walking": ("walk_share", 1.0, None),
            **same_names("vehicles_per_household", "mobilisation_scale_min"),
            "horizon_min": ("horizon_s", 60.0, "min"),
            "max_horizon_min": ("max_horizon_s", 60.0, "min"),
            "lower_bound": ("compute_lower_bound", 1.0, None),
            "reroute_min": ("reroute_interval_s", 60.0, "min"),
            "time_step_s": ("dt_s", 1.0, None),
            **same_names("time_of_day_h", "background_share", "shadow_share"),
        },
        run=run_evacuation_job,
        run_variant=run_evacuation_variant,
        kpis=(
            Kpi("t50_s", "Half evacuated after", "s"),
            Kpi("t90_s", "90% evacuated after", "s"),
            Kpi("t100_s", "All evacuated after", "s"),
            Kpi("lower_bound_s", "Fastest possible (all)", "s"),
            Kpi("lower_bound_t90_s", "Fastest possible (90%)", "s"),
            Kpi("efficiency_ratio", "Fastest possible / simulated", "1"),
            Kpi("evacuees", "Evacuees", "persons"),
            Kpi("vehicles", "Vehicles", "veh"),
            Kpi("walkers", "Walkers", "persons"),
            Kpi("not_arrived", "Not arrived by the horizon cap", "persons"),
            Kpi("stranded_persons", "Evacuees with no route to safety", "persons"),
            Kpi("stranded_vehicles", "Vehicles with no route to safety", "veh"),
            *(
                Kpi(f"stranded_{code}_persons", f"No route: {text}", "persons")
                for code, text in STRANDED_REASONS.items()
            ),
            Kpi("horizon_s", "Simulated horizon", "s"),
            Kpi("bottlenecks", "Roads with a queue", "1"),
        ),
        results=("edges", "buildings", "series"),
        engine_packages=("evacuation", "dynamics", "common"),
        report_map=("edges", "max_queue_veh", "Longest queue", "veh"),
        requires_edits=("hazard_zone",),
        sweep_metric=kpi_metric("t90_s", "90% evacuated after", "s"),
    )
)
