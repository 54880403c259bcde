"""Solar: shadow masks over one day, sun hours per cell and per roof, optional rooftop PV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import rasterio
import shapely
import shapely.geometry
from django.db import connection

from simulators.solar import building_labels, dsm_from_buildings, roof_pv, shadow_mask, sun_series
from simulators.solar.dsm import cell_size, halo_for
from simulators.solar.params import SolarParams

from .. import inputs
from ..models import BuildingResult, Run, RunRaster
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .storage import finite, multipolygon, write_cog

#: largest solar raster (cells) a run accepts; beyond it, choose a bbox or a coarser cell
MAX_SOLAR_CELLS = 25_000_000


def _fill_date(params: dict) -> dict:
    """An unset date is around this year's March equinox."""
    if params["date"] is None:
        params = {**params, "date": f"{date.today().year}-03-20"}
    return params


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
    city, edits = run.scenario.city, run.edits
    p: SolarParams = SPEC.engine_params(run.params)
    progress(0.01, "reading the buildings")
    buildings = inputs.buildings_frame(city, edits)
    bounds, halo_m = solar_grid(city, run.params)
    progress(0.03, "rasterizing the buildings")
    dsm, transform, crs = dsm_from_buildings(
        buildings, resolution_m=p.cell_m, bounds=bounds, halo_m=halo_m
    )
    day = date.fromisoformat(p.date)
    step = timedelta(minutes=float(p.step_min))
    daylight = _daylight_sun(city, day, step, transform, dsm.shape)
    hours = _shadows_and_sun_hours(run, dsm, transform, crs, daylight, step, progress)
    progress(0.7, "sun hours per roof")
    labels = building_labels(buildings, transform, dsm.shape)
    on_roof = labels >= 0
    counts = np.bincount(labels[on_roof], minlength=len(buildings))
    sums = np.bincount(labels[on_roof], weights=hours[on_roof], minlength=len(buildings))
    with np.errstate(invalid="ignore", divide="ignore"):
        roof_hours = np.where(counts > 0, sums / counts, np.nan)
    pv = _roof_pv(buildings, p, day, progress) if p.pv else np.full(len(buildings), np.nan)
    progress(0.92, "storing the building results")
    BuildingResult.objects.bulk_create(
        [
            BuildingResult(
                run=run,
                building_id=b.building_id if not b.added else None,
                added=bool(b.added),
                geom=multipolygon(b.geometry_wgs84),
                height_m=float(b.height_m),
                sun_hours=finite(roof_hours[i]),
                pv_kwh_year=finite(pv[i]),
            )
            for i, b in enumerate(buildings.itertuples())
        ],
        batch_size=5000,
    )
    ground = ~on_roof
    step_h = step / timedelta(hours=1)
    run.meta = {
        "crs": f"EPSG:{city.local_epsg}",
        "cell_m": cell_size(transform),
        "shape": list(dsm.shape),
        "bounds": list(rasterio.transform.array_bounds(*dsm.shape, transform)),
        "times_utc": [t.isoformat() for t in (daylight.index - step / 2)],
    }
    return {
        "date": p.date,
        "daylight_hours": float(len(daylight) * step_h),
        "mean_ground_sun_hours": float(hours[ground].mean()) if ground.any() else None,
        "mean_roof_sun_hours": float(np.nanmean(roof_hours)) if counts.any() else None,
        "total_pv_kwh_year": float(np.nansum(pv)) if p.pv else None,
        "buildings": len(buildings),
        "cells": int(dsm.size),
    }


def _daylight_sun(city, day: date, step: timedelta, transform, shape) -> pd.DataFrame:
    """Sun positions above the horizon at the middle of each step of the day (UTC index)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    times = pd.date_range(start, start + timedelta(days=1), freq=step, inclusive="left")
    centre = shapely.Point(*rasterio.transform.xy(transform, shape[0] // 2, shape[1] // 2))
    lon, lat = inputs.to_local(city).transform(centre.x, centre.y, direction="INVERSE")
    # each sample stands for its step; the sun is taken in the middle of the step
    sun = sun_series(times + step / 2, lat, lon)
    return sun[sun["elevation_deg"] > 0.0]


def _shadows_and_sun_hours(run, dsm, transform, crs, daylight, step, progress) -> np.ndarray:
    """Store one shadow mask per daylight step and the day's sun hours; returns the hours."""
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
            file_path=write_cog(run, name, mask.astype(np.uint8), transform, crs),
            unit="shadow (1) / sun (0)",
            min_value=0.0,
            max_value=1.0,
        )
        progress(0.05 + 0.6 * (n + 1) / max(len(daylight), 1), f"shadow at {name[-4:]} UTC")
    RunRaster.objects.create(
        run=run,
        name="sun_hours",
        file_path=write_cog(run, "sun_hours", hours, transform, crs),
        unit="h",
        min_value=0.0,
        max_value=float(hours.max(initial=0.0)),
    )
    return hours


def _roof_pv(buildings, p: SolarParams, day: date, progress: Progress) -> np.ndarray:
    """Annual PV yield per building (kWh/year), NaN where a building has no roof cell."""
    progress(0.75, "annual rooftop PV")
    pv = np.full(len(buildings), np.nan)
    frame = buildings[["id", "height_m", "geometry"]].copy()
    frame["id"] = np.arange(len(frame))
    pv_frame = roof_pv(
        frame,
        year=day.year,
        resolution_m=max(p.cell_m, 1.0),
        step="60min",
        progress=lambda f, s: progress(0.75 + 0.15 * f, f"PV: {s}"),
    )
    pv[pv_frame["id"].to_numpy()] = pv_frame["kwh_per_year"].to_numpy()
    return pv


SPEC = register(
    Simulator(
        name="solar",
        label="Sun and shadows",
        description="Shadow masks through one day, sun hours per cell and per roof, "
        "optional annual rooftop PV",
        params_class=SolarParams,
        params=same_names("date", "step_min", "cell_m", "pv", "bbox"),
        run=run_solar,
        kpis=(
            Kpi("date", "Date", ""),
            Kpi("daylight_hours", "Daylight", "h"),
            Kpi("mean_ground_sun_hours", "Mean sun on the ground", "h"),
            Kpi("mean_roof_sun_hours", "Mean sun on the roofs", "h"),
            Kpi("total_pv_kwh_year", "Rooftop PV yield", "kWh/year"),
            Kpi("buildings", "Buildings", "1"),
            Kpi("cells", "Raster cells", "1"),
        ),
        results=("buildings", "rasters"),
        engine_packages=("solar", "common"),
        prepare=_fill_date,
        preflight=solar_grid,
    )
)
