"""Road grid of the synthetic city: topology, street classes, one-ways, irregularity.

The grid is ``n_cols x n_rows`` intersections joined by straight street segments.
Every :data:`ARTERIAL_EVERY`-th grid line (counted from the centre line) is an
arterial, alternately ``primary`` and ``secondary``; the line half-way between two
arterials is a ``tertiary`` collector; the rest are ``residential`` streets. Some
pairs of adjacent residential streets become one-way couplets (opposite directions),
a few residential segments are removed, and node positions are jittered. A repair
pass then restores any segment needed to keep the directed graph strongly connected.

All coordinates are metres in the city's projected CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from simulators.common.road_defaults import link_defaults

#: street classes, indexed by the integer codes used in the arrays below
HIGHWAY_CLASSES: tuple[str, ...] = ("primary", "secondary", "tertiary", "residential")
PRIMARY, SECONDARY, TERTIARY, RESIDENTIAL = range(4)

#: lanes per direction by class (arterials are 2+2 lane streets)
LANES_PER_DIRECTION: dict[str, int] = {
    "primary": 2,
    "secondary": 2,
    "tertiary": 1,
    "residential": 1,
}

#: every k-th grid line is an arterial (720 m apart with 120 m blocks, like Helsinki's
#: main streets, which are roughly 0.5-1 km apart)
ARTERIAL_EVERY: int = 6
#: offset (in lines, from an arterial) of the tertiary collector between two arterials
TERTIARY_OFFSET: int = 3
#: offsets of the first line of each residential pair that may become a one-way couplet
ONEWAY_PAIR_OFFSETS: tuple[int, ...] = (1, 4)
#: share of candidate residential pairs made one-way couplets
ONEWAY_PAIR_SHARE: float = 0.35
#: share of interior two-way residential segments removed (dead ends, parks, blocks merged)
REMOVED_SEGMENT_SHARE: float = 0.03
#: block sizes vary uniformly within this factor range of ``block_size_m``
BLOCK_SIZE_RANGE: tuple[float, float] = (0.85, 1.15)
#: node jitter: normal with this standard deviation, clipped at ``JITTER_CLIP``
#: (both as shares of ``block_size_m``)
JITTER_SD: float = 0.05
JITTER_CLIP: float = 0.12


@dataclass(frozen=True)
class RoadGrid:
    """Undirected street segments of the grid and the directed links derived from them.

    Attributes
    ----------
    node_x, node_y : (n_rows, n_cols) float arrays, node coordinates in metres.
    row_class, col_class : street class code of each horizontal row / vertical column line.
    seg_u, seg_v : int64 arrays, segment end nodes (west->east or south->north).
    seg_class : int8 array, street class code of each segment.
    seg_direction : int8 array, 0 two-way, +1 one-way u->v, -1 one-way v->u.
    seg_present : bool array, False for removed segments.
    """

    node_x: np.ndarray
    node_y: np.ndarray
    row_class: np.ndarray
    col_class: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_class: np.ndarray
    seg_direction: np.ndarray
    seg_present: np.ndarray

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.size)

    def directed_links(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Directed links as ``(u, v, segment_index)`` arrays, two rows per two-way segment."""
        seg = np.flatnonzero(self.seg_present)
        direction = self.seg_direction[seg]
        fwd = seg[direction >= 0]
        bwd = seg[direction <= 0]
        u = np.concatenate([self.seg_u[fwd], self.seg_v[bwd]])
        v = np.concatenate([self.seg_v[fwd], self.seg_u[bwd]])
        s = np.concatenate([fwd, bwd])
        # keep a two-way street's two directions next to each other, like OSMnx output
        order = np.lexsort((np.concatenate([np.zeros(fwd.size), np.ones(bwd.size)]), s))
        return u[order], v[order], s[order]


def line_classes(n_lines: int) -> np.ndarray:
    """Street class code of each of ``n_lines`` parallel grid lines.

    The centre line is a primary arterial so that downtown sits on a main crossing.
    """
    centre = n_lines // 2
    offset = np.arange(n_lines) - centre
    r = offset % ARTERIAL_EVERY
    classes = np.full(n_lines, RESIDENTIAL, dtype=np.int8)
    classes[r == TERTIARY_OFFSET] = TERTIARY
    arterial = r == 0
    primary = (offset // ARTERIAL_EVERY) % 2 == 0
    classes[arterial & primary] = PRIMARY
    classes[arterial & ~primary] = SECONDARY
    return classes


def line_positions(n_lines: int, block_size_m: float, rng: np.random.Generator) -> np.ndarray:
    """Positions (m, centre line at 0) of ``n_lines`` grid lines with varied spacing."""
    spacing = block_size_m * rng.uniform(*BLOCK_SIZE_RANGE, size=max(n_lines - 1, 0))
    pos = np.concatenate([[0.0], np.cumsum(spacing)])
    return pos - pos[n_lines // 2]


def _oneway_directions(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Direction (+1, -1 or 0) of each line: one-way couplets on some residential pairs."""
    n = classes.size
    centre = n // 2
    r = (np.arange(n) - centre) % ARTERIAL_EVERY
    first = np.flatnonzero(np.isin(r, ONEWAY_PAIR_OFFSETS) & (np.arange(n) + 1 < n))
    first = first[(classes[first] == RESIDENTIAL) & (classes[first + 1] == RESIDENTIAL)]
    chosen = rng.random(first.size) < ONEWAY_PAIR_SHARE
    sign = np.where(rng.random(first.size) < 0.5, 1, -1).astype(np.int8)
    direction = np.zeros(n, dtype=np.int8)
    direction[first[chosen]] = sign[chosen]
    direction[first[chosen] + 1] = -sign[chosen]
    return direction


def strongly_connected_labels(n_nodes: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Strongly connected component label of every node (scipy, O(nodes + links))."""
    adjacency = coo_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    return labels


def build_road_grid(
    n_cols: int, n_rows: int, block_size_m: float, rng: np.random.Generator
) -> RoadGrid:
    """Generate the street grid of ``n_cols x n_rows`` intersections.

    Parameters
    ----------
    n_cols, n_rows : number of vertical / horizontal grid lines (at least 3 each).
    block_size_m : mean distance between adjacent grid lines, metres.
    rng : random generator; the result is a pure function of its state.

    Returns
    -------
    RoadGrid, node coordinates relative to the centre intersection (metres).
    """
    if n_cols < 3 or n_rows < 3:
        raise ValueError("the grid needs at least 3 x 3 intersections")
    col_x = line_positions(n_cols, block_size_m, rng)
    row_y = line_positions(n_rows, block_size_m, rng)
    col_class = line_classes(n_cols)
    row_class = line_classes(n_rows)

    jitter = rng.normal(0.0, JITTER_SD * block_size_m, size=(2, n_rows, n_cols))
    jitter = np.clip(jitter, -JITTER_CLIP * block_size_m, JITTER_CLIP * block_size_m)
    node_x = col_x[None, :] + jitter[0]
    node_y = row_y[:, None] + jitter[1]

    node_id = np.arange(n_rows * n_cols, dtype=np.int64).reshape(n_rows, n_cols)
    # horizontal segments run west->east along a row, vertical ones south->north along a column
    h_u, h_v = node_id[:, :-1].ravel(), node_id[:, 1:].ravel()
    v_u, v_v = node_id[:-1, :].ravel(), node_id[1:, :].ravel()
    h_line = np.repeat(np.arange(n_rows), n_cols - 1)
    v_line = np.tile(np.arange(n_cols), n_rows - 1)
    seg_u = np.concatenate([h_u, v_u])
    seg_v = np.concatenate([h_v, v_v])
    seg_class = np.concatenate([row_class[h_line], col_class[v_line]]).astype(np.int8)
    row_dir = _oneway_directions(row_class, rng)
    col_dir = _oneway_directions(col_class, rng)
    seg_direction = np.concatenate([row_dir[h_line], col_dir[v_line]]).astype(np.int8)

    # remove a few interior two-way residential segments
    on_boundary = np.concatenate(
        [
            (h_line == 0) | (h_line == n_rows - 1),
            (v_line == 0) | (v_line == n_cols - 1),
        ]
    )
    removable = (seg_class == RESIDENTIAL) & (seg_direction == 0) & ~on_boundary
    seg_present = ~(removable & (rng.random(seg_u.size) < REMOVED_SEGMENT_SHARE))

    grid = RoadGrid(
        node_x, node_y, row_class, col_class, seg_u, seg_v, seg_class, seg_direction, seg_present
    )
    return _repair_strong_connectivity(grid)


def _repair_strong_connectivity(grid: RoadGrid, max_rounds: int = 100) -> RoadGrid:
    """Restore removed segments and make one-ways two-way around nodes cut off from the core.

    Only segments touching nodes outside the largest strongly connected component are
    changed, so the irregularity survives everywhere else. The full two-way grid is
    strongly connected, so the loop always terminates.
    """
    present = grid.seg_present.copy()
    direction = grid.seg_direction.copy()
    for _ in range(max_rounds):
        candidate = RoadGrid(
            grid.node_x,
            grid.node_y,
            grid.row_class,
            grid.col_class,
            grid.seg_u,
            grid.seg_v,
            grid.seg_class,
            direction,
            present,
        )
        u, v, _ = candidate.directed_links()
        labels = strongly_connected_labels(grid.n_nodes, u, v)
        counts = np.bincount(labels)
        if counts.size == 1:
            return candidate
        outside = labels != np.argmax(counts)
        touching = outside[grid.seg_u] | outside[grid.seg_v]
        present = present | touching
        direction = np.where(touching, 0, direction).astype(np.int8)
    raise RuntimeError("could not make the synthetic road grid strongly connected")


def class_attributes() -> dict[str, np.ndarray]:
    """Speed (km/h), lanes per direction and capacity (veh/h) per class code.

    Taken from :func:`simulators.common.road_defaults.link_defaults` so that synthetic
    links get the same defaults as OSM links of the same class.
    """
    speed, lanes, capacity = [], [], []
    for name in HIGHWAY_CLASSES:
        s, n, c = link_defaults(name, lanes=LANES_PER_DIRECTION[name], oneway=True)
        speed.append(s)
        lanes.append(n)
        capacity.append(c)
    return {
        "speed_kph": np.asarray(speed, dtype=float),
        "lanes": np.asarray(lanes, dtype=np.int64),
        "capacity_veh_h": np.asarray(capacity, dtype=float),
    }


def expected_links_per_segment() -> float:
    """Rough number of directed links per grid segment, used to size the grid."""
    # share of lines that are residential and in a candidate one-way pair
    pair_lines = 2 * len(ONEWAY_PAIR_OFFSETS) / ARTERIAL_EVERY
    oneway_share = pair_lines * ONEWAY_PAIR_SHARE
    residential_share = (ARTERIAL_EVERY - 2) / ARTERIAL_EVERY
    removed_share = (residential_share - oneway_share) * REMOVED_SEGMENT_SHARE
    return 2.0 - oneway_share - 2.0 * removed_share
