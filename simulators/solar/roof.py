"""Rooftop PV potential per building: roof planes, annual irradiation, usable area, kWp, kWh/year.

Model (documented in ``docs/solar.md``):

* roof plane per building from a least-squares plane fit of its DSM cells (flat for prism DSMs);
* annual beam irradiation with shading from the fast sun-hours mode, diffuse from pvlib's Perez
  model on the roof plane (free sky) times the cell's sky view factor;
* usable roof: cells at least one cell inside the roof edge (edge setback) that get at least
  ``min_relative_irradiation`` of the free-field irradiation on the same plane;
* modules in the roof plane covering ``packing_factor`` of the usable area, nominal power
  ``efficiency x 1 kW/m2`` (STC), yield ``= irradiation x module area x efficiency x PR``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pvlib

from .dsm import (
    building_heights,
    building_labels,
    cell_size,
    dsm_from_buildings,
    halo_for,
)
from .sunhours import irradiation, sun_positions

Progress = Callable[[float, str], None] | None

#: Module efficiency at STC: typical 2024 monocrystalline-silicon module (20-22 %).
MODULE_EFFICIENCY = 0.20
#: Performance ratio (IEC 61724): inverter, wiring, temperature and soiling losses; 0.75-0.85
#: for well-kept rooftop systems.
PERFORMANCE_RATIO = 0.80
#: Share of the usable roof covered by modules (access paths, row spacing, obstacles).
PACKING_FACTOR = 0.70
#: A roof cell counts as usable when it gets at least this share of free-field irradiation.
MIN_RELATIVE_IRRADIATION = 0.80


def roof_planes(
    dsm: np.ndarray, transform, labels: np.ndarray, n_buildings: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tilt and aspect (degrees) of a least-squares plane through each building's DSM cells.

    Aspect is the direction the roof faces, clockwise from north; 0 tilt gives aspect 180
    (south, by convention). Returns two arrays of length ``n_buildings``.
    """
    rows, cols = np.nonzero(labels >= 0)
    ids = labels[rows, cols]
    xs, ys = transform @ (cols + 0.5, rows + 0.5)
    zs = np.asarray(dsm, np.float64)[rows, cols]
    tilt = np.zeros(n_buildings)
    aspect = np.full(n_buildings, 180.0)
    order = np.argsort(ids, kind="stable")
    ids, xs, ys, zs = ids[order], np.asarray(xs)[order], np.asarray(ys)[order], zs[order]
    bounds = np.searchsorted(ids, np.arange(n_buildings + 1))
    for b in range(n_buildings):
        lo, hi = bounds[b], bounds[b + 1]
        if hi - lo < 3:
            continue
        x = xs[lo:hi] - xs[lo:hi].mean()
        y = ys[lo:hi] - ys[lo:hi].mean()
        a = np.column_stack([x, y, np.ones_like(x)])
        (gx, gy, _), *_ = np.linalg.lstsq(a, zs[lo:hi], rcond=None)
        slope = math.hypot(gx, gy)
        if slope < 1e-3:
            continue
        tilt[b] = math.degrees(math.atan(slope))
        # the roof faces down-slope: direction of -gradient, azimuth clockwise from north (+y)
        aspect[b] = math.degrees(math.atan2(-gx, -gy)) % 360.0
    return tilt, aspect


def _perez_diffuse_kwh_m2(sun: pd.DataFrame, tilt_deg: float, aspect_deg: float) -> float:
    """Sky diffuse on a free plane over the period (kWh/m2), pvlib Perez 1990 model."""
    if len(sun) == 0:
        return 0.0
    dni_extra = pvlib.irradiance.get_extra_radiation(sun.index)
    airmass = pvlib.atmosphere.get_relative_airmass(sun["zenith_deg"])
    diffuse = pvlib.irradiance.perez(
        tilt_deg, aspect_deg, sun["dhi"], sun["dni"], dni_extra,
        sun["zenith_deg"], sun["azimuth_deg"], airmass,
    )  # fmt: skip
    return float((np.nan_to_num(diffuse.to_numpy()) * sun["duration_h"].to_numpy()).sum() / 1000)


def _free_beam_kwh_m2(sun: pd.DataFrame, tilt_deg: float, aspect_deg: float) -> float:
    """Beam on an unshaded plane over the period (kWh/m2)."""
    e = np.radians(sun["elevation_deg"].to_numpy())
    a = np.radians(sun["azimuth_deg"].to_numpy())
    t, g = math.radians(tilt_deg), math.radians(aspect_deg)
    cos_inc = np.sin(e) * math.cos(t) + np.cos(e) * math.sin(t) * np.cos(a - g)
    return float(
        (sun["dni"].to_numpy() * sun["duration_h"].to_numpy() * np.clip(cos_inc, 0, None)).sum()
        / 1000
    )


def _edge_free(labels: np.ndarray) -> np.ndarray:
    """Cells whose four neighbours belong to the same building (a one-cell edge setback)."""
    inner = labels >= 0
    inner[1:, :] &= labels[1:, :] == labels[:-1, :]
    inner[:-1, :] &= labels[:-1, :] == labels[1:, :]
    inner[:, 1:] &= labels[:, 1:] == labels[:, :-1]
    inner[:, :-1] &= labels[:, :-1] == labels[:, 1:]
    inner[0, :] = inner[-1, :] = inner[:, 0] = inner[:, -1] = False
    return inner


def roof_pv(
    buildings: gpd.GeoDataFrame,
    height_field: str = "height_m",
    year: int = 2026,
    resolution_m: float = 1.0,
    weather: pd.DataFrame | None = None,
    dsm: tuple[np.ndarray, object, object] | None = None,
    step: str = "10min",
    n_sectors: int = 72,
    tile_m: float = 500.0,
    min_sun_elevation_deg: float = 5.0,
    module_efficiency: float = MODULE_EFFICIENCY,
    performance_ratio: float = PERFORMANCE_RATIO,
    packing_factor: float = PACKING_FACTOR,
    min_relative_irradiation: float = MIN_RELATIVE_IRRADIATION,
    id_field: str = "id",
    progress: Progress = None,
) -> gpd.GeoDataFrame:
    """Annual rooftop PV potential of every building.

    Parameters
    ----------
    buildings : footprints in a projected metric CRS, heights above ground (m) in
        ``height_field`` (OSM text heights and ``building:levels`` are understood).
    year : calendar year simulated (clear sky unless ``weather``).
    resolution_m : DSM cell side (m).
    weather : optional ``ghi/dni/dhi`` frame (:func:`simulators.solar.sun.read_weather`).
    dsm : optional ``(heights, transform, crs)`` surface with real roof shapes covering the
        buildings (e.g. from lidar); prisms from the footprints otherwise.
    step : time step of the annual sun positions.
    n_sectors : horizon sectors of the fast mode.
    tile_m : buildings are processed in square tiles of this side plus a shadow halo
        (:func:`simulators.solar.dsm.halo_for`), so memory stays bounded for a whole city.
    module_efficiency, performance_ratio, packing_factor, min_relative_irradiation :
        PV model constants (module defaults at the top of this module).

    Returns
    -------
    GeoDataFrame (same CRS and geometries) with ``id``, ``height_m``, ``roof_area_m2``,
    ``usable_area_m2``, ``tilt_deg``, ``aspect_deg``, ``sun_hours`` (mean over the roof),
    ``irradiation_kwh_m2`` (mean global on usable cells), ``kwp``, ``kwh_per_year``.
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("buildings must be in a projected metric CRS (e.g. UTM)")
    buildings = buildings[buildings.geometry.notna() & ~buildings.geometry.is_empty]
    buildings = buildings.reset_index(drop=True)
    n = len(buildings)
    heights = building_heights(buildings, height_field)
    out = {
        "roof_area_m2": np.zeros(n),
        "usable_area_m2": np.zeros(n),
        "tilt_deg": np.zeros(n),
        "aspect_deg": np.full(n, 180.0),
        "sun_hours": np.zeros(n),
        "irradiation_kwh_m2": np.zeros(n),
        "yield_kwh_m2_module": np.zeros(n),
    }
    start = pd.Timestamp(f"{year}-01-01", tz="UTC")
    end = pd.Timestamp(f"{year + 1}-01-01", tz="UTC")
    if n == 0:
        return _finish(
            buildings, heights, out, id_field, module_efficiency, performance_ratio, packing_factor
        )
    prism = buildings.copy()
    prism["height_m"] = heights

    if dsm is not None:
        tiles = [None]
    else:
        halo = halo_for(heights.max(), min_sun_elevation_deg)
        centroids = buildings.geometry.centroid
        cx, cy = centroids.x.to_numpy(), centroids.y.to_numpy()
        tx = np.floor((cx - cx.min()) / tile_m).astype(int)
        ty = np.floor((cy - cy.min()) / tile_m).astype(int)
        tile_of = tx * 1_000_003 + ty
        tiles = list(np.unique(tile_of))
    sun = None
    for t_i, tile in enumerate(tiles):
        if tile is None:
            z, transform, _crs = dsm
            members = np.arange(n)
        else:
            members = np.nonzero(tile_of == tile)[0]
            minx = cx.min() + tx[members[0]] * tile_m
            miny = cy.min() + ty[members[0]] * tile_m
            inner = tuple(buildings.geometry.iloc[members].total_bounds)
            bounds = (
                min(inner[0], minx), min(inner[1], miny),
                max(inner[2], minx + tile_m), max(inner[3], miny + tile_m),
            )  # fmt: skip
            sub = prism.cx[bounds[0] - halo : bounds[2] + halo, bounds[1] - halo : bounds[3] + halo]
            z, transform, _crs = dsm_from_buildings(
                sub, resolution_m, halo, height_field="height_m", bounds=bounds
            )
        labels = building_labels(buildings.iloc[members], transform, z.shape)
        if sun is None:
            sun = sun_positions(transform, buildings.crs, z.shape, start, end, step, weather)
        tilt, aspect = roof_planes(z, transform, labels, len(members))
        tilt_r = np.where(labels >= 0, tilt[np.maximum(labels, 0)], 0.0)
        aspect_r = np.where(labels >= 0, aspect[np.maximum(labels, 0)], 180.0)

        def tile_progress(f, stage, t_i=t_i):
            if progress:
                progress((t_i + f) / len(tiles), f"roof PV tile {t_i + 1}/{len(tiles)}: {stage}")

        result = irradiation(
            z, transform, buildings.crs, start, end, step, "fast", n_sectors,
            tilt_deg=tilt_r, aspect_deg=aspect_r, sun=sun, progress=tile_progress,
        )  # fmt: skip
        usable_cells = _edge_free(labels)
        area_cell = cell_size(transform) ** 2
        for local, b in enumerate(members):
            roof = labels == local
            count = int(roof.sum())
            if count == 0:
                continue
            perez = _perez_diffuse_kwh_m2(sun, tilt[local], aspect[local])
            free = _free_beam_kwh_m2(sun, tilt[local], aspect[local]) + perez
            glob = result.beam_kwh_m2[roof] + perez * result.sky_view_factor[roof]
            good = usable_cells[roof] & (glob >= min_relative_irradiation * free)
            out["roof_area_m2"][b] = count * area_cell / math.cos(math.radians(tilt[local]))
            out["usable_area_m2"][b] = good.sum() * area_cell / math.cos(math.radians(tilt[local]))
            out["tilt_deg"][b] = tilt[local]
            out["aspect_deg"][b] = aspect[local]
            out["sun_hours"][b] = float(result.sun_hours[roof].mean())
            out["irradiation_kwh_m2"][b] = float(glob[good].mean()) if good.any() else 0.0
            # kWh per m2 of *horizontal projection* of usable roof, summed over good cells
            out["yield_kwh_m2_module"][b] = float(glob[good].sum()) * area_cell
    return _finish(
        buildings, heights, out, id_field, module_efficiency, performance_ratio, packing_factor
    )


def _finish(buildings, heights, out, id_field, efficiency, pr, packing) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "id": buildings[id_field].to_numpy()
            if id_field in buildings.columns
            else buildings.index.to_numpy(),
            "height_m": heights,
        },
        geometry=buildings.geometry.to_numpy(),
        crs=buildings.crs,
    )
    for key in (
        "roof_area_m2",
        "usable_area_m2",
        "tilt_deg",
        "aspect_deg",
        "sun_hours",
        "irradiation_kwh_m2",
    ):
        frame[key] = out[key]
    frame["kwp"] = frame["usable_area_m2"] * packing * efficiency  # kW at 1 kW/m2 (STC)
    # sloped cells: irradiation is per m2 of plane and the plane area is the projected area /
    # cos(tilt); glob * projected area under-counts by cos(tilt), corrected here
    cos_t = np.cos(np.radians(frame["tilt_deg"].to_numpy()))
    frame["kwh_per_year"] = out["yield_kwh_m2_module"] / cos_t * packing * efficiency * pr
    return frame
