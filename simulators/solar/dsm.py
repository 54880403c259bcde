"""Digital surface model (DSM) rasters: from building footprints, from and to GeoTIFF.

A DSM here is a north-up float32 array of surface heights in metres, with an affine
``transform`` and a projected metric ``crs`` (square cells). Buildings are flat-roofed prisms
(footprint x height above ground) standing on a terrain DEM when one is given, else on flat
ground at 0 m.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from rasterio import features
from rasterio.warp import Resampling, reproject

from simulators.common.occupancy import STOREY_HEIGHT_M
from simulators.common.road_defaults import parse_number

Progress = Callable[[float, str], None] | None

#: Height (m) for buildings with neither height nor levels (two storeys + roof).
DEFAULT_BUILDING_HEIGHT_M = 7.0


def halo_for(max_height_m: float, min_sun_elevation_deg: float = 5.0) -> float:
    """Halo width (m) that keeps every shadow longer than the sun above ``min_sun_elevation_deg``.

    ``halo = max_height / tan(min_elevation)``: an obstacle farther away than this cannot shade a
    cell while the sun is higher than ``min_sun_elevation_deg``.
    """
    return float(max_height_m) / math.tan(math.radians(min_sun_elevation_deg))


def building_heights(buildings: gpd.GeoDataFrame, height_field: str = "height_m") -> np.ndarray:
    """Heights (m) of buildings: ``height_field``, else OSM ``height``, else levels x 3 m.

    Text values (OSM tags such as ``"12 m"``) are parsed with
    :func:`simulators.common.road_defaults.parse_number`; missing or non-positive values fall
    back to ``building:levels`` x :data:`STOREY_HEIGHT_M`, then :data:`DEFAULT_BUILDING_HEIGHT_M`.
    """
    n = len(buildings)
    heights = np.full(n, np.nan)
    for field in (height_field, "height"):
        if field in buildings.columns:
            parsed = np.array([parse_number(v) or np.nan for v in buildings[field]], float)
            heights = np.where(np.isnan(heights) & (parsed > 0), parsed, heights)
    if "building:levels" in buildings.columns:
        levels = np.array([parse_number(v) or np.nan for v in buildings["building:levels"]])
        heights = np.where(np.isnan(heights) & (levels > 0), levels * STOREY_HEIGHT_M, heights)
    return np.where(np.isnan(heights), DEFAULT_BUILDING_HEIGHT_M, heights)


def grid_for_bounds(
    bounds: tuple[float, float, float, float], resolution_m: float, halo_m: float = 0.0
) -> tuple[Affine, tuple[int, int]]:
    """North-up transform and shape covering ``bounds`` (minx, miny, maxx, maxy) plus a halo.

    The grid is snapped to multiples of the resolution so tiles of the same city line up.
    """
    minx, miny, maxx, maxy = bounds
    r = float(resolution_m)
    x0 = math.floor((minx - halo_m) / r) * r
    y1 = math.ceil((maxy + halo_m) / r) * r
    cols = max(1, math.ceil((maxx + halo_m - x0) / r))
    rows = max(1, math.ceil((y1 - (miny - halo_m)) / r))
    return Affine(r, 0.0, x0, 0.0, -r, y1), (rows, cols)


def dsm_from_buildings(
    buildings: gpd.GeoDataFrame,
    resolution_m: float = 1.0,
    halo_m: float | None = None,
    dem: tuple[np.ndarray, Affine, object] | None = None,
    height_field: str = "height_m",
    bounds: tuple[float, float, float, float] | None = None,
    min_sun_elevation_deg: float = 5.0,
    id_field: str | None = "id",
    progress: Progress = None,
) -> tuple[np.ndarray, Affine, object]:
    """Rasterize building prisms into a DSM.

    Parameters
    ----------
    buildings : polygons in a projected metric CRS with heights above ground in ``height_field``.
    resolution_m : cell side (m), e.g. 1.0 or 0.5.
    halo_m : margin (m) around ``bounds``; default :func:`halo_for` (tallest building,
        ``min_sun_elevation_deg``), so shadows cast from outside the area are kept.
    dem : optional terrain ``(heights_m, transform, crs)``, resampled bilinearly onto the grid;
        flat ground at 0 m when None.
    bounds : area of interest (CRS units); default the buildings' total bounds.
    id_field : unused here (see :func:`building_labels`), kept for a uniform signature.

    Returns
    -------
    (dsm float32 array, transform, crs)
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("buildings must be in a projected metric CRS (e.g. UTM)")
    heights = building_heights(buildings, height_field)
    if halo_m is None:
        halo_m = halo_for(heights.max() if len(heights) else 0.0, min_sun_elevation_deg)
    if bounds is None:
        bounds = tuple(buildings.total_bounds)
    transform, shape = grid_for_bounds(bounds, resolution_m, halo_m)
    ground = np.zeros(shape, np.float32)
    if dem is not None:
        dem_z, dem_transform, dem_crs = dem
        reproject(
            np.asarray(dem_z, np.float32),
            ground,
            src_transform=dem_transform,
            src_crs=dem_crs,
            dst_transform=transform,
            dst_crs=buildings.crs,
            resampling=Resampling.bilinear,
        )
    if progress:
        progress(0.3, "rasterize buildings")
    height_raster = np.zeros(shape, np.float32)
    order = np.argsort(heights)  # taller buildings written last win shared cells
    shapes = [
        (buildings.geometry.iloc[i], float(heights[i]))
        for i in order
        if buildings.geometry.iloc[i] is not None and not buildings.geometry.iloc[i].is_empty
    ]
    if shapes:
        features.rasterize(shapes, out=height_raster, transform=transform)
    if progress:
        progress(1.0, "rasterize buildings")
    return ground + height_raster, transform, buildings.crs


def building_labels(
    buildings: gpd.GeoDataFrame, transform: Affine, shape: tuple[int, int]
) -> np.ndarray:
    """Row position (0..n-1) of the building covering each cell, -1 elsewhere (int32).

    Same cell rule as :func:`dsm_from_buildings` (cell centre inside; taller buildings win).
    """
    heights = building_heights(buildings)
    labels = np.full(shape, -1, np.int32)
    shapes = [
        (buildings.geometry.iloc[i], int(i))
        for i in np.argsort(heights)
        if buildings.geometry.iloc[i] is not None and not buildings.geometry.iloc[i].is_empty
    ]
    if shapes:
        features.rasterize(shapes, out=labels, transform=transform)
    return labels


def read_dsm(path: str | Path) -> tuple[np.ndarray, Affine, object]:
    """Read a single-band DSM GeoTIFF (heights in metres, projected CRS, square cells)."""
    with rasterio.open(path) as src:
        z = src.read(1).astype(np.float32)
        if src.nodata is not None:
            z[z == src.nodata] = np.nan
        transform, crs = src.transform, src.crs
    if crs is None or not crs.is_projected:
        raise ValueError(f"{path}: the DSM needs a projected metric CRS")
    if (
        abs(abs(transform.a) - abs(transform.e)) > 1e-6 * abs(transform.a)
        or transform.b
        or transform.d
    ):
        raise ValueError(f"{path}: cells must be square and north-up")
    if transform.e > 0:  # south-up file: flip to north-up
        z = z[::-1].copy()
        transform = transform @ Affine.translation(0, z.shape[0]) @ Affine.scale(1, -1)
    return z, transform, crs


def write_raster(path: str | Path, array: np.ndarray, transform: Affine, crs, nodata=None) -> None:
    """Write a single-band GeoTIFF (deflate-compressed)."""
    array = np.asarray(array)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=array.shape[0],
        width=array.shape[1],
        count=1,
        dtype=array.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        compress="deflate",
    ) as dst:
        dst.write(array, 1)


def cell_size(transform: Affine) -> float:
    """Cell side (m) of a north-up square-cell transform."""
    return float(abs(transform.a))
