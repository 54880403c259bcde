"""Command line: ``python -m simulators.solar {shadow,sun-hours,roof-pv,impact} ...``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import wkt

from .dsm import cell_size, dsm_from_buildings, read_dsm, write_raster
from .roof import roof_pv
from .scenario import proposed_building_impact
from .shadow import shadow_mask
from .sun import raster_lonlat, read_weather, sun_series
from .sunhours import irradiation

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".img"}


def _load_buildings(path: str, height_field: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(path)
    gdf = gdf[gdf.geometry.notna() & gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.crs is None:
        raise SystemExit(f"{path}: no CRS")
    if not gdf.crs.is_projected:
        gdf = gdf.to_crs(gdf.estimate_utm_crs())
    if height_field not in gdf.columns and "height" not in gdf.columns:
        print(f"warning: no '{height_field}' column, using levels or defaults", file=sys.stderr)
    return gdf.reset_index(drop=True)


def _load_surface(args) -> tuple[np.ndarray, object, object]:
    if Path(args.source).suffix.lower() in RASTER_SUFFIXES:
        return read_dsm(args.source)
    buildings = _load_buildings(args.source, args.height_field)
    return dsm_from_buildings(buildings, args.resolution, args.halo, height_field=args.height_field)


def _emit(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, default=float))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")


def _cmd_shadow(args) -> dict:
    t0 = time.perf_counter()
    z, transform, crs = _load_surface(args)
    lon, lat = raster_lonlat(transform, crs, z.shape)
    when = pd.Timestamp(args.time)
    if when.tzinfo is None:
        when = when.tz_localize("UTC")
    sun = sun_series(pd.DatetimeIndex([when]), lat, lon)
    az, el = float(sun["azimuth_deg"].iat[0]), float(sun["elevation_deg"].iat[0])
    t1 = time.perf_counter()
    mask = shadow_mask(z, cell_size(transform), az, el)
    sweep_s = time.perf_counter() - t1
    if args.out:
        write_raster(args.out, mask, transform, crs)
    return {
        "cells": int(mask.size),
        "shadowed_fraction": float(mask.mean()),
        "sun_azimuth_deg": az,
        "sun_elevation_deg": el,
        "sweep_seconds": sweep_s,
        "seconds": time.perf_counter() - t0,
    }


def _cmd_sun_hours(args) -> dict:
    t0 = time.perf_counter()
    z, transform, crs = _load_surface(args)
    weather = read_weather(args.weather) if args.weather else None
    result = irradiation(
        z, transform, crs, args.start, args.end, args.step, args.mode, args.sectors, weather
    )
    if args.out:
        write_raster(args.out, result.sun_hours, transform, crs)
    if args.irradiation_out:
        write_raster(args.irradiation_out, result.global_kwh_m2, transform, crs)
    return {
        "cells": int(z.size),
        "mode": args.mode,
        "time_steps": len(result.sun),
        "mean_hours": float(result.sun_hours.mean()),
        "mean_global_kwh_m2": float(result.global_kwh_m2.mean()),
        "seconds": time.perf_counter() - t0,
    }


def _cmd_roof_pv(args) -> dict:
    t0 = time.perf_counter()
    buildings = _load_buildings(args.source, args.height_field)
    weather = read_weather(args.weather, args.year) if args.weather else None
    pv = roof_pv(
        buildings, args.height_field, args.year, args.resolution, weather,
        step=args.step, n_sectors=args.sectors, tile_m=args.tile,
    )  # fmt: skip
    if args.out:
        pv.to_file(args.out)
    return {
        "buildings": len(pv),
        "roof_area_m2": float(pv["roof_area_m2"].sum()),
        "usable_area_m2": float(pv["usable_area_m2"].sum()),
        "total_kwp": float(pv["kwp"].sum()),
        "total_kwh": float(pv["kwh_per_year"].sum()),
        "seconds": time.perf_counter() - t0,
    }


def _cmd_impact(args) -> dict:
    t0 = time.perf_counter()
    buildings = _load_buildings(args.source, args.height_field)
    geom = wkt.loads(args.proposal)
    spaces = gpd.read_file(args.open_spaces).to_crs(buildings.crs) if args.open_spaces else None
    report = proposed_building_impact(
        buildings, geom, args.proposal_height, args.date, spaces, args.resolution,
        height_field=args.height_field, annual_pv=not args.no_pv,
    )  # fmt: skip
    if args.out:
        report["buildings"].to_file(args.out, layer="buildings")
        if report["open_spaces"] is not None:
            report["open_spaces"].to_file(args.out, layer="open_spaces")
    summary = dict(report["summary"])
    summary["newly_failing"] = report["newly_failing"]
    summary["seconds"] = time.perf_counter() - t0
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.solar", description="Shadows, sun hours and rooftop PV."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, surface=True):
        p.add_argument("source", help="DSM GeoTIFF (m, projected CRS) or buildings GPKG/GeoJSON")
        p.add_argument("--height-field", default="height_m", help="building height column (m)")
        p.add_argument("--resolution", type=float, default=1.0, help="cell size (m)")
        if surface:
            p.add_argument("--halo", type=float, default=None, help="halo (m), default auto")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("shadow", help="shadow mask at one instant")
    common(p)
    p.add_argument("--time", required=True, help="ISO time, e.g. 2026-06-21T12:00:00+03:00")
    p.add_argument("--out", help="mask GeoTIFF (1 = shadowed)")
    p.set_defaults(func=_cmd_shadow)

    p = sub.add_parser("sun-hours", help="sun hours (and irradiation) over a period")
    common(p)
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--step", default="10min")
    p.add_argument("--mode", choices=["exact", "fast"], default="fast")
    p.add_argument("--sectors", type=int, default=72)
    p.add_argument("--weather", help="EPW / TMY3 / CSV with ghi,dni,dhi (clear sky if absent)")
    p.add_argument("--out", help="sun hours GeoTIFF")
    p.add_argument("--irradiation-out", help="global irradiation GeoTIFF (kWh/m2)")
    p.set_defaults(func=_cmd_sun_hours)

    p = sub.add_parser("roof-pv", help="rooftop PV potential per building over a year")
    common(p, surface=False)
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--step", default="10min")
    p.add_argument("--sectors", type=int, default=72)
    p.add_argument("--tile", type=float, default=500.0, help="tile side (m)")
    p.add_argument("--weather")
    p.add_argument("--out", help="GeoPackage / GeoJSON with one row per building")
    p.set_defaults(func=_cmd_roof_pv)

    p = sub.add_parser("impact", help="impact of a proposed building (BRE 209 check)")
    common(p, surface=False)
    p.add_argument("--proposal", required=True, help="footprint as WKT in the buildings' CRS")
    p.add_argument("--proposal-height", type=float, required=True)
    p.add_argument("--date", default="2026-03-21")
    p.add_argument("--open-spaces")
    p.add_argument("--no-pv", action="store_true", help="skip the annual PV comparison")
    p.add_argument("--out", help="GeoPackage with layers buildings / open_spaces")
    p.set_defaults(func=_cmd_impact)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    summary = args.func(args)
    _emit(summary, args.json)
    return 0
