"""Sun hours for a whole city: tiles with a shadow halo, processed within a memory budget.

A city-wide raster at 1 m does not fit in memory with its work arrays (100 km2 = 10^8 cells),
so the output grid is cut into square tiles. Each tile's surface model is rasterized from the
buildings with a *halo* around it, as wide as the longest shadow that matters:
``relief / tan(min_sun_elevation)`` (tallest building above the lowest ground, lowest sun
elevation considered), and each time step sweeps only the part of the halo that lies towards
the sun, as long as that step's shadows (``relief / tan(elevation)``).

Exactness. Every sweep is given its window's place in the output grid
(:func:`simulators.solar.shadow.shadow_mask`'s ``window``), so it follows the digital lines of
that grid, and every cell's shadow test only depends on the cells within its shadow length
towards the sun. So a tiled run gives *the same value in every cell* as one sweep over the
whole reference raster (the output grid grown by the halo) on the same lines, whatever the tile
size and whatever the halo (tested cell by cell): runs of two scenarios over the same grid
differ only where their buildings differ.

Sun below ``min_sun_elevation_deg``. A shadow at elevation ``e`` reaches ``relief / tan(e)``,
unbounded as the sun sets; a halo has to stop somewhere. A cell counts as lit by a sun lower
than ``min_sun_elevation_deg`` when nothing around it rises above that elevation (its mask at
``min_sun_elevation_deg``), i.e. horizons lower than it are taken as flat: obstacles farther
than the halo (``min_sun_elevation_deg`` = 5 deg: 11.4 x the tallest building) are not seen.
The same rule in :func:`simulators.solar.sunhours.irradiation` (``min_sun_elevation_deg``)
gives the untiled reference.

Parallelism: tiles are computed by ``threads`` threads (the numba sweeps release the GIL);
results come back in tile order, so the output does not depend on the thread count.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio import features
from rasterio.shutil import copy as rio_copy
from rasterio.windows import Window

from .dsm import building_heights, grid_for_bounds
from .kernels import accumulate_hours
from .shadow import shadow_mask

Progress = Callable[[float, str], None] | None

#: cell sides (m) the engine chooses from, finest first (1 m: about the accuracy of mapped
#: footprints; a finer cell can still be given)
CELL_SIZES_M: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
#: most output cells the automatic cell size allows (1 m up to 120 km2)
DEFAULT_MAX_CELLS = 120_000_000
#: memory (MB) the tiles' arrays may take together, all threads included
DEFAULT_MEMORY_BUDGET_MB = 1500.0
#: lowest sun elevation (deg) whose shadows are followed to their end (5 deg: 11.4 x height)
DEFAULT_MIN_SUN_ELEVATION_DEG = 5.0
#: seconds between progress reports while tiles are computed
PROGRESS_INTERVAL_S = 0.5
#: smallest tile side (cells); tiles are multiples of it
TILE_QUANTUM = 256
#: cells added to every halo: half a cell of cast height, digital-line rounding and the
#: neighbour a ray clips (:func:`simulators.solar.kernels.line_spills`)
HALO_MARGIN_CELLS = 3

Win = tuple[int, int, int, int]  # row0, col0, rows, cols in the reference raster


def choose_cell_m(
    bounds: tuple[float, float, float, float], max_cells: int = DEFAULT_MAX_CELLS
) -> float:
    """Finest cell side of :data:`CELL_SIZES_M` (m) giving at most ``max_cells`` over ``bounds``.

    ``bounds`` are (minx, miny, maxx, maxy) in a metric CRS. Raises ``ValueError`` when even the
    coarsest cell gives too many cells.
    """
    minx, miny, maxx, maxy = bounds
    for cell in CELL_SIZES_M:
        rows, cols = grid_for_bounds(bounds, cell)[1]
        if rows * cols <= max_cells:
            return cell
    raise ValueError(
        f"the area ({(maxx - minx) / 1000:.0f} x {(maxy - miny) / 1000:.0f} km) needs more than "
        f"{max_cells:,} cells even at {CELL_SIZES_M[-1]} m"
    )


def halo_cells(relief_m: float, cell_m: float, elevation_deg: float) -> int:
    """Cells a shadow can reach from an obstacle ``relief_m`` high with the sun at ``elevation_deg``.

    Beyond ``relief / (cell tan(e)) + 1/2`` primary steps a caster's shadow surface is below
    every cell (cells cast from their top, half a step ahead of the centre); 2 cells spare.
    """
    return int(math.ceil(relief_m / (cell_m * math.tan(math.radians(elevation_deg))))) + 2


@dataclass(frozen=True)
class TilePlan:
    """How a city-wide sun-hours raster is cut into tiles.

    Attributes
    ----------
    transform, shape : output grid (north-up, square cells of ``cell_m`` metres), in ``crs``.
    crs : projected metric CRS.
    relief_m : highest surface above the lowest ground (m): the tallest building on flat ground.
    min_sun_elevation_deg : lowest sun elevation whose shadows are followed to their end.
    tile_cells : side of a square tile (cells); edge tiles are smaller.
    threads : tiles computed at once.
    memory_budget_mb : what the tiles' arrays may take together (the plan fits in it).
    """

    transform: Affine
    shape: tuple[int, int]
    crs: object
    relief_m: float
    min_sun_elevation_deg: float = DEFAULT_MIN_SUN_ELEVATION_DEG
    tile_cells: int = 4096
    threads: int = 1
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB
    halo: int = field(init=False)

    def __post_init__(self):
        if not (0.5 <= self.min_sun_elevation_deg <= 45.0):
            raise ValueError(
                f"min_sun_elevation_deg must be 0.5..45 deg, got {self.min_sun_elevation_deg!r}"
            )
        if not (math.isfinite(self.relief_m) and self.relief_m >= 0):
            raise ValueError(f"relief_m must be a finite height >= 0 m, got {self.relief_m!r}")
        if self.tile_cells < 16:
            raise ValueError(f"tile_cells must be at least 16, got {self.tile_cells!r}")
        if not 1 <= self.threads <= 64:
            raise ValueError(f"threads must be 1..64, got {self.threads!r}")
        if min(self.shape) < 1:
            raise ValueError(f"the grid is empty: shape {self.shape}")
        halo = halo_cells(self.relief_m, self.cell_m, self.min_sun_elevation_deg)
        # a step's sweep reaches its shadow length + margin, sideways + margin again
        object.__setattr__(self, "halo", halo + 2 * HALO_MARGIN_CELLS)

    @property
    def cell_m(self) -> float:
        """Cell side (m)."""
        return float(abs(self.transform.a))

    @property
    def reference_shape(self) -> tuple[int, int]:
        """Shape of the reference raster: the output grid grown by the halo on every side."""
        return self.shape[0] + 2 * self.halo, self.shape[1] + 2 * self.halo

    @property
    def reference_transform(self) -> Affine:
        """Transform of the reference raster (the untiled run's surface model)."""
        return self.transform @ Affine.translation(-self.halo, -self.halo)

    def windows(self) -> list[Win]:
        """Core windows of the tiles, row by row, in reference-raster cells."""
        rows, cols = self.shape
        t, h = self.tile_cells, self.halo
        return [
            (h + r, h + c, min(t, rows - r), min(t, cols - c))
            for r in range(0, rows, t)
            for c in range(0, cols, t)
        ]

    def describe(self) -> dict:
        """What the engine chose, in words and numbers with units (for a run's report)."""
        return {
            "cell_m": self.cell_m,
            "rows": self.shape[0],
            "cols": self.shape[1],
            "cells": self.shape[0] * self.shape[1],
            "tiles": len(self.windows()),
            "tile_cells": self.tile_cells,
            "tile_m": self.tile_cells * self.cell_m,
            "halo_m": self.halo * self.cell_m,
            "relief_m": self.relief_m,
            "min_sun_elevation_deg": self.min_sun_elevation_deg,
            "threads": self.threads,
            "memory_budget_mb": self.memory_budget_mb,
            "tile_memory_mb": round(tile_bytes(self.tile_cells, self.halo, 0) / 1e6, 1),
        }


def tile_bytes(tile_cells: int, halo: int, n_masks: int) -> int:
    """Bytes one tile's arrays take: surface (float32) and one step's mask over tile + halo;
    sun hours (float64 + float32 copy), building labels (int32) and kept masks on the core."""
    outer = (tile_cells + 2 * halo) ** 2
    return outer * (4 + 1) + tile_cells**2 * (8 + 4 + 4 + n_masks)


def plan_tiles(
    bounds: tuple[float, float, float, float],
    relief_m: float,
    crs,
    cell_m: float | None = None,
    min_sun_elevation_deg: float = DEFAULT_MIN_SUN_ELEVATION_DEG,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    threads: int | None = None,
    n_masks: int = 0,
    max_cells: int = DEFAULT_MAX_CELLS,
    tile_cells: int | None = None,
) -> TilePlan:
    """Choose cell size (when ``cell_m`` is None), tile size and threads for an area.

    Parameters
    ----------
    bounds : area of the output raster (minx, miny, maxx, maxy), in ``crs`` metres.
    relief_m : tallest building above the lowest ground (m).
    crs : projected metric CRS.
    cell_m : cell side (m); None: :func:`choose_cell_m` with ``max_cells``.
    min_sun_elevation_deg : lowest sun elevation whose shadows are followed (sets the halo).
    memory_budget_mb : what all tiles in flight may take together (MB).
    threads : tiles computed at once; None: the CPUs this process may use, at most 8.
    n_masks : per-step shadow masks kept per tile (bytes per core cell each).
    tile_cells : force the tile side (cells); None: the largest multiple of
        :data:`TILE_QUANTUM` within the budget (never more than the grid needs).
    """
    if not (0.5 <= min_sun_elevation_deg <= 45.0):
        raise ValueError(
            f"min_sun_elevation_deg must be 0.5..45 deg, got {min_sun_elevation_deg!r}"
        )
    if cell_m is None:
        cell_m = choose_cell_m(bounds, max_cells)
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive length in metres, got {cell_m!r}")
    if threads is None:
        threads = max(1, min(8, len(os.sched_getaffinity(0))))
    transform, shape = grid_for_bounds(bounds, cell_m)
    halo = halo_cells(relief_m, cell_m, min_sun_elevation_deg) + 2 * HALO_MARGIN_CELLS
    if tile_cells is None:
        # one tile per thread is computed while the caller stores the previous one
        in_flight = threads + 1
        budget = memory_budget_mb * 1e6 / in_flight
        tile_cells = TILE_QUANTUM
        biggest = math.ceil(max(shape) / TILE_QUANTUM) * TILE_QUANTUM
        while (
            tile_cells + TILE_QUANTUM <= biggest
            and tile_bytes(tile_cells + TILE_QUANTUM, halo, n_masks) <= budget
        ):
            tile_cells += TILE_QUANTUM
        if tile_bytes(tile_cells, halo, n_masks) > budget:
            raise ValueError(
                f"memory_budget_mb={memory_budget_mb} cannot hold one {TILE_QUANTUM}-cell tile "
                f"with a {halo * cell_m:.0f} m halo per thread; give more memory or larger cells"
            )
    return TilePlan(
        transform, shape, crs, float(relief_m), float(min_sun_elevation_deg),
        int(tile_cells), int(threads), float(memory_budget_mb),
    )  # fmt: skip


@dataclass
class TileResult:
    """One tile's results on its core window (output-grid cells ``row0:row0+rows``, ...).

    ``sun_hours`` float32 (h); ``labels`` int32 row of the building covering each cell (-1:
    none), when asked; ``masks`` uint8 (steps, rows, cols), 1 = shadow, when asked.
    """

    row0: int
    col0: int
    sun_hours: np.ndarray
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None

    @property
    def window(self) -> Window:
        """rasterio window in the output grid."""
        return Window(self.col0, self.row0, self.sun_hours.shape[1], self.sun_hours.shape[0])


def step_window(core: Win, azimuth_deg: float, halo: int, outer: Win) -> Win:
    """Window a step's sweep needs: the core grown by ``halo`` cells towards the sun.

    Sideways (the secondary axis of the sweep) it grows by the lines' drift over ``halo``
    steps towards the sun, and by the margin the other way; clipped to ``outer``.
    """
    r0, c0, nr, nc = core
    d_row, d_col = -math.cos(math.radians(azimuth_deg)), math.sin(math.radians(azimuth_deg))
    row_primary = abs(d_row) >= abs(d_col)
    primary, secondary = (d_row, d_col) if row_primary else (d_col, d_row)
    slope = abs(secondary) / max(abs(primary), 1e-12)
    side = int(math.ceil(slope * halo)) + HALO_MARGIN_CELLS
    grow_p = (halo, 0) if primary < 0 else (0, halo)  # (before, after) along the axis
    grow_s = (side, HALO_MARGIN_CELLS) if secondary < 0 else (HALO_MARGIN_CELLS, side)
    (rb, ra), (cb, ca) = (grow_p, grow_s) if row_primary else (grow_s, grow_p)
    o_r0, o_c0, o_nr, o_nc = outer
    top, left = max(o_r0, r0 - rb), max(o_c0, c0 - cb)
    bottom, right = min(o_r0 + o_nr, r0 + nr + ra), min(o_c0 + o_nc, c0 + nc + ca)
    return top, left, bottom - top, right - left


def _rasterize(geoms, values, transform: Affine, shape, fill, dtype) -> np.ndarray:
    out = np.full(shape, fill, dtype)
    if len(geoms):
        features.rasterize(zip(geoms, values, strict=True), out=out, transform=transform)
    return out


class _City:
    """Buildings ready for tile queries: heights, a spatial index, the global burn order."""

    def __init__(self, buildings: gpd.GeoDataFrame, height_field: str):
        keep = buildings.geometry.notna().to_numpy() & ~buildings.geometry.is_empty.to_numpy()
        self.index = np.nonzero(keep)[0]  # row of each kept building in the caller's frame
        self.geoms = buildings.geometry.to_numpy()[keep]
        self.heights = building_heights(buildings, height_field)[keep].astype(np.float64)
        # taller buildings are burnt last (they win shared cells); ties keep the frame order
        self.rank = np.empty(len(self.geoms), np.int64)
        self.rank[np.argsort(self.heights, kind="stable")] = np.arange(len(self.geoms))
        self.tree = shapely.STRtree(self.geoms)

    def query(self, transform: Affine, shape) -> np.ndarray:
        """Buildings touching a grid window, in burn order."""
        minx, maxy = transform @ (0, 0)
        maxx, miny = transform @ (shape[1], shape[0])
        found = self.tree.query(shapely.box(minx, miny, maxx, maxy))
        return found[np.argsort(self.rank[found], kind="stable")]


class _Shared:
    """What the worker threads and the caller's thread share: steps done, a stop request."""

    def __init__(self):
        self.steps_done = 0  # only ever incremented (under the GIL); read for progress
        self.stop = threading.Event()


class _Stopped(Exception):
    """A tile's thread stopped because the caller stopped reading (error or cancellation)."""


def _tile(
    plan: TilePlan,
    city: _City,
    sun: pd.DataFrame,
    core: Win,
    labels: bool,
    masks: bool,
    shared: _Shared,
):
    h = plan.halo
    ref_rows, ref_cols = plan.reference_shape
    r0, c0, nr, nc = core
    top, left = max(0, r0 - h), max(0, c0 - h)
    outer = (top, left, min(ref_rows, r0 + nr + h) - top, min(ref_cols, c0 + nc + h) - left)
    ref = plan.reference_transform
    t_outer = ref @ Affine.translation(outer[1], outer[0])
    found = city.query(t_outer, outer[2:])
    z = _rasterize(city.geoms[found], city.heights[found], t_outer, outer[2:], 0.0, np.float32)
    hours = np.zeros((nr, nc), np.float64)
    kept = np.empty((len(sun), nr, nc), np.uint8) if masks else None
    cell = plan.cell_m
    for k, (az, el, dt) in enumerate(
        zip(sun["azimuth_deg"], sun["elevation_deg"], sun["duration_h"], strict=True)
    ):
        if shared.stop.is_set():
            raise _Stopped
        el_eff = max(float(el), plan.min_sun_elevation_deg)
        reach = halo_cells(plan.relief_m, cell, el_eff) + HALO_MARGIN_CELLS
        w0, w1, wr, wc = step_window(core, float(az), reach, outer)
        view = z[w0 - outer[0] : w0 - outer[0] + wr, w1 - outer[1] : w1 - outer[1] + wc]
        # digital lines anchored to the output grid, so that they do not depend on the halo
        frame = (w0 - h, w1 - h, plan.shape[0], plan.shape[1])
        mask = shadow_mask(view, cell, float(az), el_eff, window=frame)
        core_mask = mask[r0 - w0 : r0 - w0 + nr, c0 - w1 : c0 - w1 + nc]
        accumulate_hours(core_mask, float(dt), hours)
        if kept is not None:
            kept[k] = core_mask
        shared.steps_done += 1
    lab = None
    if labels:
        t_core = ref @ Affine.translation(c0, r0)
        inside = city.query(t_core, (nr, nc))
        lab = _rasterize(city.geoms[inside], city.index[inside], t_core, (nr, nc), -1, np.int32)
    return TileResult(r0 - h, c0 - h, hours.astype(np.float32), lab, kept)


def tiled_sun_hours(
    buildings: gpd.GeoDataFrame,
    plan: TilePlan,
    sun: pd.DataFrame,
    labels: bool = False,
    masks: bool = False,
    height_field: str = "height_m",
    progress: Progress = None,
) -> Iterator[TileResult]:
    """Sun hours per cell of ``plan``'s grid, tile by tile (a generator, tiles in row order).

    Parameters
    ----------
    buildings : footprints in ``plan.crs`` (metres) with heights above flat ground (m) in
        ``height_field`` (see :func:`simulators.solar.dsm.building_heights`).
    plan : :func:`plan_tiles`.
    sun : daylight sun positions, one row per time step: ``azimuth_deg`` (clockwise from
        north), ``elevation_deg`` (> 0) and ``duration_h`` (hours each step stands for), e.g.
        :func:`simulators.solar.sunhours.sun_positions` for the area's centre.
    labels : also return the row (in ``buildings``) of the building covering each cell.
    masks : also return every step's shadow mask on the tile (1 = shadow).
    progress : ``progress(fraction, stage)``, every :data:`PROGRESS_INTERVAL_S` seconds while
        tiles are computed, from the caller's thread; if it raises, the threads stop.
    """
    if buildings.crs is None or not buildings.crs.is_projected:
        raise ValueError("buildings must be in a projected metric CRS (e.g. UTM)")
    if len(sun) and float(sun["elevation_deg"].min()) <= 0.0:
        raise ValueError("sun: give daylight positions only (elevation_deg > 0)")
    city = _City(buildings, height_field)
    cores = plan.windows()
    shared = _Shared()
    total = max(1, len(cores) * len(sun))

    def wait(future):
        # the caller's thread reports progress while the tiles are computed (a progress
        # callback may raise to cancel: the finally below then stops the threads)
        while True:
            try:
                return future.result(timeout=PROGRESS_INTERVAL_S)
            except FuturesTimeout:
                if progress:
                    done = shared.steps_done
                    progress(done / total, f"sun hours: {done:,} of {total:,} tile steps")

    with ThreadPoolExecutor(max_workers=plan.threads) as pool:
        try:
            pending = []
            for core in cores:
                pending.append(pool.submit(_tile, plan, city, sun, core, labels, masks, shared))
                if len(pending) > plan.threads:
                    yield wait(pending.pop(0))
            while pending:
                yield wait(pending.pop(0))
            if progress:
                progress(1.0, f"sun hours: {len(cores)} tiles done")
        finally:
            shared.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)


class GridWriter:
    """One band of a plan's grid written window by window, then turned into a COG.

    A tiled, uncompressed GeoTIFF grows on disk as tiles arrive (compressing it too would cost
    as much as the COG's own compression); :meth:`to_cog` copies it into a Cloud-Optimized
    GeoTIFF (internal tiles, overviews, deflate on every CPU) and removes it.
    """

    def __init__(self, plan: TilePlan, dtype, folder: str | Path | None = None, nodata=None):
        handle, self.tmp = tempfile.mkstemp(suffix=".tif", dir=folder)
        os.close(handle)
        self.dataset = rasterio.open(
            self.tmp, "w", driver="GTiff", height=plan.shape[0], width=plan.shape[1], count=1,
            dtype=dtype, crs=plan.crs, transform=plan.transform, nodata=nodata, tiled=True,
            blockxsize=512, blockysize=512, BIGTIFF="IF_SAFER",
        )  # fmt: skip
        self.maximum = -np.inf

    def write(self, window: Window, array: np.ndarray) -> None:
        """Write ``array`` at ``window`` (output-grid cells)."""
        self.dataset.write(array, 1, window=window)
        if array.size:
            self.maximum = max(self.maximum, float(array.max()))

    def to_cog(self, path: str | Path) -> None:
        """Close and copy into a COG at ``path`` (deflate, average overviews)."""
        self.dataset.close()
        rio_copy(
            self.tmp, str(path), driver="COG", compress="DEFLATE",
            overview_resampling="average", BIGTIFF="IF_SAFER", NUM_THREADS="ALL_CPUS",
        )  # fmt: skip
        os.unlink(self.tmp)

    def discard(self) -> None:
        """Close and remove the partial file."""
        if not self.dataset.closed:
            self.dataset.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def sun_hours_cog(
    buildings: gpd.GeoDataFrame,
    plan: TilePlan,
    sun: pd.DataFrame,
    path: str | Path,
    height_field: str = "height_m",
    progress: Progress = None,
) -> dict:
    """Sun hours of the whole grid into one COG at ``path``; returns a summary.

    Summary: ``plan`` (:meth:`TilePlan.describe`), ``max_sun_hours_h``, ``mean_sun_hours_h``.
    """
    writer = GridWriter(plan, "float32", folder=Path(path).parent)
    total = 0.0
    try:
        for result in tiled_sun_hours(buildings, plan, sun, height_field=height_field,
                                      progress=progress):  # fmt: skip
            writer.write(result.window, result.sun_hours)
            total += float(result.sun_hours.sum(dtype=np.float64))
        writer.to_cog(path)
    except BaseException:
        writer.discard()
        raise
    return {
        "plan": plan.describe(),
        "max_sun_hours_h": writer.maximum,
        "mean_sun_hours_h": total / (plan.shape[0] * plan.shape[1]),
    }
