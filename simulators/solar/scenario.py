"""A proposed building as a scenario: who loses sun, who loses PV yield, who fails BRE 209.

Planning check (BRE 209, "Site layout planning for daylight and sunlight", 3rd ed. 2022, §3.3):
an amenity area is adequately sunlit if at least half of it receives at least two hours of sun
on 21 March. It is applied to each open space and, as a proxy for ground-floor windows and
gardens next to the walls, to a ring of ground around each building (``ring_m`` wide).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio import features

from .dsm import building_heights, building_labels, dsm_from_buildings, halo_for
from .roof import roof_pv
from .sun import raster_lonlat
from .sunhours import irradiation

Progress = Callable[[float, str], None] | None


def _cells(geom, transform, shape) -> np.ndarray:
    if geom is None or geom.is_empty:
        return np.zeros(shape, bool)
    return features.rasterize([(geom, 1)], out_shape=shape, transform=transform).astype(bool)


def _sunlit_fraction(hours: np.ndarray, cells: np.ndarray, min_hours: float) -> float:
    return float((hours[cells] >= min_hours).mean()) if cells.any() else float("nan")


def proposed_building_impact(
    buildings: gpd.GeoDataFrame,
    proposal_geom,
    proposal_height_m: float,
    date: str = "2026-03-21",
    open_spaces: gpd.GeoDataFrame | None = None,
    resolution_m: float = 1.0,
    step: str = "10min",
    min_sun_hours: float = 2.0,
    min_area_fraction: float = 0.5,
    reach_elevation_deg: float = 5.0,
    ring_m: float = 2.0,
    annual_pv: bool = True,
    pv_year: int | None = None,
    n_sectors: int = 36,
    height_field: str = "height_m",
    id_field: str = "id",
    progress: Progress = None,
) -> dict:
    """Sun-hour, PV and BRE 209 impact of a proposed building on its neighbours.

    Parameters
    ----------
    buildings : existing buildings, projected metric CRS, heights above ground (m).
    proposal_geom : footprint polygon of the proposal (same CRS).
    proposal_height_m : its height above ground (m).
    date : day of the sun-hours check (BRE 209 uses 21 March); the day is the 24 h centred on
        local solar noon, so no time zone is needed.
    open_spaces : optional parks/squares polygons (``id`` column used when present).
    reach_elevation_deg : buildings and open spaces within ``h / tan(reach)`` of the proposal
        are assessed (farther ones only see its shadow with the sun lower than this).
    ring_m : width (m) of the ground ring around each building used for its BRE check.
    annual_pv : also compute annual roof PV before/after (fast mode, ``n_sectors``).

    Returns
    -------
    dict with ``buildings`` and ``open_spaces`` GeoDataFrames (``sun_hours_before/after``,
    ``sunlit_fraction_before/after``, ``passes_before/after``, PV columns), ``newly_failing``
    (records that pass before and fail after) and ``summary``.
    """
    crs = buildings.crs
    reach = halo_for(proposal_height_m, reach_elevation_deg)
    zone = proposal_geom.buffer(reach)
    existing, affected = _existing_and_affected(buildings, proposal_geom, zone, height_field)
    before, after, transform, footprint = _surface_models(
        existing, proposal_geom, proposal_height_m, zone, resolution_m, reach_elevation_deg
    )
    if progress:
        progress(0.05, "surface models")
    hours = _day_sun_hours(before, after, transform, crs, date, step, progress)
    result_b = _assess_buildings(
        affected, hours, transform, footprint, ring_m, min_sun_hours, min_area_fraction, id_field
    )
    result_o = None
    if open_spaces is not None and len(open_spaces):
        result_o = _assess_open_spaces(
            open_spaces[open_spaces.intersects(zone)],
            hours, transform, crs, footprint, min_sun_hours, min_area_fraction, id_field,
        )  # fmt: skip
    if annual_pv and len(affected):
        year = pv_year or pd.Timestamp(date).year
        _add_annual_pv(
            result_b, affected, (before, after), transform, crs, year, resolution_m,
            n_sectors, id_field, progress,
        )  # fmt: skip
    newly_failing = _newly_failing(result_b, "building")
    if result_o is not None:
        newly_failing += _newly_failing(result_o, "open_space")
    if progress:
        progress(1.0, "done")
    summary = {
        "date": str(pd.Timestamp(date).date()),
        "reach_m": reach,
        "buildings_assessed": len(result_b),
        "open_spaces_assessed": 0 if result_o is None else len(result_o),
        "newly_failing": len(newly_failing),
        "cells": int(before.size),
        "shadow_extent_m": proposal_height_m / math.tan(math.radians(reach_elevation_deg)),
    }
    if annual_pv and len(result_b):
        summary["kwh_per_year_lost"] = float(-result_b["kwh_per_year_diff"].sum())
    return {
        "buildings": result_b,
        "open_spaces": result_o,
        "newly_failing": newly_failing,
        "summary": summary,
    }


def _existing_and_affected(buildings, proposal_geom, zone, height_field):
    """Buildings with their heights (m), and those within reach of the proposal (not under it)."""
    existing = buildings.copy()
    existing["height_m"] = building_heights(buildings, height_field)
    affected = existing[existing.intersects(zone) & ~existing.intersects(proposal_geom)].copy()
    return existing, affected


def _surface_models(existing, proposal_geom, proposal_height_m, zone, resolution_m, reach_deg):
    """DSMs (m) of the zone before and after the proposal, their transform, its footprint cells."""
    heights = existing["height_m"]
    halo = halo_for(max(heights.max() if len(heights) else 0.0, proposal_height_m), reach_deg)
    bounds = tuple(zone.bounds)
    near = existing.cx[bounds[0] - halo : bounds[2] + halo, bounds[1] - halo : bounds[3] + halo]
    before, transform, _ = dsm_from_buildings(
        near, resolution_m, halo, height_field="height_m", bounds=bounds
    )
    after = before.copy()
    footprint = _cells(proposal_geom, transform, before.shape)
    after[footprint] = np.maximum(after[footprint], proposal_height_m)
    return before, after, transform, footprint


def _day_sun_hours(before, after, transform, crs, date, step, progress) -> dict:
    """Sun hours per cell over the 24 h centred on local solar noon, before and after."""
    lon, _lat = raster_lonlat(transform, crs, before.shape)
    noon_utc = pd.Timestamp(date, tz="UTC") + pd.Timedelta(hours=12.0 - lon / 15.0)
    start, end = noon_utc - pd.Timedelta("12h"), noon_utc + pd.Timedelta("12h")
    hours = {}
    for k, (name, z) in enumerate((("before", before), ("after", after))):
        hours[name] = irradiation(
            z, transform, crs, start, end, step, "exact", n_sectors=8,
            progress=(lambda f, s, k=k: progress(0.05 + 0.25 * (k + f), f"sun hours {s}"))
            if progress else None,
        ).sun_hours  # fmt: skip
    return hours


def _assess_buildings(
    affected, hours, transform, footprint, ring_m, min_sun_hours, min_area_fraction, id_field
) -> gpd.GeoDataFrame:
    """Roof sun hours and the BRE 209 ground-ring check of each affected building."""
    shape = footprint.shape
    labels = building_labels(affected, transform, shape)
    rows = []
    for i in range(len(affected)):
        geom = affected.geometry.iloc[i]
        roof = labels == i
        ring = _cells(geom.buffer(ring_m).difference(geom), transform, shape) & (labels < 0)
        ring &= ~footprint
        rec = {
            "id": affected[id_field].iloc[i] if id_field in affected.columns else affected.index[i]
        }
        for name in ("before", "after"):
            rec[f"roof_sun_hours_{name}"] = (
                float(hours[name][roof].mean()) if roof.any() else np.nan
            )
            rec[f"sunlit_fraction_{name}"] = _sunlit_fraction(hours[name], ring, min_sun_hours)
            rec[f"passes_{name}"] = bool(rec[f"sunlit_fraction_{name}"] >= min_area_fraction)
        rows.append(rec)
    result = gpd.GeoDataFrame(rows, geometry=affected.geometry.to_numpy(), crs=affected.crs)
    if len(result):
        result["roof_sun_hours_diff"] = (
            result["roof_sun_hours_after"] - result["roof_sun_hours_before"]
        )
    return result


def _assess_open_spaces(
    spaces, hours, transform, crs, footprint, min_sun_hours, min_area_fraction, id_field
) -> gpd.GeoDataFrame:
    """Sun hours and the BRE 209 check of each open space within reach."""
    rows = []
    for i in range(len(spaces)):
        cells = _cells(spaces.geometry.iloc[i], transform, footprint.shape) & ~footprint
        rec = {"id": spaces[id_field].iloc[i] if id_field in spaces.columns else spaces.index[i]}
        for name in ("before", "after"):
            rec[f"sun_hours_{name}"] = float(hours[name][cells].mean()) if cells.any() else np.nan
            rec[f"sunlit_fraction_{name}"] = _sunlit_fraction(hours[name], cells, min_sun_hours)
            rec[f"passes_{name}"] = bool(rec[f"sunlit_fraction_{name}"] >= min_area_fraction)
        rec["sun_hours_diff"] = rec["sun_hours_after"] - rec["sun_hours_before"]
        rows.append(rec)
    return gpd.GeoDataFrame(rows, geometry=spaces.geometry.to_numpy(), crs=crs)


def _add_annual_pv(
    result_b, affected, dsms, transform, crs, year, resolution_m, n_sectors, id_field, progress
) -> None:
    """Annual roof PV (kWh/year) of the affected buildings before and after, in place."""
    for k, (name, z) in enumerate(zip(("before", "after"), dsms, strict=True)):
        pv = roof_pv(
            affected, "height_m", year, resolution_m, dsm=(z, transform, crs),
            n_sectors=n_sectors, id_field=id_field,
            progress=(lambda f, s, k=k: progress(0.3 + 0.35 * (k + f), f"PV {s}"))
            if progress else None,
        )  # fmt: skip
        result_b[f"kwh_per_year_{name}"] = pv["kwh_per_year"].to_numpy()
    result_b["kwh_per_year_diff"] = result_b["kwh_per_year_after"] - result_b["kwh_per_year_before"]


def _newly_failing(result: gpd.GeoDataFrame, kind: str) -> list[dict]:
    """Records that pass the BRE 209 check before and fail it after."""
    return [
        {"kind": kind, "id": r["id"]}
        for _, r in result.iterrows()
        if r["passes_before"] and not r["passes_after"]
    ]
