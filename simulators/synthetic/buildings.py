"""Buildings of the synthetic city: footprints in blocks, uses, heights, residents, workers.

Each block (the cell between four neighbouring grid intersections) is shrunk by a
setback from every street centreline and split into a regular grid of lots; each
chosen lot holds one axis-aligned rectangular footprint strictly inside it, so
footprints never overlap each other and never touch a street centreline.

Uses and heights depend on the normalised distance ``t`` from the centre (0 at the
centre, 1 at the edge of the city's inscribed circle and beyond): downtown is taller
and more commercial, the outskirts lower, more residential and more industrial.
All lengths in metres, areas in square metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.common.occupancy import FLOOR_AREA_PER_RESIDENT_M2, STOREY_HEIGHT_M
from simulators.common.occupancy import FLOOR_AREA_PER_WORKER_M2 as _WORKER_RATES
from simulators.synthetic.roads import RoadGrid

#: building uses, indexed by the integer codes below
USES: tuple[str, ...] = ("residential", "commercial", "industrial", "public")
RESIDENTIAL, COMMERCIAL, INDUSTRIAL, PUBLIC = range(4)

#: distance from a street centreline to the building line, by street class code
#: (primary, secondary, tertiary, residential): half the street width (about 24 m for a
#: 2+2 lane arterial with sidewalks, 14 m for a collector, 10 m for a local street)
#: plus a front yard of about 3 m
SETBACK_M: np.ndarray = np.array([15.0, 15.0, 10.0, 8.0])
#: footprint width and depth as a share of the lot's (uniform in this range)
FOOTPRINT_SHARE_OF_LOT: tuple[float, float] = (0.5, 0.85)
#: clear margin kept inside each lot edge, as a share of the lot size
LOT_MARGIN_SHARE: float = 0.05
#: smallest lot side (m) accepted; smaller lots mean too many buildings per block
MIN_LOT_SIDE_M: float = 6.0

#: probability of each use at the centre (t=0) and at the edge (t=1), linear in between
USE_SHARE_CENTRE: np.ndarray = np.array([0.52, 0.40, 0.02, 0.06])
USE_SHARE_EDGE: np.ndarray = np.array([0.69, 0.10, 0.15, 0.06])

#: log-normal heights per use: median at the centre and at the edge (m, geometric
#: interpolation in between), log standard deviation, and clip range (m)
HEIGHT_MEDIAN_CENTRE_M: np.ndarray = np.array([18.0, 24.0, 8.0, 14.0])
HEIGHT_MEDIAN_EDGE_M: np.ndarray = np.array([7.0, 9.0, 8.0, 9.0])
HEIGHT_LOG_SD: np.ndarray = np.array([0.30, 0.35, 0.25, 0.25])
HEIGHT_MIN_M: np.ndarray = np.array([3.0, 3.5, 4.0, 4.0])
HEIGHT_MAX_M: np.ndarray = np.array([60.0, 100.0, 20.0, 40.0])

#: non-residential floor area per worker (m2): the synthetic city's uses are mixed, so one
#: rate for all of them, the twin's office rate (simulators.common.occupancy)
FLOOR_AREA_PER_WORKER_M2: float = _WORKER_RATES["commercial"]


@dataclass(frozen=True)
class Footprints:
    """Axis-aligned building rectangles in grid coordinates (metres, centre at 0, 0)."""

    xmin: np.ndarray
    ymin: np.ndarray
    xmax: np.ndarray
    ymax: np.ndarray


def block_interiors(grid: RoadGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Buildable rectangle of every block: inside all four streets, minus setbacks.

    The streets of a block run straight between its jittered corners, so the
    rectangle bounded by the innermost corner coordinates (shifted by the setback)
    lies inside the block. Returns ``(xmin, ymin, xmax, ymax)``, each of shape
    ``(n_rows - 1) * (n_cols - 1)``, row-major from the south-west block.
    """
    x, y = grid.node_x, grid.node_y
    col_setback = SETBACK_M[grid.col_class]
    row_setback = SETBACK_M[grid.row_class]
    xmin = np.maximum(x[:-1, :-1], x[1:, :-1]) + col_setback[None, :-1]
    xmax = np.minimum(x[:-1, 1:], x[1:, 1:]) - col_setback[None, 1:]
    ymin = np.maximum(y[:-1, :-1], y[:-1, 1:]) + row_setback[:-1, None]
    ymax = np.minimum(y[1:, :-1], y[1:, 1:]) - row_setback[1:, None]
    return xmin.ravel(), ymin.ravel(), xmax.ravel(), ymax.ravel()


def lot_grid_shape(buildings_per_block: int) -> tuple[int, int]:
    """Columns and rows of lots per block, the squarest grid with enough lots."""
    n_cols = int(np.ceil(np.sqrt(buildings_per_block)))
    n_rows = int(np.ceil(buildings_per_block / n_cols))
    return n_cols, n_rows


def place_footprints(
    grid: RoadGrid,
    rng: np.random.Generator,
    buildings_per_block: int | None = None,
    n_buildings: int | None = None,
) -> Footprints:
    """Rectangular footprints, one per chosen lot, vectorised over all lots.

    Parameters
    ----------
    grid : the road grid.
    rng : random generator.
    buildings_per_block : buildings in every block (each block picks that many lots).
    n_buildings : total buildings in the city (lots picked at random city-wide);
        exactly one of the two must be given.
    """
    if (buildings_per_block is None) == (n_buildings is None):
        raise ValueError("give exactly one of buildings_per_block and n_buildings")
    bx0, by0, bx1, by1 = block_interiors(grid)
    n_blocks = bx0.size
    width, depth = bx1 - bx0, by1 - by0
    per_block = (
        int(buildings_per_block)
        if buildings_per_block is not None
        else int(np.ceil(n_buildings / n_blocks))
    )
    if per_block < 0:
        raise ValueError("the number of buildings must be non-negative")
    if per_block == 0:
        empty = np.zeros(0)
        return Footprints(empty, empty, empty, empty)
    lot_cols, lot_rows = lot_grid_shape(per_block)
    lots_per_block = lot_cols * lot_rows
    lot_w, lot_d = width / lot_cols, depth / lot_rows
    if min(lot_w.min(), lot_d.min()) < MIN_LOT_SIDE_M:
        raise ValueError(
            f"lots narrower than {MIN_LOT_SIDE_M} m: too many buildings per block "
            f"({per_block}) for block_size_m; use a larger block size or fewer buildings"
        )

    # choose lots: (block index, lot index within the block)
    if buildings_per_block is not None:
        keys = rng.random((n_blocks, lots_per_block))
        lot = np.argsort(keys, axis=1)[:, :per_block]
        lot.sort(axis=1)
        block = np.repeat(np.arange(n_blocks), per_block)
        lot = lot.ravel()
    else:
        if n_buildings > n_blocks * lots_per_block:  # cannot happen with ceil, kept for safety
            raise ValueError("more buildings than lots")
        flat = np.sort(rng.choice(n_blocks * lots_per_block, size=n_buildings, replace=False))
        block, lot = np.divmod(flat, lots_per_block)

    lot_x0 = bx0[block] + (lot % lot_cols) * lot_w[block]
    lot_y0 = by0[block] + (lot // lot_cols) * lot_d[block]
    lw, ld = lot_w[block], lot_d[block]
    n = block.size
    w = lw * rng.uniform(*FOOTPRINT_SHARE_OF_LOT, size=n)
    d = ld * rng.uniform(*FOOTPRINT_SHARE_OF_LOT, size=n)
    # free play left after the footprint and the margins on both sides
    play_x = lw * (1.0 - 2.0 * LOT_MARGIN_SHARE) - w
    play_y = ld * (1.0 - 2.0 * LOT_MARGIN_SHARE) - d
    x0 = lot_x0 + LOT_MARGIN_SHARE * lw + rng.random(n) * play_x
    y0 = lot_y0 + LOT_MARGIN_SHARE * ld + rng.random(n) * play_y
    return Footprints(x0, y0, x0 + w, y0 + d)


def normalised_distance(x: np.ndarray, y: np.ndarray, radius_m: float) -> np.ndarray:
    """Distance from the centre (0, 0) over ``radius_m``, clipped to [0, 1]."""
    return np.clip(np.hypot(x, y) / radius_m, 0.0, 1.0)


def assign_uses(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Use code per building from its normalised distance ``t`` to the centre."""
    share = USE_SHARE_CENTRE[None, :] * (1.0 - t[:, None]) + USE_SHARE_EDGE[None, :] * t[:, None]
    cumulative = np.cumsum(share, axis=1)
    draw = rng.random(t.size)[:, None] * cumulative[:, -1:]
    return np.minimum((draw >= cumulative).sum(axis=1), len(USES) - 1).astype(np.int8)


def assign_heights(use: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Height (m) per building: log-normal around a use- and distance-dependent median."""
    median = (
        HEIGHT_MEDIAN_CENTRE_M[use] * (HEIGHT_MEDIAN_EDGE_M[use] / HEIGHT_MEDIAN_CENTRE_M[use]) ** t
    )
    height = median * np.exp(HEIGHT_LOG_SD[use] * rng.standard_normal(use.size))
    return np.clip(height, HEIGHT_MIN_M[use], HEIGHT_MAX_M[use])


def occupancy(
    use: np.ndarray, footprint_m2: np.ndarray, height_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levels, floor area (m2), residents and workers per building.

    levels = round(height / 3 m), at least 1; floor area = footprint x levels;
    residents = residential floor area / 40 m2; workers = other floor area / 30 m2.
    """
    levels = np.maximum(1, np.rint(height_m / STOREY_HEIGHT_M)).astype(np.int64)
    floor_area = footprint_m2 * levels
    residential = use == RESIDENTIAL
    residents = np.where(residential, np.rint(floor_area / FLOOR_AREA_PER_RESIDENT_M2), 0)
    workers = np.where(residential, 0, np.rint(floor_area / FLOOR_AREA_PER_WORKER_M2))
    return levels, floor_area, residents.astype(np.int64), workers.astype(np.int64)
