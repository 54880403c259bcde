"""Synthetic city generator: a seeded, sized road grid with buildings in a projected CRS.

Real extracts are small (the Helsinki demo: about 500 buildings and 300 drivable
links), so every engine's scaling benchmark runs on cities from
:func:`generate_city`, which is a pure function of its arguments (no Django, no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from simulators.synthetic import buildings as bld
from simulators.synthetic import roads

#: buildings per block when neither ``buildings_per_block`` nor ``n_buildings`` is given
DEFAULT_BUILDINGS_PER_BLOCK: int = 12
#: largest supported sizes (generation is vectorised; beyond these memory grows linearly)
MAX_ROAD_LINKS: int = 2_000_000
MIN_ROAD_LINKS: int = 24


@dataclass(frozen=True)
class SyntheticCity:
    """A generated city.

    Attributes
    ----------
    nodes : GeoDataFrame indexed by ``node_id`` (int64); columns ``geometry`` (Point)
        and ``osmid`` (int64, negative synthetic ids).
    edges : GeoDataFrame of directed links (a two-way street is two rows, like OSMnx);
        columns ``u``, ``v``, ``key``, ``geometry`` (LineString u->v), ``highway``,
        ``lanes`` (per direction), ``speed_kph``, ``capacity_veh_h``, ``oneway``,
        ``length_m`` and ``osmid`` (int64, negative, shared by both directions).
    buildings : GeoDataFrame; columns ``geometry`` (Polygon), ``building_id`` (int64),
        ``height_m``, ``levels``, ``use``, ``floor_area_m2``, ``residents``, ``workers``.
    crs : projected CRS of all three frames, e.g. ``"EPSG:32635"`` (metres).
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    crs: str

    def to_networkx(self) -> nx.MultiDiGraph:
        """Road graph with OSMnx conventions.

        Nodes carry ``x`` and ``y`` (metres, in ``crs``); edges carry ``osmid``,
        ``length`` (m), ``speed_kph``, ``travel_time`` (s), ``lanes``, ``capacity``
        (veh/h), ``highway``, ``oneway`` and ``geometry``; ``G.graph["crs"]`` is the CRS.
        """
        graph = nx.MultiDiGraph(crs=self.crs)
        node_x = shapely.get_x(self.nodes.geometry.values)
        node_y = shapely.get_y(self.nodes.geometry.values)
        graph.add_nodes_from(
            (int(n), {"x": float(x), "y": float(y)})
            for n, x, y in zip(self.nodes.index, node_x, node_y)
        )
        e = self.edges
        travel_time = e["length_m"].to_numpy() / (e["speed_kph"].to_numpy() / 3.6)
        graph.add_edges_from(
            (
                int(u),
                int(v),
                int(k),
                {
                    "osmid": int(osmid),
                    "length": float(length),
                    "speed_kph": float(speed),
                    "travel_time": float(tt),
                    "lanes": int(lanes),
                    "capacity": float(cap),
                    "highway": hw,
                    "oneway": bool(oneway),
                    "geometry": geom,
                },
            )
            for u, v, k, osmid, length, speed, tt, lanes, cap, hw, oneway, geom in zip(
                e["u"].to_numpy(),
                e["v"].to_numpy(),
                e["key"].to_numpy(),
                e["osmid"].to_numpy(),
                e["length_m"].to_numpy(),
                e["speed_kph"].to_numpy(),
                travel_time,
                e["lanes"].to_numpy(),
                e["capacity_veh_h"].to_numpy(),
                e["highway"].to_numpy(),
                e["oneway"].to_numpy(),
                e.geometry.values,
            )
        )
        return graph


def _check_projected(crs: str) -> None:
    parsed = CRS.from_user_input(crs)
    if not parsed.is_projected:
        raise ValueError(f"{crs} is not a projected CRS; the generator works in metres")
    units = {axis.unit_name for axis in parsed.axis_info}
    if not units <= {"metre", "meter"}:
        raise ValueError(f"{crs} has axis units {units}; the generator works in metres")


def _candidate_shapes(n_road_links: int) -> list[tuple[int, int]]:
    """Grid shapes (columns, rows) whose expected directed-link count is near the target."""
    segments = n_road_links / roads.expected_links_per_segment()
    # a square n x n grid has 2 n (n - 1) segments
    n = int(round((1.0 + np.sqrt(1.0 + 2.0 * segments)) / 2.0))
    shapes = []
    for cols in range(max(3, n - 1), max(3, n + 1) + 1):
        for rows in (cols, cols + 1):
            shapes.append((cols, rows))
    return shapes


def size_road_grid(n_road_links: int, block_size_m: float, seed: int) -> roads.RoadGrid:
    """The road grid whose directed-link count is closest to ``n_road_links``.

    A few grid shapes near the analytic estimate are generated (each from its own
    seeded stream, so the choice is deterministic) and the closest one kept.
    """
    best, best_error = None, None
    for cols, rows in _candidate_shapes(n_road_links):
        rng = np.random.default_rng([seed, cols, rows, 0])
        grid = roads.build_road_grid(cols, rows, block_size_m, rng)
        error = abs(grid.directed_links()[0].size - n_road_links)
        if best_error is None or error < best_error:
            best, best_error = grid, error
    return best


def _nodes_frame(grid: roads.RoadGrid, x0: float, y0: float, crs: str) -> gpd.GeoDataFrame:
    node_id = np.arange(grid.n_nodes, dtype=np.int64)
    geometry = shapely.points(grid.node_x.ravel() + x0, grid.node_y.ravel() + y0)
    return gpd.GeoDataFrame(
        {"osmid": -(node_id + 1)},
        geometry=geometry,
        index=pd.Index(node_id, name="node_id"),
        crs=crs,
    )


def _edges_frame(grid: roads.RoadGrid, x0: float, y0: float, crs: str) -> gpd.GeoDataFrame:
    u, v, seg = grid.directed_links()
    node_xy = np.column_stack([grid.node_x.ravel() + x0, grid.node_y.ravel() + y0])
    geometry = shapely.linestrings(np.stack([node_xy[u], node_xy[v]], axis=1))
    cls = grid.seg_class[seg]
    attrs = roads.class_attributes()
    return gpd.GeoDataFrame(
        {
            "u": u.astype(np.int64),
            "v": v.astype(np.int64),
            "key": np.zeros(u.size, dtype=np.int64),
            "highway": np.asarray(roads.HIGHWAY_CLASSES, dtype=object)[cls],
            "lanes": attrs["lanes"][cls],
            "speed_kph": attrs["speed_kph"][cls],
            "capacity_veh_h": attrs["capacity_veh_h"][cls],
            "oneway": grid.seg_direction[seg] != 0,
            "length_m": shapely.length(geometry),
            "osmid": -(seg.astype(np.int64) + 1),
        },
        geometry=geometry,
        crs=crs,
    )


def _buildings_frame(
    grid: roads.RoadGrid,
    rng: np.random.Generator,
    buildings_per_block: int | None,
    n_buildings: int | None,
    x0: float,
    y0: float,
    crs: str,
) -> gpd.GeoDataFrame:
    fp = bld.place_footprints(grid, rng, buildings_per_block, n_buildings)
    # normalise distances by the radius of the city's inscribed circle
    radius = 0.5 * min(np.ptp(grid.node_x[0]), np.ptp(grid.node_y[:, 0]))
    t = bld.normalised_distance(0.5 * (fp.xmin + fp.xmax), 0.5 * (fp.ymin + fp.ymax), radius)
    use = bld.assign_uses(t, rng)
    height = bld.assign_heights(use, t, rng)
    footprint = (fp.xmax - fp.xmin) * (fp.ymax - fp.ymin)
    levels, floor_area, residents, workers = bld.occupancy(use, footprint, height)
    geometry = shapely.box(fp.xmin + x0, fp.ymin + y0, fp.xmax + x0, fp.ymax + y0)
    return gpd.GeoDataFrame(
        {
            "building_id": np.arange(1, use.size + 1, dtype=np.int64),
            "height_m": height,
            "levels": levels,
            "use": np.asarray(bld.USES, dtype=object)[use],
            "floor_area_m2": floor_area,
            "residents": residents,
            "workers": workers,
        },
        geometry=geometry,
        crs=crs,
    )


def generate_city(
    n_road_links: int = 2000,
    seed: int = 0,
    crs: str = "EPSG:32635",
    origin_xy: tuple[float, float] = (385000.0, 6672000.0),
    block_size_m: float = 120.0,
    buildings_per_block: int | None = None,
    n_buildings: int | None = None,
) -> SyntheticCity:
    """Generate a synthetic grid city.

    Parameters
    ----------
    n_road_links : target number of directed road links (edges rows); the result is
        within a few percent of it (a two-way street counts twice).
    seed : random seed; equal arguments give identical cities.
    crs : projected CRS with metre units for all geometries.
    origin_xy : coordinates (m, in ``crs``) of the city centre, which is the central
        primary-primary crossing. The default is central Helsinki in UTM zone 35N.
    block_size_m : mean distance between adjacent parallel streets (m); each spacing
        varies by +-15 %.
    buildings_per_block : buildings in every block.
    n_buildings : total number of buildings (exact); overrides the per-block default.
        Give at most one of ``buildings_per_block`` and ``n_buildings``; with neither,
        every block gets :data:`DEFAULT_BUILDINGS_PER_BLOCK`.

    Returns
    -------
    SyntheticCity
    """
    if not MIN_ROAD_LINKS <= n_road_links <= MAX_ROAD_LINKS:
        raise ValueError(f"n_road_links must be in [{MIN_ROAD_LINKS}, {MAX_ROAD_LINKS}]")
    if buildings_per_block is not None and n_buildings is not None:
        raise ValueError("give at most one of buildings_per_block and n_buildings")
    if (n_buildings is not None and n_buildings < 0) or (
        buildings_per_block is not None and buildings_per_block < 0
    ):
        raise ValueError("the number of buildings must be non-negative")
    if block_size_m <= 0:
        raise ValueError("block_size_m must be positive")
    _check_projected(crs)
    if buildings_per_block is None and n_buildings is None:
        buildings_per_block = DEFAULT_BUILDINGS_PER_BLOCK

    x0, y0 = float(origin_xy[0]), float(origin_xy[1])
    grid = size_road_grid(int(n_road_links), float(block_size_m), int(seed))
    building_rng = np.random.default_rng([int(seed), 1])
    buildings = _buildings_frame(grid, building_rng, buildings_per_block, n_buildings, x0, y0, crs)
    return SyntheticCity(
        nodes=_nodes_frame(grid, x0, y0, crs),
        edges=_edges_frame(grid, x0, y0, crs),
        buildings=buildings,
        crs=crs,
    )
