"""Solar: shadow masks over one day, sun hours per cell and per roof, optional rooftop PV."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import rasterio
import shapely
import shapely.geometry
from django.conf import settings
from django.db import connection

from simulators.solar import roof_pv, sun_series
from simulators.solar.params import SolarParams
from simulators.solar.tiling import GridWriter, TilePlan, choose_cell_m, plan_tiles, tiled_sun_hours

from .. import inputs
from ..models import BuildingResult, Run, RunRaster, run_files_dir
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .storage import finite, multipolygon

#: largest solar raster (cells) a run accepts with a given cell_m (the engine tiles it; this
#: bounds the run time); the automatic cell size stays within the engine's default
MAX_SOLAR_CELLS = 400_000_000
#: per-step shadow rasters are stored while steps x cells stays under this (uint8 cells)
MAX_SHADOW_RASTER_CELLS = 3_000_000_000


def _fill_date(params: dict) -> dict:
    """An unset date is around this year's March equinox."""
    if params["date"] is None:
        params = {**params, "date": f"{date.today().year}-03-20"}
    return params


def solar_grid(city, p: dict, relief_m: float = 0.0) -> TilePlan:
    """Tile plan (:class:`simulators.solar.tiling.TilePlan`) of a solar run's raster.

    The grid comes from the base city only (its building extent, or the bbox parameter; the
    halo from its tallest building), so that every scenario's rasters line up cell for cell
    with the baseline's and can be differenced. ``cell_m`` null lets the engine choose the
    finest cell that keeps the raster within its default size. ``relief_m``: a scenario's
    tallest building, when taller than the base city's (the halo must cover its shadow; the
    grid stays the base city's). Raises ParamsRejected when a given ``cell_m`` gives more than
    ``MAX_SOLAR_CELLS`` or the bbox misses the city, before anything is allocated.
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
    if p["cell_m"] is None:
        try:
            cell_m = choose_cell_m(bounds)
        except ValueError as exc:
            raise ParamsRejected("bbox", f"{exc}; choose a smaller bbox") from None
    else:
        cell_m = float(p["cell_m"])
        cells = ((bounds[2] - bounds[0]) / cell_m) * ((bounds[3] - bounds[1]) / cell_m)
        if cells > MAX_SOLAR_CELLS:
            raise ParamsRejected(
                "cell_m",
                f"the raster would have {cells:,.0f} cells (max {MAX_SOLAR_CELLS:,}); "
                "choose a bbox, larger cells, or none to let the engine choose",
            )
    steps = math.ceil(24 * 60 / float(p["step_min"]))
    cells = ((bounds[2] - bounds[0]) / cell_m + 1) * ((bounds[3] - bounds[1]) / cell_m + 1)
    return plan_tiles(
        bounds, max(float(max_height_m or 0.0), relief_m), f"EPSG:{city.local_epsg}", cell_m,
        n_masks=steps if steps * cells <= MAX_SHADOW_RASTER_CELLS else 0,
    )  # fmt: skip


def run_solar(run: Run, progress: Progress) -> dict:
    """Shadow masks over one day, sun hours per cell and per roof, optional annual roof PV.

    The raster is computed in tiles (:mod:`simulators.solar.tiling`) and stitched into COGs;
    what the engine chose (cell size, tiles, halo) is in ``run.meta["solar_plan"]``.
    """
    city, edits = run.scenario.city, run.edits
    p: SolarParams = SPEC.engine_params(run.params)
    progress(0.01, "reading the buildings")
    buildings = inputs.buildings_frame(city, edits)
    relief_m = float(buildings["height_m"].max()) if len(buildings) else 0.0
    plan = solar_grid(city, run.params, relief_m)
    day = date.fromisoformat(p.date)
    step = timedelta(minutes=float(p.step_min))
    daylight = _daylight_sun(city, day, step, plan.transform, plan.shape)
    roof_hours, ground_sun_hours, kept = _shadows_and_sun_hours(
        run, buildings, plan, daylight, step, progress
    )
    pv = _roof_pv(buildings, plan, day, progress) if p.pv else np.full(len(buildings), np.nan)
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
    step_h = step / timedelta(hours=1)
    rows, cols = plan.shape
    run.meta = {
        "crs": f"EPSG:{city.local_epsg}",
        "cell_m": plan.cell_m,
        "shape": [rows, cols],
        "bounds": list(rasterio.transform.array_bounds(rows, cols, plan.transform)),
        "time_zone": city.time_zone,
        "times_local": [
            t.isoformat() for t in (daylight.index - step / 2).tz_convert(city.time_zone)
        ],
        "solar_plan": plan.describe(),
        "shadow_rasters": "stored"
        if kept
        else f"not stored: {len(daylight)} steps x {rows * cols:,} cells is over "
        f"{MAX_SHADOW_RASTER_CELLS:,}; choose a longer step_min or a bbox",
    }
    return {
        "date": p.date,
        "daylight_hours": float(len(daylight) * step_h),
        "mean_ground_sun_hours": ground_sun_hours,
        "mean_roof_sun_hours": float(np.nanmean(roof_hours))
        if np.isfinite(roof_hours).any()
        else None,
        "total_pv_kwh_year": float(np.nansum(pv)) if p.pv else None,
        "buildings": len(buildings),
        "cells": rows * cols,
        "cell_m": plan.cell_m,
    }


def _daylight_sun(city, day: date, step: timedelta, transform, shape) -> pd.DataFrame:
    """Sun positions above the horizon at the middle of each step of the day (UTC index).

    The day is the city's own calendar day (local midnight to midnight, 23 or 25 hours on the
    days the clocks change): a UTC day would be a day from 10:00 to 10:00 in Cairns.
    """
    start = pd.Timestamp(day).tz_localize(city.time_zone)
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(city.time_zone)
    times = pd.date_range(start, end, freq=step, inclusive="left").tz_convert("UTC")
    centre = shapely.Point(*rasterio.transform.xy(transform, shape[0] // 2, shape[1] // 2))
    lon, lat = inputs.to_local(city).transform(centre.x, centre.y, direction="INVERSE")
    # each sample stands for its step; the sun is taken in the middle of the step
    sun = sun_series(times + step / 2, lat, lon)
    return sun[sun["elevation_deg"] > 0.0]


def _shadows_and_sun_hours(run, buildings, plan: TilePlan, daylight, step, progress):
    """Store one shadow mask per daylight step (when not too many cells) and the day's sun
    hours, tile by tile; returns (mean sun hours per roof, mean on the ground, masks kept)."""
    step_h = step / timedelta(hours=1)
    daylight = daylight.assign(duration_h=step_h)
    rows, cols = plan.shape
    # same rule as solar_grid's memory plan (all steps of the day counted there)
    keep_masks = math.ceil(timedelta(days=1) / step) * rows * cols <= MAX_SHADOW_RASTER_CELLS
    # named by the city's clock: the slider of the web map shows local time of day
    local = (daylight.index - step / 2).tz_convert(run.scenario.city.time_zone)
    names = [f"shadow_{t.strftime('%H%M')}" for t in local]
    folder = run_files_dir(run.pk)
    folder.mkdir(parents=True, exist_ok=True)
    hours_out = GridWriter(plan, "float32", folder)
    masks_out = [GridWriter(plan, "uint8", folder) for _ in names] if keep_masks else []
    roof_sums = np.zeros(len(buildings))
    roof_counts = np.zeros(len(buildings), np.int64)
    ground_sum, ground_cells = 0.0, 0
    try:
        for result in tiled_sun_hours(
            buildings, plan, daylight, labels=True, masks=keep_masks,
            progress=lambda f, s: progress(0.03 + 0.6 * f, s),
        ):  # fmt: skip
            hours_out.write(result.window, result.sun_hours)
            for k, writer in enumerate(masks_out):
                writer.write(result.window, result.masks[k])
            on_roof = result.labels >= 0
            roof_counts += np.bincount(result.labels[on_roof], minlength=len(buildings))
            roof_sums += np.bincount(
                result.labels[on_roof], weights=result.sun_hours[on_roof],
                minlength=len(buildings),
            )  # fmt: skip
            ground_sum += float(result.sun_hours[~on_roof].sum(dtype=np.float64))
            ground_cells += int((~on_roof).sum())
        progress(0.65, "writing the rasters")
        for instant, name, writer in zip(daylight.index, names, masks_out, strict=False):
            writer.to_cog(folder / f"{name}.tif")
            RunRaster.objects.create(
                run=run,
                name=name,
                time=(instant - step / 2).to_pydatetime(),
                file_path=str((folder / f"{name}.tif").relative_to(settings.MEDIA_ROOT)),
                unit="shadow (1) / sun (0)",
                min_value=0.0,
                max_value=1.0,
            )
        hours_out.to_cog(folder / "sun_hours.tif")
    finally:
        for writer in [hours_out, *masks_out]:
            writer.discard()
    RunRaster.objects.create(
        run=run,
        name="sun_hours",
        file_path=str((folder / "sun_hours.tif").relative_to(settings.MEDIA_ROOT)),
        unit="h",
        min_value=0.0,
        max_value=max(hours_out.maximum, 0.0),
    )
    progress(0.7, "sun hours per roof")
    with np.errstate(invalid="ignore", divide="ignore"):
        roof_hours = np.where(roof_counts > 0, roof_sums / roof_counts, np.nan)
    return roof_hours, (ground_sum / ground_cells if ground_cells else None), keep_masks


def _roof_pv(buildings, plan: TilePlan, day: date, progress: Progress) -> np.ndarray:
    """Annual PV yield per building (kWh/year), NaN where a building has no roof cell."""
    progress(0.75, "annual rooftop PV")
    pv = np.full(len(buildings), np.nan)
    frame = buildings[["id", "height_m", "geometry"]].copy()
    frame["id"] = np.arange(len(frame))
    pv_frame = roof_pv(
        frame,
        year=day.year,
        resolution_m=max(plan.cell_m, 1.0),
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
            Kpi("cell_m", "Cell size (chosen or given)", "m"),
        ),
        results=("buildings", "rasters"),
        engine_packages=("solar", "common"),
        report_map=("buildings", "sun_hours", "Roof sun hours", "h"),
        prepare=_fill_date,
        preflight=solar_grid,
    )
)
