"""Peak-hour car demand from the twin's buildings: generation, zoning, gravity distribution.

1. **Trip generation** per building from residents and workers (estimated from
   floor area and use when absent): productions = residents x daily trip rate;
   attractions = workers x work-trip rate + floor area x visitor rate of its use.
2. **Zones**: buildings snap to the nearest graph node of the main strongly
   connected component (or, for large cities, are grouped in a hexagonal grid
   whose zone node is the node nearest the hexagon's weighted centre).
3. **Distribution**: doubly-constrained gravity model
   ``T_ij = a_i b_j P_i A_j f(c_ij)`` with ``f(c) = exp(-beta c)`` on free-flow
   car time (minutes), balanced by Furness (iterative proportional fitting).
   Zone pairs without a road path get their deterrence from the straight-line
   distance, so their trips stay in the matrix and :func:`assign` reports them
   as unassignable instead of dropping them silently.
4. **Peak hour**: daily person trips x car mode share / car occupancy x
   peak-hour share / peak-hour factor = design-hour vehicle flow (veh/h).

All parameters are in :class:`DemandParameters` with their sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np

from simulators.common.occupancy import FLOOR_AREA_PER_RESIDENT_M2, FLOOR_AREA_PER_WORKER_M2

from .network import Demand
from .osm import node_index
from .paths import shortest_path_tree

__all__ = [
    "DemandParameters",
    "ExternalParameters",
    "demand_from_buildings",
    "external_demand",
    "gateways",
    "combine",
    "hour_factor",
    "furness",
    "building_trip_ends",
]


@dataclass(frozen=True)
class DemandParameters:
    """Trip generation and distribution parameters (defaults for a Finnish city).

    Sources
    -------
    - ``trips_per_resident_day`` 2.7: Finnish National Travel Survey 2016
      (Liikennevirasto, *Henkilöliikennetutkimus 2016*): about 2.7 trips per
      person per day.
    - ``car_mode_share`` 0.45: same survey, car driver+passenger share of trips
      in Finland ≈ 0.5-0.55 nationally, ≈ 0.3 in inner Helsinki; 0.45 is a
      city-region middle value.
    - ``car_occupancy`` 1.3 persons per car: same survey (≈ 1.3 on weekdays).
    - ``peak_hour_share`` 0.10 of daily trips in the busiest hour: the usual
      design-hour "K factor" (HCM 2010, ch. 3: 0.09-0.10 in urban areas).
    - ``peak_hour_factor`` 0.92: HCM 2010 default PHF for urban streets; the
      hourly demand is divided by it to get the peak 15-min flow rate.
    - ``floor_area_per_resident_m2``, ``floor_area_per_worker_m2``: the twin's own rates
      (:mod:`simulators.common.occupancy`, with their sources), so that a building has the
      same residents and workers here as in the importer and the evacuation.
    - ``visitor_trips_per_100m2_day``: daily person-trip attraction by visitors
      per 100 m² of floor area; orders of magnitude from ITE *Trip Generation*
      (retail ≈ 40 vehicle trips/100 m²/day in US suburbs; scaled down to
      person trips in a European city with walking and transit).
    - ``deterrence_beta`` 0.08 per minute: exponential deterrence for car trips
      (common calibrated range 0.05-0.15 /min; Ortúzar & Willumsen, *Modelling
      Transport* 4th ed., ch. 5).
    """

    trips_per_resident_day: float = 2.7
    work_trips_per_worker_day: float = 2.0
    car_mode_share: float = 0.45
    car_occupancy: float = 1.3
    peak_hour_share: float = 0.10
    peak_hour_factor: float = 0.92
    floor_area_per_resident_m2: float = FLOOR_AREA_PER_RESIDENT_M2
    floor_area_per_worker_m2: dict[str, float] = field(
        default_factory=lambda: dict(FLOOR_AREA_PER_WORKER_M2)
    )
    visitor_trips_per_100m2_day: dict[str, float] = field(
        default_factory=lambda: {
            "residential": 0.5,
            "commercial": 8.0,
            "industrial": 0.5,
            "public": 5.0,
            "other": 1.0,
        }
    )
    deterrence_beta: float = 0.08
    #: "nodes": one zone per snapped node; "hex": hexagonal grid; "auto": hex above max_zones
    zoning: str = "auto"
    max_zones: int = 1500
    hex_size_m: float = 750.0
    #: straight-line speed (km/h) used for zone pairs without a road path
    fallback_speed_kph: float = 25.0
    furness_tolerance: float = 1e-6
    furness_max_iter: int = 200


def _projected_xy(G: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray, bool]:
    xs = np.array([float(d["x"]) for _, d in G.nodes(data=True)])
    ys = np.array([float(d["y"]) for _, d in G.nodes(data=True)])
    crs = G.graph.get("crs")
    geographic = False
    if crs is not None:
        try:
            from pyproj import CRS

            geographic = CRS.from_user_input(crs).is_geographic
        except Exception:  # noqa: BLE001 - unknown CRS text: judge from the values
            geographic = False
    if crs is None:
        geographic = bool(np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90))
    return xs, ys, geographic


def _local_metres(xs, ys, geographic: bool, lon0=None, lat0=None):
    """Equirectangular metres around the data's centre (good to ~0.1 % over a city)."""
    if not geographic:
        return xs, ys
    lat0 = np.mean(ys) if lat0 is None else lat0
    lon0 = np.mean(xs) if lon0 is None else lon0
    k = 111_320.0
    return (xs - lon0) * k * np.cos(np.radians(lat0)), (ys - lat0) * 110_574.0


def building_trip_ends(buildings, params: DemandParameters) -> tuple[np.ndarray, np.ndarray]:
    """Daily person-trip productions and attractions per building.

    Residents and workers come from the ``residents`` / ``workers`` columns when
    present and positive, else from ``floor_area_m2`` and ``use``.
    """
    n = len(buildings)
    use = (
        buildings["use"].fillna("other").astype(str).str.lower().to_numpy()
        if "use" in buildings
        else np.full(n, "other")
    )
    area = (
        buildings["floor_area_m2"].fillna(0.0).to_numpy(dtype=float)
        if "floor_area_m2" in buildings
        else np.zeros(n)
    )
    residents = np.where(use == "residential", area / params.floor_area_per_resident_m2, 0.0)
    if "residents" in buildings:
        given = buildings["residents"].to_numpy(dtype=float)
        residents = np.where(np.isfinite(given) & (given > 0), given, residents)
    per_worker = np.array([params.floor_area_per_worker_m2.get(u, 0.0) for u in use])
    workers = np.where(per_worker > 0, area / np.where(per_worker > 0, per_worker, 1.0), 0.0)
    if "workers" in buildings:
        given = buildings["workers"].to_numpy(dtype=float)
        workers = np.where(np.isfinite(given) & (given > 0), given, workers)
    visitor_rate = np.array([params.visitor_trips_per_100m2_day.get(u, 0.0) for u in use])
    productions = residents * params.trips_per_resident_day
    attractions = workers * params.work_trips_per_worker_day + area / 100.0 * visitor_rate
    return productions, attractions


def furness(
    productions: np.ndarray,
    attractions: np.ndarray,
    deterrence: np.ndarray,
    tolerance: float = 1e-6,
    max_iter: int = 200,
) -> np.ndarray:
    """Doubly-constrained gravity matrix by Furness balancing.

    Finds ``T = diag(a) F diag(b)`` with row sums ``productions`` and column sums
    ``attractions`` (attractions are first scaled to the production total).
    Rows or columns whose deterrence is all zero stay empty.
    """
    p = np.asarray(productions, dtype=float)
    a = np.asarray(attractions, dtype=float)
    if a.sum() > 0:
        a = a * (p.sum() / a.sum())
    f = np.asarray(deterrence, dtype=float)
    row = np.ones(len(p))
    col = np.ones(len(a))
    for _ in range(max_iter):
        denominator = f @ col
        row = np.divide(p, denominator, out=np.zeros_like(p), where=denominator > 0)
        denominator = row @ f
        col = np.divide(a, denominator, out=np.zeros_like(a), where=denominator > 0)
        rows = row * (f @ col)
        if np.all(np.abs(rows - p) <= tolerance * max(p.max(initial=0.0), 1e-12)):
            break
    return row[:, None] * f * col[None, :]


def _main_component_mask(G: nx.MultiDiGraph) -> np.ndarray:
    index = node_index(G)
    mask = np.zeros(len(index), dtype=bool)
    if len(index) == 0:
        return mask
    largest = max(nx.strongly_connected_components(G), key=len)
    mask[[index[v] for v in largest]] = True
    return mask


def _hex_cells(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Axial coordinates of pointy-top hexagons of circumradius ``size`` (cube rounding)."""
    q = (np.sqrt(3) / 3 * x - y / 3) / size
    r = (2 / 3 * y) / size
    cx, cz = q, r
    cy = -cx - cz
    rx, ry, rz = np.round(cx), np.round(cy), np.round(cz)
    dx, dy, dz = np.abs(rx - cx), np.abs(ry - cy), np.abs(rz - cz)
    fix_x = (dx > dy) & (dx > dz)
    fix_y = ~fix_x & (dy > dz)
    rx = np.where(fix_x, -ry - rz, rx)
    ry = np.where(fix_y, -rx - rz, ry)
    rz = np.where(~fix_x & ~fix_y, -rx - ry, rz)
    return np.stack([rx, rz], axis=1).astype(np.int64)


def demand_from_buildings(
    G: nx.MultiDiGraph,
    buildings,
    params: DemandParameters | None = None,
    network=None,
    progress: Callable[[float, str], None] | None = None,
) -> Demand:
    """Peak-hour car OD demand (veh/h) between graph nodes from the twin's buildings.

    Parameters
    ----------
    G : the road graph (same one given to :func:`network_from_graph`).
    buildings : GeoDataFrame with polygon ``geometry`` in the graph's CRS and
        ``floor_area_m2``, ``use``, optional ``residents``, ``workers``.
    params : :class:`DemandParameters` (defaults documented there).
    network : the :class:`Network` from ``network_from_graph(G)``; built if absent.
        Its free-flow times give the gravity model's travel times.
    progress : ``progress(fraction, stage)`` callback.

    Returns
    -------
    Demand with origin/destination = network node indices, ``zone_ids`` = graph
    node ids of the zones, and ``info`` with the zone table and parameters.
    """
    from scipy.spatial import cKDTree

    from .osm import network_from_graph

    params = params or DemandParameters()
    if network is None:
        network, _ = network_from_graph(G)
    if progress:
        progress(0.0, "trip generation")
    productions, attractions = building_trip_ends(buildings, params)
    xs, ys, geographic = _projected_xy(G)
    lon0, lat0 = (np.mean(xs), np.mean(ys)) if geographic else (None, None)
    nx_m, ny_m = _local_metres(xs, ys, geographic, lon0, lat0)
    points = buildings.geometry.representative_point()
    bx, by = _local_metres(points.x.to_numpy(), points.y.to_numpy(), geographic, lon0, lat0)
    candidates = np.flatnonzero(_main_component_mask(G))
    tree = cKDTree(np.column_stack([nx_m[candidates], ny_m[candidates]]))
    weight = productions + attractions
    active = weight > 0
    n_snapped = len(np.unique(tree.query(np.column_stack([bx, by])[active])[1]))
    use_hex = params.zoning == "hex" or (params.zoning == "auto" and n_snapped > params.max_zones)
    if use_hex:
        cells = _hex_cells(bx[active], by[active], params.hex_size_m)
        _, group = np.unique(cells, axis=0, return_inverse=True)
        group = group.ravel()
        n_groups = group.max() + 1
        w = weight[active]
        cx = np.bincount(group, w * bx[active], n_groups) / np.bincount(group, w, n_groups)
        cy = np.bincount(group, w * by[active], n_groups) / np.bincount(group, w, n_groups)
        zone_of_group = candidates[tree.query(np.column_stack([cx, cy]))[1]]
        zone_node_per_building = zone_of_group[group]
    else:
        zone_node_per_building = candidates[tree.query(np.column_stack([bx, by])[active])[1]]
    zone_nodes, zone_of_building = np.unique(zone_node_per_building, return_inverse=True)
    n_zones = len(zone_nodes)
    p_zone = np.bincount(zone_of_building, productions[active], n_zones)
    a_zone = np.bincount(zone_of_building, attractions[active], n_zones)
    if progress:
        progress(0.2, "zone travel times")
    minutes = np.empty((n_zones, n_zones))
    cost = network.free_flow_time + network.fixed_cost
    for i, node in enumerate(zone_nodes):
        dist, _ = shortest_path_tree(
            int(node), network.out_start, network.out_links, network.head, cost,
            network.first_thru_node,
        )  # fmt: skip
        minutes[i] = dist[zone_nodes]
        if progress and i % 50 == 0:
            progress(0.2 + 0.7 * i / n_zones, "zone travel times")
    no_path = ~np.isfinite(minutes)
    if no_path.any():
        # pairs without a road path keep their trips (reported later by assign)
        zx, zy = nx_m[zone_nodes], ny_m[zone_nodes]
        crow_km = np.hypot(zx[:, None] - zx[None, :], zy[:, None] - zy[None, :]) / 1000.0
        minutes[no_path] = (crow_km / params.fallback_speed_kph * 60.0)[no_path]
    deterrence = np.exp(-params.deterrence_beta * minutes)
    np.fill_diagonal(deterrence, 0.0)  # intrazonal trips never reach the network
    daily = furness(p_zone, a_zone, deterrence, params.furness_tolerance, params.furness_max_iter)
    to_peak_vehicles = (
        params.car_mode_share / params.car_occupancy * params.peak_hour_share
    ) / params.peak_hour_factor
    matrix = daily * to_peak_vehicles
    rows, cols = np.nonzero(matrix > 0)
    if progress:
        progress(1.0, "demand ready")
    return Demand(
        zone_nodes[rows],
        zone_nodes[cols],
        matrix[rows, cols],
        zone_ids=np.asarray(network.node_ids)[zone_nodes],
        info={
            "zone_nodes": zone_nodes,
            "zone_productions_day": p_zone,
            "zone_attractions_day": a_zone,
            "zoning": "hex" if use_hex else "nodes",
            "zone_pairs_without_path": int(no_path.sum()),
            "parameters": asdict(params),
        },
    )


# -- traffic across the edge of the extract --------------------------------------------------

#: share of a weekday's car trips in each hour 0..23 (local time). Shape of the Finnish National
#: Travel Survey 2016 departure-time distribution (Liikennevirasto, Henkilöliikennetutkimus
#: 2016, weekday trips by hour), rounded; the busiest hours (07-08 and 15-17) carry about 0.09-
#: 0.10 of the day, the design-hour share ``DemandParameters.peak_hour_share``.
HOURLY_TRIP_SHARE = np.array(
    [0.004, 0.002, 0.001, 0.001, 0.002, 0.006, 0.020, 0.065, 0.080, 0.050, 0.045, 0.050,
     0.057, 0.055, 0.060, 0.085, 0.097, 0.090, 0.070, 0.055, 0.040, 0.030, 0.020, 0.010]
)  # fmt: skip
HOURLY_TRIP_SHARE = HOURLY_TRIP_SHARE / HOURLY_TRIP_SHARE.sum()


def hour_factor(hour: float | None) -> float:
    """Traffic of local ``hour`` relative to the design (busiest) hour; 1 for None."""
    if hour is None:
        return 1.0
    return float(HOURLY_TRIP_SHARE[int(hour) % 24] / HOURLY_TRIP_SHARE.max())


@dataclass(frozen=True)
class ExternalParameters:
    """Traffic that enters, leaves or crosses the modelled area where its roads are cut.

    Rule (documented, to be calibrated with counts by the live-sensors work)
    -----------------------------------------------------------------------
    A *gateway* is a road node within ``edge_distance_m`` of the boundary (convex hull) of the
    network whose road continues outside the extract (it has a single neighbour: the road was
    cut there) on a road of class tertiary or higher. In the design hour it carries
    ``load_factor[class] x capacity`` veh/h into the area (on its outgoing links) and as much
    out of it (on its incoming links): peak-hour volume/capacity of urban roads at a city's
    cordon is about 0.6-0.8 on motorways and trunk roads and lower on collectors (HCM 2010
    ch. 10/16 LOS D-E service volumes; Helsinki's inner-city cordon counts, City of Helsinki
    Liikenteen kehitys 2019: 1,500-2,000 veh/h per direction on the main radial streets).
    ``through_share[class]`` of it crosses the area to another gateway (a longer road carries
    more through traffic); the rest ends in (starts from) the area's buildings, spread by
    their attractions (productions) and ``exp(-beta x minutes)`` at ``fallback_speed_kph``
    straight-line speed. Through trips pick their exit in proportion to its outbound flow x
    the straight-line distance (they cross the area rather than clip a corner).
    """

    load_factor: dict[str, float] = field(
        default_factory=lambda: {
            "motorway": 0.75, "trunk": 0.7, "primary": 0.6, "secondary": 0.45, "tertiary": 0.3,
        }
    )  # fmt: skip
    through_share: dict[str, float] = field(
        default_factory=lambda: {
            "motorway": 0.6, "trunk": 0.5, "primary": 0.3, "secondary": 0.2, "tertiary": 0.1,
        }
    )  # fmt: skip
    edge_distance_m: float = 250.0
    deterrence_beta: float = 0.08
    fallback_speed_kph: float = 25.0
    #: local hour modelled (None: the design hour); scales with HOURLY_TRIP_SHARE
    hour: float | None = None

    def __post_init__(self) -> None:
        if self.edge_distance_m <= 0:
            raise ValueError("edge_distance_m must be positive")
        for name in ("load_factor", "through_share"):
            values = getattr(self, name).values()
            if any(not 0 <= v <= 1 for v in values):
                raise ValueError(f"{name} values must be between 0 and 1")


def _base_class(highway: object) -> str:
    text = highway[0] if isinstance(highway, list) and highway else highway
    return str(text or "").removesuffix("_link")


def gateways(G: nx.MultiDiGraph, params: ExternalParameters | None = None) -> dict:
    """Gateway nodes where roads leave the extract, with their class and peak flows (veh/h).

    Returns
    -------
    dict of arrays: ``node`` (graph node ids), ``index`` (node indices of :func:`node_index`),
    ``highway``, ``inbound_veh_h`` (into the area), ``outbound_veh_h``, ``x``, ``y`` (m).
    """
    import shapely

    params = params or ExternalParameters()
    index = node_index(G)
    xs, ys, geographic = _projected_xy(G)
    mx, my = _local_metres(xs, ys, geographic)
    empty = {k: np.array([]) for k in ("node", "index", "highway", "inbound_veh_h",
                                       "outbound_veh_h", "x", "y")}  # fmt: skip
    if len(index) < 3:
        return empty
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([mx, my]))).exterior
    rows = []
    for node in G.nodes:
        neighbours = set(G.successors(node)) | set(G.predecessors(node))
        neighbours.discard(node)
        if len(neighbours) != 1:
            continue
        i = index[node]
        if shapely.distance(hull, shapely.Point(mx[i], my[i])) > params.edge_distance_m:
            continue
        links = [(d, "out") for _, _, d in G.out_edges(node, data=True)] + [
            (d, "in") for _, _, d in G.in_edges(node, data=True)
        ]
        classes = [_base_class(d.get("highway")) for d, _ in links]
        known = [c for c in classes if c in params.load_factor]
        if not known:
            continue
        cls = max(known, key=lambda c: params.load_factor[c])
        factor = params.load_factor[cls] * hour_factor(params.hour)
        cap_in = sum(float(d.get("capacity", 0.0)) for d, way in links if way == "out")
        cap_out = sum(float(d.get("capacity", 0.0)) for d, way in links if way == "in")
        rows.append((node, i, cls, factor * cap_in, factor * cap_out, mx[i], my[i]))
    if not rows:
        return empty
    cols = list(zip(*rows, strict=True))
    return {
        "node": np.array(cols[0], dtype=object),
        "index": np.array(cols[1], dtype=np.int64),
        "highway": np.array(cols[2], dtype=object),
        "inbound_veh_h": np.array(cols[3], dtype=float),
        "outbound_veh_h": np.array(cols[4], dtype=float),
        "x": np.array(cols[5], dtype=float),
        "y": np.array(cols[6], dtype=float),
    }


def external_demand(
    G: nx.MultiDiGraph,
    internal: Demand,
    params: ExternalParameters | None = None,
) -> Demand:
    """Through, inbound and outbound peak-hour trips (veh/h) at the extract's gateways.

    Parameters
    ----------
    G : the road graph given to :func:`demand_from_buildings`.
    internal : its result; the zones' productions and attractions (``info``) spread the
        inbound and outbound trips.
    params : :class:`ExternalParameters` (rule and sources there).

    Returns
    -------
    Demand between node indices (gateways and the internal zone nodes), with ``info``:
    ``gateways`` (table), ``through_veh_h``, ``inbound_veh_h``, ``outbound_veh_h``.
    """
    params = params or ExternalParameters()
    gw = gateways(G, params)
    n_gw = len(gw["index"])
    info = {"gateways": gw, "through_veh_h": 0.0, "inbound_veh_h": 0.0, "outbound_veh_h": 0.0}
    zones = np.asarray((internal.info or {}).get("zone_nodes", []), dtype=np.int64)
    if n_gw == 0:
        return Demand(np.array([]), np.array([]), np.array([]), info=info)
    through = np.array([params.through_share[c] for c in gw["highway"]])
    t_in, t_out = gw["inbound_veh_h"] * through, gw["outbound_veh_h"] * through
    origins, destinations, flows = [], [], []
    if n_gw > 1 and t_in.sum() > 0 and t_out.sum() > 0:
        d = np.hypot(gw["x"][:, None] - gw["x"][None, :], gw["y"][:, None] - gw["y"][None, :])
        np.fill_diagonal(d, 0.0)
        matrix = furness(t_in, t_out, d)
        r, c = np.nonzero(matrix > 1e-9)
        origins.append(gw["index"][r])
        destinations.append(gw["index"][c])
        flows.append(matrix[r, c])
        info["through_veh_h"] = float(matrix.sum())
    if len(zones):
        xs, ys, geographic = _projected_xy(G)
        mx, my = _local_metres(xs, ys, geographic)
        minutes = (
            np.hypot(gw["x"][:, None] - mx[zones][None, :], gw["y"][:, None] - my[zones][None, :])
            / 1000.0 / params.fallback_speed_kph * 60.0
        )  # fmt: skip
        deterrence = np.exp(-params.deterrence_beta * minutes)
        for weight_key, volume, inbound in (
            ("zone_attractions_day", gw["inbound_veh_h"] * (1 - through), True),
            ("zone_productions_day", gw["outbound_veh_h"] * (1 - through), False),
        ):
            weight = np.asarray(internal.info[weight_key], dtype=float)
            share = deterrence * weight[None, :]
            total = share.sum(axis=1, keepdims=True)
            share = np.divide(share, total, out=np.zeros_like(share), where=total > 0)
            matrix = share * volume[:, None]
            r, c = np.nonzero(matrix > 1e-9)
            if inbound:
                origins.append(gw["index"][r])
                destinations.append(zones[c])
                info["inbound_veh_h"] = float(matrix.sum())
            else:
                origins.append(zones[c])
                destinations.append(gw["index"][r])
                info["outbound_veh_h"] = float(matrix.sum())
            flows.append(matrix[r, c])
    if not flows:
        return Demand(np.array([]), np.array([]), np.array([]), info=info)
    origin, destination, flow = (np.concatenate(a) for a in (origins, destinations, flows))
    keep = origin != destination
    return Demand(origin[keep], destination[keep], flow[keep], info=info)


def combine(*demands: Demand) -> Demand:
    """One demand from several (same network node indices); infos kept under their order."""
    return Demand(
        np.concatenate([d.origin for d in demands]),
        np.concatenate([d.destination for d in demands]),
        np.concatenate([d.flow for d in demands]),
        info={"parts": [d.info for d in demands]},
    )
