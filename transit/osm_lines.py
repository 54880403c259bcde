"""Public-transport lines from OpenStreetMap route relations, for a city without GTFS.

A route relation (``type=route`` + ``route=tram|light_rail|bus|trolleybus|subway|train|
ferry``) lists its stops in order (members with role ``stop*``, else ``platform*``: PTv2)
and the ways it runs on. Each relation becomes one route and one stop pattern: the ways
chained into one line (each way turned to continue the last), the stops placed along it in
order (``gtfs.stop_distances``). Where no way of the relation is in the extract the line is
drawn through the stops.

OSM has no timetable: every line gets its mode's documented default headway and speed
(``transit.modes.DEFAULTS``), marked as such on the pattern (``defaults_source``), unless the
relation has an ``interval`` tag (its headway, "10", "00:10" or "00:10:00"), which is used
and said. Read with pyosmium in two passes (relations, then their nodes and ways).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely
from django.db import transaction

from jobs.progress import ProgressCallback, null_progress
from layers.geo import to_geos
from layers.importers import ImportRejected
from layers.importers.targets import ImportTarget, register_target

from .gtfs import stop_distances
from .importer import check_allowed, city_of, set_route_geometries, sha256, unique_slug
from .models import Feed, Pattern, Route, Shape, Stop
from .modes import DEFAULTS, DEFAULTS_SOURCE, OSM_ROUTES

#: OSM route value -> GTFS route_type (for the tables and the map's colours)
ROUTE_TYPES = {
    "tram": 0,
    "light_rail": 0,
    "subway": 1,
    "train": 2,
    "bus": 3,
    "ferry": 4,
    "trolleybus": 11,
}
STOP_ROLES = ("stop", "stop_entry_only", "stop_exit_only")
PLATFORM_ROLES = ("platform", "platform_entry_only", "platform_exit_only")


@dataclass
class RouteRelation:
    osm_id: int
    tags: dict
    stop_nodes: list[int]
    ways: list[int]
    stop_role: str


@dataclass
class OsmLines:
    """What the PBF holds: relations, and the nodes and ways they need."""

    relations: list[RouteRelation] = field(default_factory=list)
    nodes: dict[int, tuple[float, float, str]] = field(default_factory=dict)
    ways: dict[int, np.ndarray] = field(default_factory=dict)


class _Relations(osmium.SimpleHandler):
    def __init__(self, modes: set[str]):
        super().__init__()
        self.modes = modes
        self.found: list[RouteRelation] = []

    def relation(self, r):
        if r.tags.get("type") != "route" or r.tags.get("route") not in self.modes:
            return
        members = [(m.type, m.ref, m.role) for m in r.members]
        stops = [ref for kind, ref, role in members if kind == "n" and role in STOP_ROLES]
        role = "stop"
        if len(stops) < 2:
            stops = [ref for kind, ref, role in members if kind == "n" and role in PLATFORM_ROLES]
            role = "platform"
        ways = [
            ref
            for kind, ref, role in members
            if kind == "w" and role in ("", "forward", "backward")
        ]
        self.found.append(RouteRelation(r.id, dict(r.tags), stops, ways, role))


class _Members(osmium.SimpleHandler):
    def __init__(self, nodes: set[int], ways: set[int]):
        super().__init__()
        self.want_nodes, self.want_ways = nodes, ways
        self.nodes: dict[int, tuple[float, float, str]] = {}
        self.ways: dict[int, np.ndarray] = {}

    def node(self, n):
        if n.id in self.want_nodes and n.location.valid():
            self.nodes[n.id] = (n.location.lon, n.location.lat, n.tags.get("name", ""))

    def way(self, w):
        if w.id in self.want_ways:
            coords = [(nd.lon, nd.lat) for nd in w.nodes if nd.location.valid()]
            if len(coords) >= 2:
                self.ways[w.id] = np.array(coords)


def read_lines(path: Path, modes: set[str] | None = None) -> OsmLines:
    """The route relations of ``modes`` (OSM route values) with their stop nodes and ways."""
    relations = _Relations(modes or set(OSM_ROUTES))
    relations.apply_file(str(path))
    want_nodes = {n for r in relations.found for n in r.stop_nodes}
    want_ways = {w for r in relations.found for w in r.ways}
    members = _Members(want_nodes, want_ways)
    members.apply_file(str(path), locations=True)
    return OsmLines(relations.found, members.nodes, members.ways)


def chain_ways(parts: list[np.ndarray]) -> np.ndarray | None:
    """The ways of a relation joined end to end, each turned to continue the one before
    (a gap, where the extract cut the route, is crossed in a straight line)."""
    if not parts:
        return None
    line = parts[0]
    if len(parts) > 1:
        nxt = parts[1]
        # the first way runs backwards when its start touches the second way
        if _same(line[0], nxt[0]) or _same(line[0], nxt[-1]):
            line = line[::-1]
    for part in parts[1:]:
        end = line[-1]
        if _same(part[-1], end) and not _same(part[0], end):
            part = part[::-1]
        elif not _same(part[0], end) and (np.hypot(*(part[-1] - end)) < np.hypot(*(part[0] - end))):
            part = part[::-1]
        line = np.vstack([line, part[1:] if _same(part[0], end) else part])
    return line


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) < 1e-9))


def parse_interval(text: str | None) -> float | None:
    """An OSM ``interval`` tag as seconds ("10" minutes, "00:10", "00:10:00"), or None."""
    if not text:
        return None
    text = text.strip().split(";")[0]
    if re.fullmatch(r"\d+", text):
        return float(text) * 60
    parts = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if parts:
        h, m, s = (int(v or 0) for v in parts.groups())
        return float(h * 3600 + m * 60 + s) or None
    return None


def import_osm_lines(
    path: Path,
    city_name: str,
    *,
    owner_id: int | None = None,
    visibility: str = "public",
    name: str | None = None,
    progress: ProgressCallback = null_progress,
) -> dict:
    """Read the city's PBF route relations into a transit feed (source ``osm``).

    Returns the report: lines found per mode, relations left out and why, the defaults used.
    """
    started = time.perf_counter()
    city = city_of({"city": city_name})
    progress(0.05, "reading route relations")
    found = read_lines(path)
    progress(0.5, f"{len(found.relations)} route relations: building lines")
    to_local = pyproj.Transformer.from_crs(4326, city.local_epsg, always_xy=True)
    warnings: list[dict] = []
    skipped: list[str] = []
    lines = []
    for rel in found.relations:
        stops = [n for n in rel.stop_nodes if n in found.nodes]
        if len(stops) < 2:
            skipped.append(f"r{rel.osm_id} ({rel.tags.get('name', rel.tags.get('ref', '?'))})")
            continue
        stop_lonlat = np.array([found.nodes[n][:2] for n in stops])
        path_lonlat = chain_ways([found.ways[w] for w in rel.ways if w in found.ways])
        derived = path_lonlat is None
        if derived:
            path_lonlat = stop_lonlat
        local = np.column_stack(to_local.transform(path_lonlat[:, 0], path_lonlat[:, 1]))
        stops_local = np.column_stack(to_local.transform(stop_lonlat[:, 0], stop_lonlat[:, 1]))
        dist = stop_distances(shapely.linestrings(local), stops_local)
        lines.append(
            (rel, stops, path_lonlat, float(shapely.linestrings(local).length), dist, derived)
        )
    if skipped:
        warnings.append(
            {
                "code": "relations_without_stops",
                "message": f"{len(skipped)} route relations have fewer than two stops in the "
                f"extract and are left out: {', '.join(skipped[:5])}"
                + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""),
            }
        )
    if not lines:
        raise ImportRejected(
            "file",
            "the OSM file has no public-transport route relation (route=tram, bus, train, "
            "subway, light_rail, ferry) with two or more stops",
        )
    progress(0.7, f"writing {len(lines)} lines")
    counts: dict[str, int] = {}
    with transaction.atomic():
        feed = Feed.objects.create(
            city=city,
            name=name or f"{city.name} OSM lines",
            slug=unique_slug(name or f"{city.name} OSM lines"),
            source=Feed.Source.OSM,
            owner_id=owner_id,
            visibility=visibility,
            source_file=Path(path).name,
            source_sha256=sha256(Path(path)),
        )
        stop_ids = sorted({n for _, stops, *_ in lines for n in stops})
        Stop.objects.bulk_create(
            [
                Stop(
                    feed=feed,
                    stop_id=f"n{n}",
                    name=found.nodes[n][2],
                    geom=to_geos(shapely.Point(found.nodes[n][:2])),
                    osm_id=n,
                )
                for n in stop_ids
            ],
            batch_size=2000,
        )
        for rel, stops, path_lonlat, length_m, dist, derived in lines:
            osm_route = rel.tags["route"]
            mode = OSM_ROUTES[osm_route]
            defaults = DEFAULTS[mode]
            interval = parse_interval(rel.tags.get("interval"))
            route = Route.objects.create(
                feed=feed,
                route_id=f"r{rel.osm_id}",
                short_name=rel.tags.get("ref", "")[:100],
                long_name=rel.tags.get("name", "")[:300],
                route_type=ROUTE_TYPES[osm_route],
                mode=mode,
                color=rel.tags.get("colour", "").lstrip("#").upper()[:6],
                osm_id=rel.osm_id,
            )
            shape = Shape.objects.create(
                feed=feed,
                shape_id=f"r{rel.osm_id}",
                geom=to_geos(shapely.linestrings(path_lonlat)),
                length_m=length_m,
                derived=derived,
            )
            source = DEFAULTS_SOURCE
            if interval:
                source = "headway: the relation's OSM interval tag; speed: " + DEFAULTS_SOURCE
            Pattern.objects.create(
                feed=feed,
                route=route,
                pattern_id=f"r{rel.osm_id}",
                headsign=rel.tags.get("to", "")[:300],
                stop_ids=[f"n{n}" for n in stops],
                segment_m=np.diff(dist).tolist(),
                shape=shape,
                geom=to_geos(shapely.linestrings(path_lonlat)),
                length_m=float(dist[-1] - dist[0]),
                trip_count=0,
                default_headway_s=interval or defaults.headway_s,
                default_speed_kph=defaults.speed_kph,
                defaults_source=source,
            )
            counts[osm_route] = counts.get(osm_route, 0) + 1
        set_route_geometries(feed)
        report = {
            "file": Path(path).name,
            "target": "transit_osm",
            "feed": feed.slug,
            "feed_id": feed.id,
            "city": city.name,
            "read": len(found.relations),
            "imported": len(lines),
            "rejected": [],
            "lines_per_mode": counts,
            "stops": len(stop_ids),
            "warnings": warnings,
            "defaults": {
                m: {"headway_s": d.headway_s, "speed_kph": d.speed_kph} for m, d in DEFAULTS.items()
            },
            "notes": [
                "OSM has no timetable: every line runs at its mode's default headway and speed "
                f"({DEFAULTS_SOURCE}), marked per line"
            ],
            "summary": f"{len(lines)} lines ("
            + ", ".join(f"{n} {m}" for m, n in sorted(counts.items()))
            + f"), {len(stop_ids)} stops",
        }
        report["seconds"] = round(time.perf_counter() - started, 3)
        Feed.objects.filter(pk=feed.pk).update(report=report)
    progress(1.0, "done")
    return report


def _inspect(path: Path, params: dict) -> dict:
    city_of(params)
    return {"kind": "transit_osm"}


def _run(path: Path, params: dict, owner_id: int | None, progress: ProgressCallback) -> dict:
    return import_osm_lines(
        path,
        params["city"],
        owner_id=owner_id,
        visibility=params.get("visibility", "public"),
        name=params.get("name"),
        progress=progress,
    )


TRANSIT_OSM = register_target(
    ImportTarget(
        name="transit_osm",
        suffixes=(".pbf",),
        description="public-transport lines from the OSM route relations of a PBF",
        inspect=_inspect,
        run=_run,
        check_allowed=check_allowed,
    )
)


def lines_table(feed: Feed) -> pd.DataFrame:
    """The feed's lines as a table (for the command's printout)."""
    rows = Pattern.objects.filter(feed=feed).select_related("route").order_by("route__short_name")
    return pd.DataFrame(
        [
            {
                "ref": p.route.short_name,
                "mode": p.route.mode,
                "name": p.route.long_name,
                "stops": len(p.stop_ids),
                "length_km": round(p.length_m / 1000, 2),
                "headway_min": round(p.default_headway_s / 60, 1),
                "speed_kph": p.default_speed_kph,
            }
            for p in rows
        ]
    )
