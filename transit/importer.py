"""The import targets ``gtfs`` (a GTFS zip) and ``transit_osm`` (OSM route relations of a PBF).

Registered with ``layers.importers.targets``: ``POST /api/imports/`` (``target=gtfs``,
``city=...``), ``manage.py import_file feed.zip --target gtfs --city Cairns`` and the import
job (progress, cancel, 4xx errors) are those of every other import. Each import writes one
:class:`~transit.models.Feed` and its rows in one transaction (PostgreSQL COPY for the big
tables); a rejected or cancelled import writes nothing.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from django.db import connection, transaction
from django.utils.text import slugify

from jobs.progress import ProgressCallback, null_progress
from layers.importers import ImportRejected
from layers.importers.targets import ImportTarget, register_target
from layers.importers.writer import copy_rows, ewkb_hex
from layers.models import City
from layers.roles import is_editor

from . import gtfs
from .models import (
    Agency,
    Calendar,
    CalendarDate,
    Feed,
    Frequency,
    Pattern,
    Route,
    Shape,
)


def city_of(params: dict) -> City:
    name = params.get("city")
    if not name:
        raise ImportRejected("city", "a transit import needs the city it serves (city=...)")
    city = (
        City.objects.filter(name=name).first()
        or City.objects.filter(pk=name if str(name).isdigit() else -1).first()
    )
    if city is None:
        raise ImportRejected("city", f"no city named {name!r}")
    return city


def check_allowed(user, params: dict) -> None:
    """A public feed is the city's transit network (base data): an editor of the city writes
    it; a private feed is anyone's own (like a personal layer)."""
    visibility = params.get("visibility", "public")
    if visibility not in ("public", "private"):
        raise ImportRejected("visibility", "must be public or private")
    if visibility == "private":
        return
    city = City.objects.filter(name=params.get("city") or "").first()
    if city is not None and not is_editor(user, city):
        raise ImportRejected(
            "visibility",
            f"a public feed becomes the transit network of {city.name}: ask a staff member to "
            f"make you an editor of {city.name}, or import it as private",
            status=403,
        )


def unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "feed"
    slug, n = base, 2
    while Feed.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def allocate_ids(table: str, count: int) -> np.ndarray:
    """``count`` fresh primary keys of ``table`` from its sequence (rows then go by COPY)."""
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return np.array([r[0] for r in cursor.fetchall()], dtype=np.int64)


def _none(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


# -- GTFS --------------------------------------------------------------------------------------


def inspect_gtfs_upload(path: Path, params: dict) -> dict:
    city_of(params)
    if params.get("visibility", "public") not in ("public", "private"):
        raise ImportRejected("visibility", "must be public or private")
    return gtfs.inspect_gtfs(path)


def run_gtfs_import(
    path: Path, params: dict, owner_id: int | None, progress: ProgressCallback = null_progress
) -> dict:
    """Import a GTFS zip for ``params['city']`` (one transaction); returns the report."""
    started = time.perf_counter()
    city = city_of(params)
    boundary = shapely.from_wkb(bytes(city.boundary.ewkb)) if city.boundary else None
    tables = gtfs.read_gtfs(path, city.local_epsg, boundary, progress)
    name = params.get("name") or (
        str(tables.agencies["name"].iat[0]) if len(tables.agencies) else Path(path.name).stem
    )
    progress(0.6, "writing the feed")
    with transaction.atomic():
        feed = Feed.objects.create(
            city=city,
            name=name,
            slug=unique_slug(name),
            source=Feed.Source.GTFS,
            owner_id=owner_id,
            visibility=params.get("visibility", "public"),
            source_file=Path(params.get("file_name") or path.name).name,
            source_sha256=sha256(path),
            timezone=tables.timezone,
            service_start=tables.service_start,
            service_end=tables.service_end,
        )
        counts = write_tables(feed, tables, progress)
        report = {
            "file": feed.source_file,
            "target": "gtfs",
            "feed": feed.slug,
            "feed_id": feed.id,
            "city": city.name,
            "read": int(counts["trips"]),
            "imported": int(counts["trips"]),
            "rejected": [],
            "counts": counts,
            "warnings": tables.warnings,
            "notes": tables.notes,
            "summary": summary(counts, tables),
        }
        report["seconds"] = round(time.perf_counter() - started, 3)
        Feed.objects.filter(pk=feed.pk).update(report=report)
    progress(1.0, "done")
    return report


def summary(counts: dict, tables: gtfs.GtfsTables) -> str:
    words = (
        f"{counts['routes']} routes, {counts['stops']} stops, {counts['trips']} trips, "
        f"{counts['stop_times']:,} stop times, {counts['patterns']} stop patterns, "
        f"{counts['shapes']} shapes"
    )
    if tables.service_start and tables.service_end:
        words += f"; service {tables.service_start} to {tables.service_end}"
    if tables.warnings:
        words += f"; {len(tables.warnings)} warnings"
    return words


def write_tables(feed: Feed, t: gtfs.GtfsTables, progress: ProgressCallback) -> dict:
    """Write a checked feed's rows (caller holds the transaction)."""
    agencies = Agency.objects.bulk_create(
        [
            Agency(feed=feed, agency_id=r.agency_id, name=r.name, url=r.url, timezone=r.timezone)
            for r in t.agencies.itertuples()
        ]
    )
    agency_by_id = {a.agency_id: a for a in agencies}
    only_agency = agencies[0] if len(agencies) == 1 else None
    routes = Route.objects.bulk_create(
        [
            Route(
                feed=feed,
                route_id=r.route_id,
                agency=agency_by_id.get(r.agency_id) or only_agency,
                short_name=r.short_name,
                long_name=r.long_name,
                route_type=int(r.route_type),
                mode=r.mode,
                color=r.color,
                text_color=r.text_color,
            )
            for r in t.routes.itertuples()
        ],
        batch_size=2000,
    )
    route_pk = {r.route_id: r.pk for r in routes}
    progress(0.63, "writing stops")
    stop_pk = dict(zip(t.stops["stop_id"], allocate_ids("transit_stop", len(t.stops))))
    copy_rows(
        "transit_stop",
        [
            "id",
            "feed_id",
            "stop_id",
            "code",
            "name",
            "geom",
            "location_type",
            "parent_station",
            "served",
            "outside_city_km",
        ],
        (
            (
                stop_pk[r.stop_id],
                feed.pk,
                r.stop_id,
                r.code,
                r.name,
                g,
                int(r.location_type),
                r.parent_station,
                bool(r.served),
                _none(float(r.outside_city_km)),
            )
            for r, g in zip(
                t.stops.itertuples(),
                ewkb_hex(shapely.points(t.stops[["lon", "lat"]].to_numpy())),
                strict=True,
            )
        ),
    )
    shapes = Shape.objects.bulk_create(
        [
            Shape(
                feed=feed,
                shape_id=r.shape_id,
                geom=_geos(r.geom),
                length_m=float(r.length_m),
                derived=bool(r.derived),
            )
            for r in t.shapes.itertuples()
        ],
        batch_size=1000,
    )
    shape_pk = {s.shape_id: s.pk for s in shapes}
    patterns = write_patterns(feed, t.patterns, route_pk, shape_pk)
    progress(0.7, "writing trips")
    trip_pk = dict(zip(t.trips["trip_id"], allocate_ids("transit_trip", len(t.trips))))
    copy_rows(
        "transit_trip",
        [
            "id",
            "feed_id",
            "trip_id",
            "route_id",
            "pattern_id",
            "service_id",
            "headsign",
            "direction_id",
            "block_id",
            "shape_id",
            "start_s",
            "end_s",
            "distance_m",
        ],
        (
            (
                trip_pk[r.trip_id],
                feed.pk,
                r.trip_id,
                route_pk[r.route_id],
                patterns[r.pattern_id],
                r.service_id,
                r.headsign,
                None if pd.isna(r.direction_id) else int(r.direction_id),
                r.block_id,
                shape_pk.get(r.shape_id),
                int(round(r.start_s)),
                int(round(r.end_s)),
                float(r.distance_m),
            )
            for r in t.trips.itertuples()
        ),
    )
    progress(0.75, f"writing {len(t.stop_times):,} stop times")
    st = t.stop_times
    trip_ids = st["trip_id"].map(trip_pk).to_numpy()
    stop_ids = st["stop_id"].map(stop_pk).to_numpy()
    arrival = np.rint(st["arrival_s"].to_numpy()).astype(np.int64)
    departure = np.rint(st["departure_s"].to_numpy()).astype(np.int64)
    columns = (
        trip_ids,
        stop_ids,
        st["stop_sequence"].to_numpy(),
        arrival,
        departure,
        st["interpolated"].to_numpy(),
        st["shape_dist_m"].to_numpy(),
        st["pickup_type"].to_numpy(),
        st["drop_off_type"].to_numpy(),
    )
    copy_rows(
        "transit_stoptime",
        [
            "trip_id",
            "stop_id",
            "stop_sequence",
            "arrival_s",
            "departure_s",
            "interpolated",
            "shape_dist_m",
            "pickup_type",
            "drop_off_type",
        ],
        zip(*(c.tolist() for c in columns)),
    )
    progress(0.9, "writing calendars")
    Calendar.objects.bulk_create(
        [
            Calendar(
                feed=feed,
                service_id=r.service_id,
                weekdays=r.weekdays,
                start_date=r.start_date,
                end_date=r.end_date,
            )
            for r in t.calendars.itertuples()
        ]
    )
    CalendarDate.objects.bulk_create(
        [
            CalendarDate(
                feed=feed,
                service_id=r.service_id,
                date=r.date,
                exception_type=int(r.exception_type),
            )
            for r in t.calendar_dates.itertuples()
        ],
        batch_size=5000,
    )
    Frequency.objects.bulk_create(
        [
            Frequency(
                trip_id=int(trip_pk[r.trip_id]),
                start_s=int(r.start_s),
                end_s=int(r.end_s),
                headway_s=int(r.headway_s),
                exact_times=bool(r.exact_times),
            )
            for r in t.frequencies.itertuples()
        ],
        batch_size=5000,
    )
    set_route_geometries(feed)
    return {
        "agencies": len(agencies),
        "routes": len(routes),
        "stops": len(t.stops),
        "shapes": len(shapes),
        "shapes_derived": int(t.shapes["derived"].sum()) if len(t.shapes) else 0,
        "patterns": len(patterns),
        "trips": len(t.trips),
        "stop_times": len(st),
        "calendars": len(t.calendars),
        "calendar_dates": len(t.calendar_dates),
        "frequencies": len(t.frequencies),
    }


def _geos(geom):
    from layers.geo import to_geos

    return to_geos(geom)


def write_patterns(feed: Feed, frame: pd.DataFrame, route_pk: dict, shape_pk: dict) -> dict:
    """Bulk-create the patterns; returns pattern_id -> pk."""
    rows = []
    for r in frame.itertuples():
        rows.append(
            Pattern(
                feed=feed,
                route_id=route_pk[r.route_id],
                pattern_id=r.pattern_id,
                direction_id=_none(r.direction_id),
                headsign=r.headsign,
                stop_ids=list(r.stop_ids),
                segment_m=[float(v) for v in r.segment_m],
                shape_id=shape_pk.get(r.shape_id),
                geom=_geos(r.geom),
                length_m=float(r.length_m),
                trip_count=int(r.trip_count),
                default_headway_s=_none(getattr(r, "default_headway_s", None)),
                default_speed_kph=_none(getattr(r, "default_speed_kph", None)),
                defaults_source=getattr(r, "defaults_source", "") or "",
            )
        )
    created = Pattern.objects.bulk_create(rows, batch_size=1000)
    return {p.pattern_id: p.pk for p in created}


def set_route_geometries(feed: Feed) -> None:
    """A route's geometry: its patterns' lines (for the map, OGC and tiles)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE transit_route r SET geom = g.geom
            FROM (SELECT route_id, ST_Multi(ST_Collect(geom)) AS geom
                  FROM transit_pattern WHERE feed_id = %s GROUP BY route_id) g
            WHERE r.id = g.route_id AND r.feed_id = %s
            """,
            [feed.pk, feed.pk],
        )


GTFS = register_target(
    ImportTarget(
        name="gtfs",
        suffixes=(".zip",),
        description="a GTFS feed (zip) for a city",
        inspect=inspect_gtfs_upload,
        run=run_gtfs_import,
        check_allowed=check_allowed,
    )
)
