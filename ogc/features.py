"""Features of a collection: the filtered queryset, a page of it as GeoJSON, and counts.

Everything is selected in the database: the bbox, equality and CQL2 filters become ``WHERE``
clauses, geometries are transformed and written as GeoJSON by PostGIS (``ST_AsGeoJSON``), and
the page is cut with ``LIMIT``/``OFFSET``. Python only joins the rows into the response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, AsWKB, Transform
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Func, QuerySet

from . import cql
from .crs import STORAGE_SRID, Crs
from .errors import OgcError
from .params import ItemsQuery
from .registry import Collection

#: at or above this many rows, an unfiltered table reports ``numberMatched`` from the planner's
#: estimate (pg_class.reltuples) instead of counting
ESTIMATE_ABOVE = 100_000
#: a filtered count stops here; past it ``numberMatched`` is left out rather than paid for
COUNT_CAP = 100_000


class FlipCoordinates(Func):
    """``ST_FlipCoordinates``: latitude first for EPSG:4326 as the EPSG defines it."""

    function = "ST_FlipCoordinates"
    output_field = GeometryField()


def _box(query: ItemsQuery) -> Polygon:
    box = Polygon.from_bbox(query.bbox)
    box.srid = query.bbox_crs.srid
    return box


def select(collection: Collection, query: ItemsQuery, user: Any) -> QuerySet:
    """The rows of ``collection`` that ``user`` may read and that match ``query``."""
    queryset = collection.rows(user)
    if query.bbox is not None:
        box = _box(query)
        if box.srid != STORAGE_SRID:
            box.transform(STORAGE_SRID)
        queryset = queryset.filter(**{f"{collection.geometry_field}__intersects": box})
    for index, (name, value) in enumerate((query.equals or {}).items()):
        prop = collection.queryable(name)
        alias = f"ogc_eq{index}"
        try:
            queryset = queryset.alias(**{alias: prop.as_expression()}).filter(**{alias: value})
        except (ValueError, TypeError, ValidationError) as exc:
            # e.g. a malformed UUID for a key published as a string
            raise OgcError(f"{name}: {value!r} is not a valid value", field=name) from exc
    if query.filter:
        queryset = cql.apply(
            queryset, collection, query.filter, query.filter_lang, query.filter_crs
        )
    return queryset.order_by(collection.id_field)


def output_geometry(collection: Collection, out: Crs):
    """The geometry expression in the CRS ``out`` (axis order of the CRS)."""
    geometry = F(collection.geometry_field)
    if out.srid != STORAGE_SRID:
        geometry = Transform(geometry, out.srid)
    if out.lat_first:
        geometry = FlipCoordinates(geometry)
    return geometry


def _precision(out: Crs) -> int:
    # 7 decimals of a degree is about 1 cm; projected CRSs are in metres, keep millimetres
    return 7 if out.srid == STORAGE_SRID else 3


def _value_names(collection: Collection) -> dict[str, Any]:
    names = {f"ogc_p{i}": prop.as_expression() for i, prop in enumerate(collection.properties)}
    if collection.json_properties:
        names["ogc_json"] = F(collection.json_properties)
    return names


def _properties(collection: Collection, row: dict) -> dict:
    if collection.json_properties:
        # the JSON column keeps the imported values as they were (types included)
        return dict(row["ogc_json"] or {})
    return {prop.name: row[f"ogc_p{i}"] for i, prop in enumerate(collection.properties)}


@dataclass
class Page:
    """One page of features, as GeoJSON Feature texts."""

    features: list[str]
    has_next: bool


def feature_rows(collection: Collection, queryset: QuerySet, out: Crs) -> QuerySet:
    """``queryset`` as dicts: ``ogc_id``, ``ogc_geojson`` and the properties."""
    names = _value_names(collection)
    if collection.json_properties:
        names = {"ogc_json": names["ogc_json"]}
    return queryset.values(
        ogc_id=F(collection.id_field),
        ogc_geojson=AsGeoJSON(output_geometry(collection, out), precision=_precision(out)),
        **names,
    )


def feature_json(collection: Collection, row: dict, links: list | None = None) -> str:
    """One GeoJSON Feature; the geometry text from PostGIS is spliced in, not parsed."""
    head = json.dumps(
        {"type": "Feature", "id": row["ogc_id"]}, separators=(",", ":"), ensure_ascii=False
    )
    tail = json.dumps(
        _properties(collection, row), separators=(",", ":"), ensure_ascii=False, default=str
    )
    text = f'{head[:-1]},"geometry":{row["ogc_geojson"] or "null"},"properties":{tail}'
    if links:
        text += ',"links":' + json.dumps(links, separators=(",", ":"))
    return text + "}"


def page(collection: Collection, queryset: QuerySet, query: ItemsQuery, out: Crs) -> Page:
    """The features from ``offset`` to ``offset + limit`` (one more is read to see a next)."""
    rows = list(
        feature_rows(collection, queryset, out)[query.offset : query.offset + query.limit + 1]
    )
    has_next = len(rows) > query.limit
    return Page([feature_json(collection, row) for row in rows[: query.limit]], has_next)


def one(collection: Collection, user: Any, feature_id: int, out: Crs) -> dict | None:
    """The row of one feature, or ``None``."""
    queryset = collection.rows(user).filter(**{collection.id_field: feature_id})
    return feature_rows(collection, queryset, out).first()


def _reltuples(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row[0] if row else -1.0


def number_matched(collection: Collection, queryset: QuerySet, query: ItemsQuery) -> int | None:
    """``numberMatched`` without counting a large table.

    - unfiltered with a stored count (imported layers): that count;
    - unfiltered over a whole table of ``ESTIMATE_ABOVE`` rows or more: the planner's estimate;
    - otherwise a count that stops at ``COUNT_CAP`` rows; ``None`` (left out) beyond it.
    """
    if not query.is_filtered:
        if collection.stored_count is not None:
            stored = collection.stored_count()
            if stored is not None:
                return stored
        if not queryset.query.where:
            estimate = _reltuples(queryset.model._meta.db_table)
            if estimate >= ESTIMATE_ABOVE:
                return int(estimate)
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    return counted if counted <= COUNT_CAP else None


def export_frame(collection: Collection, queryset: QuerySet, out: Crs):
    """The features as a GeoDataFrame (geometries read as WKB) for the file exports."""
    import geopandas as gpd
    import shapely

    names = _value_names(collection)
    if collection.json_properties:
        # the raw JSON, as for /items: a cast of an odd value must not fail the whole export
        names = {"ogc_json": names["ogc_json"]}
    geometry = output_geometry(collection, out)
    if out.lat_first:
        # files keep x = longitude whatever the CRS says (what GDAL writes and reads)
        geometry = output_geometry(collection, Crs(out.uri, out.srid))
    rows = list(queryset.values(ogc_id=F(collection.id_field), ogc_wkb=AsWKB(geometry), **names))
    records = []
    for row in rows:
        record = {"id": row["ogc_id"]}
        record.update(_properties(collection, row))
        records.append(record)
    geometries = shapely.from_wkb([bytes(row["ogc_wkb"]) for row in rows])
    frame = gpd.GeoDataFrame(records, geometry=geometries, crs=f"EPSG:{out.srid}")
    if collection.json_properties:
        # columns in the order of the layer's schema, even for keys missing in every row
        for prop in collection.properties:
            if prop.name not in frame.columns:
                frame[prop.name] = None
    return frame
