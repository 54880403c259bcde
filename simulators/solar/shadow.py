"""Shadow masks, horizon angles, sky view factor and shadow polygons over a DSM raster.

All rasters are north-up (row 0 = north), square cells of ``cell_size_m`` metres, heights in
metres. Azimuths are degrees clockwise from north (pvlib convention), elevations degrees above
the horizontal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio import features
from shapely.geometry import shape

from .kernels import horizon_sweep, shadow_reference_ray, shadow_sweep

Progress = Callable[[float, str], None] | None


def _travel(
    azimuth_deg: float, cell_size_m: float
) -> tuple[tuple[slice, slice], float, bool, int, float]:
    """Flips, slope, axis, column direction and step (m) for travel *away* from ``azimuth_deg``.

    Rows are flipped (a cheap view) so travel goes to increasing rows. Columns are flipped only
    when travel is mostly east-west; otherwise the kernel walks columns in memory order and takes
    the column direction as ``col_dir`` (negative-stride inner loops do not vectorize).
    """
    az = math.radians(azimuth_deg)
    v_row = math.cos(az)  # away from the sun: a southern sun sends shadows north (-row)
    v_col = -math.sin(az)
    a_row, a_col = abs(v_row), abs(v_col)
    row_primary = a_row >= a_col
    flip_cols = v_col < 0 and not row_primary
    flips = (
        slice(None, None, -1) if v_row < 0 else slice(None),
        slice(None, None, -1) if flip_cols else slice(None),
    )
    col_dir = -1 if (v_col < 0 and row_primary) else 1
    slope = a_col / a_row if row_primary else a_row / a_col
    step = cell_size_m * math.sqrt(1.0 + slope * slope)
    return flips, slope, row_primary, col_dir, step


def _as_heights(dsm: np.ndarray, keep_float32: bool = False) -> np.ndarray:
    z = np.asarray(dsm)
    # float32 heights are exact in float64 arithmetic, so the sweep can read them without a copy
    if not (keep_float32 and z.dtype == np.float32):
        z = np.asarray(z, dtype=np.float64)
    if np.isnan(z).any():
        # nodata: lowest surface, so it neither casts nor hides shadows more than the ground
        z = np.where(np.isnan(z), np.nanmin(z) if np.isfinite(z).any() else 0.0, z)
    return z


def shadow_mask(
    dsm: np.ndarray,
    cell_size_m: float,
    sun_azimuth_deg: float,
    sun_elevation_deg: float,
    window: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Cells in shadow for one sun position, by an O(N) line sweep.

    Parameters
    ----------
    dsm : (rows, cols) array, heights in metres, north-up.
    cell_size_m : cell side in metres.
    sun_azimuth_deg : sun azimuth, degrees clockwise from north.
    sun_elevation_deg : sun elevation, degrees; at or below 0 every cell is shadowed.
    window : ``(row0, col0, rows, cols)`` when ``dsm`` is the window at ``(row0, col0)`` of a
        larger ``rows x cols`` raster: the sweep then follows that raster's digital lines, so
        its cells get exactly the mask the whole raster would give them wherever their shadow
        casters lie inside the window (see :mod:`simulators.solar.tiling`).

    Returns
    -------
    (rows, cols) uint8 array, 1 = shadowed, 0 = sunlit.
    """
    z = _as_heights(dsm, keep_float32=True)
    if sun_elevation_deg <= 0.0:
        return np.ones(z.shape, np.uint8)
    out = np.empty(z.shape, np.uint8)
    flips, slope, row_primary, col_dir, step = _travel(sun_azimuth_deg, cell_size_m)
    drop = step * math.tan(math.radians(sun_elevation_deg))
    phase = 0
    if window is not None:
        row0, col0, rows, cols = window
        if row_primary:  # index of the view's first row in the whole raster's travel order
            flipped = flips[0].step == -1
            phase = rows - row0 - z.shape[0] if flipped else row0
        else:
            flipped = flips[1].step == -1
            phase = cols - col0 - z.shape[1] if flipped else col0
    shadow_sweep(z[flips], slope, row_primary, col_dir, drop, out[flips], phase)
    return out


def shadow_mask_reference(
    dsm: np.ndarray,
    cell_size_m: float,
    sun_azimuth_deg: float,
    sun_elevation_deg: float,
    step_cells: float = 0.25,
) -> np.ndarray:
    """Slow brute-force reference: a continuous ray per cell over the bilinear surface."""
    z = _as_heights(dsm)
    if sun_elevation_deg <= 0.0:
        return np.ones(z.shape, np.uint8)
    return shadow_reference_ray(z, cell_size_m, sun_azimuth_deg, sun_elevation_deg, step_cells)


def horizon_tangent(
    dsm: np.ndarray, cell_size_m: float, azimuth_deg: float, scratch: tuple | None = None
) -> np.ndarray:
    """Tangent of the horizon elevation angle looking towards ``azimuth_deg``, per cell.

    O(N) amortized (upper convex hull along each digital line). ``-inf`` where nothing of the
    raster lies in that direction (edge cells). ``scratch`` (from :func:`horizon_scratch`) lets
    repeated calls on the same raster reuse their work arrays.
    """
    z = _as_heights(dsm)
    tan_h = np.empty(z.shape, np.float32)
    if scratch is None:
        scratch = horizon_scratch(z.shape)
    flips, slope, row_primary, col_dir, step = _travel(azimuth_deg, cell_size_m)
    horizon_sweep(z[flips], slope, row_primary, col_dir, step, tan_h[flips], *scratch)
    return tan_h


def horizon_scratch(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work arrays for :func:`horizon_tangent` (hull links, positions, heights)."""
    n = int(shape[0]) * int(shape[1])
    return np.empty(n, np.int64), np.empty(n, np.float64), np.empty(n, np.float64)


def sector_azimuths(n_sectors: int) -> np.ndarray:
    """Centre azimuths (degrees from north) of ``n_sectors`` equal sectors, the first at 0."""
    return np.arange(n_sectors) * (360.0 / n_sectors)


def horizon_angles(
    dsm: np.ndarray, cell_size_m: float, n_sectors: int = 72, progress: Progress = None
) -> np.ndarray:
    """Horizon elevation angles (degrees) in ``n_sectors`` azimuth directions.

    Returns a (n_sectors, rows, cols) float32 array; sector ``k`` looks towards azimuth
    ``k * 360 / n_sectors``. Edge cells with nothing in a direction get 0 (the flat horizon) for
    display; use :func:`horizon_tangent` for the raw value. Memory is ``4 * K * N`` bytes: for large
    rasters prefer :func:`sky_view_factor` or the fast sun-hours mode, which stream sectors.
    """
    z = _as_heights(dsm)
    out = np.empty((n_sectors,) + z.shape, np.float32)
    scratch = horizon_scratch(z.shape)
    for k, az in enumerate(sector_azimuths(n_sectors)):
        t = horizon_tangent(z, cell_size_m, az, scratch)
        out[k] = np.degrees(np.arctan(np.maximum(t, 0.0)))
        if progress:
            progress((k + 1) / n_sectors, "horizon")
    return out


def sky_view_factor(
    dsm: np.ndarray, cell_size_m: float, n_sectors: int = 72, progress: Progress = None
) -> np.ndarray:
    """Sky view factor of a horizontal surface at each cell, from horizon angles.

    ``SVF = 1 - mean_k sin^2(max(h_k, 0))`` (isotropic sky seen by a horizontal plane; e.g.
    Dozier & Marks 1990; Zakšek et al. 2011). 1 on open flat ground.
    """
    z = _as_heights(dsm)
    acc = np.zeros(z.shape, np.float64)
    scratch = horizon_scratch(z.shape)
    for k, az in enumerate(sector_azimuths(n_sectors)):
        t = np.maximum(horizon_tangent(z, cell_size_m, az, scratch).astype(np.float64), 0.0)
        acc += 1.0 / (1.0 + t * t)  # cos^2(h)
        if progress:
            progress((k + 1) / n_sectors, "sky view factor")
    return (acc / n_sectors).astype(np.float32)


def shadow_polygons(mask: np.ndarray, transform: Affine, crs=None) -> gpd.GeoDataFrame:
    """Shadowed areas of a mask as polygons (for the map), in the raster's CRS.

    Each connected shadowed region (4-connectivity) becomes one polygon with holes; the
    ``area_m2`` column is in CRS units squared.
    """
    mask = np.asarray(mask, dtype=np.uint8)
    geoms = [
        shape(geom)
        for geom, value in features.shapes(mask, mask=mask == 1, transform=transform)
        if value == 1
    ]
    gdf = gpd.GeoDataFrame({"geometry": geoms}, geometry="geometry", crs=crs)
    gdf["area_m2"] = gdf.geometry.area
    return gdf
