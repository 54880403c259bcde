"""Run one simulator on a scenario and store its results (called by the Celery task).

Each runner builds the engine inputs from the twin plus the edits (:mod:`.inputs`), calls the
pure engine with a progress callback, and writes per-edge / per-building rows, rasters (COG),
time series and KPIs tied to the run. The caller wraps it in one transaction, so a failed or
cancelled run leaves no partial rows (raster files are removed by the caller).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
import shapely.geometry
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection
from rasterio.shutil import copy as rio_copy

from simulators.evacuation import EvacuationParams, run_evacuation
from simulators.solar import building_labels, dsm_from_buildings, roof_pv, shadow_mask, sun_series
from simulators.solar.dsm import cell_size, halo_for, write_raster
from simulators.traffic import assign
from simulators.traffic.demand import DemandParameters, demand_from_buildings
from simulators.traffic.osm import network_from_graph
from simulators.traffic.scenarios import close_links, scale_demand

from . import inputs
from .models import BuildingResult, EdgeResult, Run, RunRaster, RunSeries

Progress = Callable[[float, str], None]

SIMULATORS = ("traffic", "solar", "evacuation")
_PACKAGES = {
    "traffic": ("traffic", "common"),
    "solar": ("solar", "common"),
    "evacuation": ("evacuation", "dynamics", "common"),
}
#: largest solar raster (cells) a run accepts; beyond it, choose a bbox or a coarser cell
MAX_SOLAR_CELLS = 25_000_000


class ParamsRejected(Exception):
    """A run parameter is invalid (400 naming ``params.<field>``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"params.{field}: {message}")
        self.field, self.message = field, message

    def api_error(self) -> tuple[dict, int]:
        where = f"params.{self.field}" if self.field else "simulator"
        return {"error": f"{where}: {self.message}", "field": where}, 400


@functools.cache
def engine_version(simulator: str) -> str:
    """Version of an engine: the package version plus a digest of its source files.

    A change to the engine's code changes the version, so an earlier result is not reused.
    Computed once per process (every process serving the code restarts when it changes).
    """
    root = Path(__file__).resolve().parents[2] / "simulators"
    digest = hashlib.sha256()
    for package in _PACKAGES[simulator]:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return f"0.1.0+{digest.hexdigest()[:12]}"


# -- parameters -----------------------------------------------------------------------------

_DEFAULTS: dict[str, dict] = {
    "traffic": {"algorithm": "bfw", "gap": 1e-4, "max_iter": 500, "peak_hour_factor": 0.92},
    "solar": {"date": None, "step_min": 30, "cell_m": 2.0, "pv": False, "bbox": None},
    "evacuation": {
        "share_walking": 0.0,
        "vehicles_per_household": 1.0,
        "mobilisation_scale_min": 15.0,
        "horizon_min": 240,
        "reroute_min": 5,
        "time_step_s": 5.0,
        "time_of_day_h": None,
        "background_share": 0.0,
        "shadow_share": 0.0,
    },
}
_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "traffic": {"gap": (1e-10, 1.0), "max_iter": (1, 100_000), "peak_hour_factor": (0.25, 1.0)},
    "solar": {"step_min": (1, 180), "cell_m": (0.25, 50.0)},
    "evacuation": {
        "share_walking": (0.0, 1.0),
        "vehicles_per_household": (0.0, 10.0),
        "mobilisation_scale_min": (0.0, 24 * 60),
        "horizon_min": (1, 48 * 60),
        "reroute_min": (0, 24 * 60),
        "time_step_s": (0.5, 60.0),
        "background_share": (0.0, 0.95),
        "shadow_share": (0.0, 1.0),
    },
}


def clean_params(simulator: str, params: dict, edits: list[dict]) -> dict:
    """Parameters with defaults filled in, checked; raises :class:`ParamsRejected`."""
    if simulator not in SIMULATORS:
        raise ParamsRejected("", f"simulator must be one of {', '.join(SIMULATORS)}")
    if not isinstance(params, dict):
        raise ParamsRejected("", "params must be a JSON object")
    defaults = _DEFAULTS[simulator]
    unknown = set(params) - set(defaults)
    if unknown:
        raise ParamsRejected(sorted(unknown)[0], f"is not a parameter of {simulator}")
    out = {**defaults, **params}
    for field, (low, high) in _RANGES[simulator].items():
        value = out[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsRejected(field, f"must be a number, got {value!r}")
        if not (low <= value <= high) or not math.isfinite(value):
            raise ParamsRejected(field, f"must be between {low} and {high}, got {value!r}")
    if simulator == "traffic" and out["algorithm"] not in ("bfw", "cfw", "fw", "bush"):
        raise ParamsRejected("algorithm", "must be one of bfw, cfw, fw, bush")
    if simulator == "solar":
        if out["date"] is None:
            out["date"] = f"{date.today().year}-03-20"  # around the March equinox
        try:
            date.fromisoformat(out["date"])
        except (TypeError, ValueError):
            raise ParamsRejected("date", f"must be YYYY-MM-DD, got {out['date']!r}") from None
        if not isinstance(out["pv"], bool):
            raise ParamsRejected("pv", "must be true or false")
        bbox = out["bbox"]
        if bbox is not None and not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox)
            and bbox[0] < bbox[2]
            and bbox[1] < bbox[3]
        ):
            raise ParamsRejected("bbox", "must be [min_lon, min_lat, max_lon, max_lat]")
        if bbox is not None and (
            any(isinstance(v, bool) for v in bbox)
            or not (-180 <= bbox[0] <= 180 and -180 <= bbox[2] <= 180)
            or not (-90 <= bbox[1] <= 90 and -90 <= bbox[3] <= 90)
        ):
            raise ParamsRejected("bbox", "must be lon/lat degrees (EPSG:4326)")
    if simulator == "evacuation":
        hour = out["time_of_day_h"]
        if hour is not None and (
            isinstance(hour, bool) or not isinstance(hour, (int, float)) or not 0 <= hour <= 24
        ):
            raise ParamsRejected("time_of_day_h", f"must be null or 0..24, got {hour!r}")
    if simulator == "evacuation" and not any(e["type"] == "hazard_zone" for e in edits):
        raise ParamsRejected("", "an evacuation needs a hazard_zone edit in the scenario")
    return out


def input_checksum(run_like: dict) -> str:
    """SHA-256 of everything that determines a result (see :func:`services.start_run`)."""
    return hashlib.sha256(json.dumps(run_like, sort_keys=True, default=str).encode()).hexdigest()


# -- helpers --------------------------------------------------------------------------------


def _geos(wkb: bytes, srid: int = 4326) -> GEOSGeometry:
    return GEOSGeometry(memoryview(wkb), srid=srid)


def _multipolygon(geom: shapely.Geometry) -> MultiPolygon:
    g = _geos(shapely.to_wkb(geom))
    return MultiPolygon(g, srid=4326) if isinstance(g, Polygon) else g


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _edge_result(run: Run, data: dict, **values) -> EdgeResult:
    """A result row for a road-graph edge (``data``: its attributes from inputs.road_graph)."""
    return EdgeResult(
        run=run,
        edge_id=data["edge_id"],
        geom=_geos(data["geometry_wkb"]),
        highway=data["highway"],
        **values,
    )


def _run_dir(run: Run) -> Path:
    path = Path(settings.MEDIA_ROOT) / "runs" / str(run.pk)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_cog(run: Run, name: str, array: np.ndarray, transform, crs, nodata=None) -> str:
    """Write a raster result as a Cloud-Optimized GeoTIFF; returns its MEDIA_ROOT path."""
    folder = _run_dir(run)
    tmp = folder / f".{name}.tif"
    write_raster(tmp, array, transform, crs, nodata=nodata)
    dest = folder / f"{name}.tif"
    rio_copy(str(tmp), str(dest), driver="COG", compress="DEFLATE", overview_resampling="average")
    tmp.unlink()
    return str(dest.relative_to(settings.MEDIA_ROOT))


# -- traffic --------------------------------------------------------------------------------


def run_traffic(run: Run, progress: Progress) -> dict:
    """Static user equilibrium on the scenario's roads with demand from its buildings.

    Road edits do not change the trip matrix (fixed demand, the usual assumption when a
    scenario is compared with its baseline): the gravity model's travel times are the base
    network's free-flow times. Building edits and demand changes do change it.
    """
    city, edits, p = run.scenario.city, run.edits, run.params
    progress(0.01, "reading the road network")
    base_graph = inputs.base_road_graph(city)
    G = inputs.apply_road_edits(base_graph.copy(), city, edits) if edits else base_graph
    buildings = inputs.buildings_frame(city, edits)
    network, edge_keys = network_from_graph(G)
    closed = [i for i, key in enumerate(edge_keys) if G.edges[key]["closed"]]
    if closed:
        network = close_links(network, closed)
    progress(0.05, "trip generation and distribution")
    demand = demand_from_buildings(
        base_graph,
        buildings,
        DemandParameters(peak_hour_factor=p["peak_hour_factor"]),
        progress=lambda f, s: progress(0.05 + 0.15 * f, f"demand: {s}"),
    )
    node_xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in network.node_ids])
    zone_nodes = np.unique(np.concatenate([demand.origin, demand.destination]))
    for factor, polygon in inputs.demand_zone_polygons(city, edits):
        if polygon is None:
            demand = scale_demand(demand, factor)
        else:
            inside = shapely.contains_xy(polygon, *node_xy[zone_nodes].T)
            demand = scale_demand(demand, factor, zones=zone_nodes[inside])
    result = assign(
        network,
        demand,
        algorithm=p["algorithm"],
        gap=p["gap"],
        max_iter=int(p["max_iter"]),
        progress=lambda f, s: progress(0.2 + 0.7 * f, f"assignment: {s}"),
    )
    progress(0.92, "storing the edge results")
    net = result.network
    minutes = 60.0
    rows = []
    for i, (u, v, k) in enumerate(edge_keys):
        data = G.edges[u, v, k]
        rows.append(
            _edge_result(
                run,
                data,
                closed=not bool(net.open[i]),
                volume_veh_h=float(result.volume[i]),
                capacity_veh_h=float(net.capacity[i]),
                vc_ratio=float(result.volume_capacity_ratio[i]),
                speed_kph=_finite(result.speed_kph[i]),
                congested_time_s=float(result.travel_time[i]) * minutes,
                delay_s=float(result.delay[i]) * minutes,
            )
        )
    EdgeResult.objects.bulk_create(rows, batch_size=5000)
    summary = result.summary()
    return {
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
    }


# -- solar ----------------------------------------------------------------------------------


def solar_grid(city, p: dict) -> tuple[tuple[float, float, float, float], float]:
    """Bounds (local CRS, m) and shadow halo (m) of a solar run's raster.

    They come from the base city only (its building extent, or the bbox parameter, and the
    halo of its tallest building), so that every scenario's rasters line up cell for cell
    with the baseline's and can be differenced. Raises ParamsRejected when the grid would
    exceed ``MAX_SOLAR_CELLS`` or the bbox misses the city, before anything is allocated.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT height_m, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
            "SELECT max(height_m) AS height_m, ST_Extent(ST_Transform(footprint, %s)) AS e "
            "FROM layers_building WHERE city_id = %s) AS b",
            [city.local_epsg, city.id],
        )
        max_height_m, *extent = cursor.fetchone()
    if extent[0] is None:
        raise ParamsRejected("", f"the city {city.name!r} has no buildings")
    if p["bbox"] is not None:
        box = shapely.box(*p["bbox"])
        bounds = inputs.local_geometry(city, shapely.geometry.mapping(box)).bounds
        if not shapely.box(*bounds).intersects(shapely.box(*extent)):
            raise ParamsRejected("bbox", f"does not overlap the city {city.name!r}")
    else:
        bounds = tuple(extent)
    halo_m = halo_for(max_height_m or 0.0)
    cell_m = float(p["cell_m"])
    cells = ((bounds[2] - bounds[0] + 2 * halo_m) / cell_m) * (
        (bounds[3] - bounds[1] + 2 * halo_m) / cell_m
    )
    if cells > MAX_SOLAR_CELLS:
        raise ParamsRejected(
            "cell_m",
            f"the raster would have {cells:,.0f} cells (max {MAX_SOLAR_CELLS:,}); "
            "choose a bbox or larger cells",
        )
    return bounds, halo_m


def run_solar(run: Run, progress: Progress) -> dict:
    """Shadow masks over one day, sun hours per cell and per roof, optional annual roof PV."""
    city, edits, p = run.scenario.city, run.edits, run.params
    progress(0.01, "reading the buildings")
    buildings = inputs.buildings_frame(city, edits)
    bounds, halo_m = solar_grid(city, p)
    cell_m = float(p["cell_m"])
    progress(0.03, "rasterizing the buildings")
    dsm, transform, crs = dsm_from_buildings(
        buildings, resolution_m=cell_m, bounds=bounds, halo_m=halo_m
    )
    day = date.fromisoformat(p["date"])
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    step = timedelta(minutes=float(p["step_min"]))
    times = pd.date_range(start, start + timedelta(days=1), freq=step, inclusive="left")
    centre = shapely.Point(*rasterio.transform.xy(transform, dsm.shape[0] // 2, dsm.shape[1] // 2))
    lon, lat = inputs.to_local(city).transform(centre.x, centre.y, direction="INVERSE")
    # each sample stands for its step; the sun is taken in the middle of the step
    sun = sun_series(times + step / 2, lat, lon)
    daylight = sun[sun["elevation_deg"] > 0.0]
    hours = np.zeros(dsm.shape, dtype=np.float32)
    step_h = step / timedelta(hours=1)
    cell = cell_size(transform)
    for n, (instant, row) in enumerate(daylight.iterrows()):
        mask = shadow_mask(dsm, cell, row["azimuth_deg"], row["elevation_deg"])
        hours += (1 - mask).astype(np.float32) * np.float32(step_h)
        name = f"shadow_{(instant - step / 2).strftime('%H%M')}"
        RunRaster.objects.create(
            run=run,
            name=name,
            time=(instant - step / 2).to_pydatetime(),
            file_path=_write_cog(run, name, mask.astype(np.uint8), transform, crs),
            unit="shadow (1) / sun (0)",
            min_value=0.0,
            max_value=1.0,
        )
        progress(0.05 + 0.6 * (n + 1) / max(len(daylight), 1), f"shadow at {name[-4:]} UTC")
    RunRaster.objects.create(
        run=run,
        name="sun_hours",
        file_path=_write_cog(run, "sun_hours", hours, transform, crs),
        unit="h",
        min_value=0.0,
        max_value=float(hours.max(initial=0.0)),
    )
    progress(0.7, "sun hours per roof")
    labels = building_labels(buildings, transform, dsm.shape)
    on_roof = labels >= 0
    counts = np.bincount(labels[on_roof], minlength=len(buildings))
    sums = np.bincount(labels[on_roof], weights=hours[on_roof], minlength=len(buildings))
    with np.errstate(invalid="ignore", divide="ignore"):
        roof_hours = np.where(counts > 0, sums / counts, np.nan)
    pv = np.full(len(buildings), np.nan)
    if p["pv"]:
        progress(0.75, "annual rooftop PV")
        frame = buildings[["id", "height_m", "geometry"]].copy()
        frame["id"] = np.arange(len(frame))
        pv_frame = roof_pv(
            frame,
            year=day.year,
            resolution_m=max(cell_m, 1.0),
            step="60min",
            progress=lambda f, s: progress(0.75 + 0.15 * f, f"PV: {s}"),
        )
        pv[pv_frame["id"].to_numpy()] = pv_frame["kwh_per_year"].to_numpy()
    progress(0.92, "storing the building results")
    BuildingResult.objects.bulk_create(
        [
            BuildingResult(
                run=run,
                building_id=b.building_id if not b.added else None,
                added=bool(b.added),
                geom=_multipolygon(b.geometry_wgs84),
                height_m=float(b.height_m),
                sun_hours=_finite(roof_hours[i]),
                pv_kwh_year=_finite(pv[i]),
            )
            for i, b in enumerate(buildings.itertuples())
        ],
        batch_size=5000,
    )
    ground = ~on_roof
    run.meta = {
        "crs": f"EPSG:{city.local_epsg}",
        "cell_m": cell,
        "shape": list(dsm.shape),
        "bounds": list(rasterio.transform.array_bounds(*dsm.shape, transform)),
        "times_utc": [t.isoformat() for t in (daylight.index - step / 2)],
    }
    return {
        "date": p["date"],
        "daylight_hours": float(len(daylight) * step_h),
        "mean_ground_sun_hours": float(hours[ground].mean()) if ground.any() else None,
        "mean_roof_sun_hours": float(np.nanmean(roof_hours)) if counts.any() else None,
        "total_pv_kwh_year": float(np.nansum(pv)) if p["pv"] else None,
        "buildings": len(buildings),
        "cells": int(dsm.size),
    }


# -- evacuation -----------------------------------------------------------------------------


def run_evacuation_job(run: Run, progress: Progress) -> dict:
    """Evacuate the scenario's hazard zones on its roads (closed roads removed)."""
    city, edits, p = run.scenario.city, run.edits, run.params
    progress(0.01, "reading the roads, buildings and shelters")
    G = inputs.open_graph(inputs.road_graph(city, edits))
    buildings = inputs.buildings_frame(city, edits)
    shelters = inputs.shelters_frame(city, edits)
    settings_kw = {
        "walk_share": p["share_walking"],
        "vehicles_per_household": p["vehicles_per_household"],
        "mobilisation_scale_min": p["mobilisation_scale_min"],
        "horizon_s": 60.0 * p["horizon_min"],
        "reroute_interval_s": 60.0 * p["reroute_min"] if p["reroute_min"] > 0 else None,
        "dt_s": p["time_step_s"],
        "time_of_day_h": p["time_of_day_h"],
        "background_share": p["background_share"],
        "shadow_share": p["shadow_share"],
        "record_occupancy": True,
        "sample_interval_s": 60.0,
    }
    # a departure-profile edit of the scenario wins over the run's mobilisation parameter
    settings_kw.update(inputs.departure_params(edits))
    params = EvacuationParams(**settings_kw)
    population = buildings[["id", "residents", "workers", "geometry"]].copy()
    result = run_evacuation(
        G,
        population,
        inputs.hazards(city, edits),
        shelters=shelters if len(shelters) else None,
        params=params,
        progress=lambda f, s: progress(0.05 + 0.85 * f, s),
    )
    progress(0.92, "storing the results")
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
                geom=_multipolygon(b.geometry_wgs84),
                height_m=float(b.height_m),
                residents=float(b.residents),
                evacuees=float(info["persons"]),
                evacuation_time_s=_finite(info["evacuation_time_s"]),
            )
        )
    BuildingResult.objects.bulk_create(rows, batch_size=5000)
    # every road edge that held a car at some sample (for the replay) or had a queue
    queues = (
        {(q.u, q.v, q.key): q for q in result.bottlenecks.itertuples() if q.mode == "car"}
        if len(result.bottlenecks)
        else {}
    )
    occupancy = result.car_occupancy_veh
    used = set(np.flatnonzero(occupancy.any(axis=0))) if occupancy.size else set()
    edges = []
    for column, key in enumerate(result.car_link_keys):
        if column not in used and key not in queues:
            continue
        data = G.edges[key]
        queue = queues.get(key)
        edges.append(
            _edge_result(
                run,
                data,
                capacity_veh_h=float(data["capacity"]),
                max_queue_veh=float(queue.max_queue_veh) if queue else 0.0,
                queue_duration_s=float(queue.queue_duration_s) if queue else 0.0,
                occupancy_veh=occupancy[:, column].tolist() if occupancy.size else None,
            )
        )
    # shelters with their places, for the map (their loads are the shelter:<name> series)
    to_wgs84 = inputs.to_local(city)
    shelter_points = [
        dict(zip(("lon", "lat"), to_wgs84.transform(p.x, p.y, direction="INVERSE"), strict=True))
        | {"name": name, "capacity": float(capacity)}
        for p, name, capacity in zip(
            shelters.geometry, shelters["name"], shelters["capacity"], strict=True
        )
    ]
    run.meta = {
        "series_step_s": params.sample_interval_s,
        "samples": int(occupancy.shape[0]),
        "shelters": shelter_points,
    }
    EdgeResult.objects.bulk_create(edges, batch_size=5000)
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
    summary = result.summary()
    summary.pop("seconds", None)
    summary["bottlenecks"] = len(queues)
    return summary


RUNNERS: dict[str, Callable[[Run, Progress], dict]] = {
    "traffic": run_traffic,
    "solar": run_solar,
    "evacuation": run_evacuation_job,
}
