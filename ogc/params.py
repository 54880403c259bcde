"""The query parameters of ``/items`` and ``/export``, checked before any query runs.

Every parameter is either one the API defines or the name of a queryable (an equality filter,
OGC API - Features Part 1 section 7.15.5 / Part 3 queryables-query-parameters); anything else
is a 400, as the standard requires.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from django.http import QueryDict
from django.utils.dateparse import parse_date, parse_datetime
from pyproj import Transformer

from layers.geo import BBoxError, bbox_numbers

from . import crs as crs_mod
from .cql import LANGS
from .errors import OgcError
from .registry import Collection, Property

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
#: parameters every items request may carry, in the order the OpenAPI document lists them
ITEMS_PARAM_ORDER = (
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
)
ITEMS_PARAMS = frozenset(ITEMS_PARAM_ORDER)
EXPORT_FORMATS = {
    # format -> (pyogrio driver, file suffix, media type)
    "gpkg": ("GPKG", "gpkg", "application/geopackage+sqlite3"),
    "geojson": ("GeoJSON", "geojson", "application/geo+json"),
    "fgb": ("FlatGeobuf", "fgb", "application/flatgeobuf"),
    "csv": ("CSV", "csv", "text/csv"),
}


@dataclass
class ItemsQuery:
    """A checked items request."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: crs_mod.Crs | None = None
    crs: crs_mod.Crs | None = None
    filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: crs_mod.Crs | None = None
    equals: dict[str, object] | None = None
    format: str | None = None

    @property
    def is_filtered(self) -> bool:
        return bool(self.bbox or self.filter or self.equals)


#: the largest limit/offset the database takes (bigint)
MAX_INT = 2**63 - 1


def _int(raw: str, name: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise OgcError(f"{name} must be an integer, not {raw!r}", field=name) from exc
    if value < minimum:
        raise OgcError(f"{name} must be at least {minimum}", field=name)
    if value > MAX_INT:
        raise OgcError(f"{name} must be at most {MAX_INT}", field=name)
    return value


def parse_bbox(raw: str, box_crs: crs_mod.Crs) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or six numbers with heights) in ``box_crs`` axis order.

    Returns the box as (x min, y min, x max, y max) with x = longitude / easting, that is with
    the axes of a latitude-first CRS already swapped back.
    """
    try:
        numbers = bbox_numbers(raw, allow_heights=True)
    except BBoxError as exc:
        raise OgcError(str(exc), field="bbox") from exc
    a1, a2, b1, b2 = numbers
    if box_crs.lat_first:
        a1, a2, b1, b2 = a2, a1, b2, b1
    if a1 > b1 or a2 > b2:
        raise OgcError(
            f"bbox {raw!r}: the lower corner must come first (min <= max on both axes)",
            field="bbox",
        )
    if box_crs.srid == crs_mod.STORAGE_SRID and (a1 < -180 or b1 > 180 or a2 < -90 or b2 > 90):
        raise OgcError(f"bbox {raw!r} is outside the range of longitude/latitude", field="bbox")
    if box_crs.srid != crs_mod.STORAGE_SRID and not _inside_projection(
        box_crs.srid, a1, a2, b1, b2
    ):
        # checked before GDAL sees it: far-out projected values can make PROJ loop or wrap
        raise OgcError(f"bbox {raw!r} is outside the area of {box_crs.uri}", field="bbox")
    return a1, a2, b1, b2


def _inside_projection(srid: int, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Whether the box's corners go to lon/lat and back unchanged (within the projection)."""
    inverse = Transformer.from_crs(srid, 4326, always_xy=True)
    xs, ys = [x0, x1, x0, x1], [y0, y0, y1, y1]
    lon, lat = inverse.transform(xs, ys)
    if not all(math.isfinite(v) for v in (*lon, *lat)):
        return False
    if not all(-180 <= v <= 180 for v in lon) or not all(-90 <= v <= 90 for v in lat):
        return False
    back_x, back_y = inverse.transform(lon, lat, direction="INVERSE")
    return all(
        abs(a - b) <= 1.0 + 1e-9 * abs(a)
        for a, b in zip((*xs, *ys), (*back_x, *back_y), strict=True)
    )


def _datetime_part(raw: str) -> date | datetime | None:
    if raw in ("", ".."):
        return None
    value = parse_datetime(raw) or parse_date(raw)
    if value is None:
        raise ValueError(raw)
    return value


def check_datetime(raw: str) -> None:
    """Check the RFC 3339 instant or interval; no collection has a time yet, so all match."""
    try:
        parts = raw.split("/")
        if len(parts) > 2 or (len(parts) == 1 and parts[0] in ("", "..")):
            raise ValueError(raw)
        for part in parts:
            _datetime_part(part)
    except ValueError as exc:
        raise OgcError(
            f"datetime must be an RFC 3339 instant or interval (a/b, .. open), not {raw!r}",
            field="datetime",
        ) from exc


def _typed(prop: Property, raw: str) -> object:
    try:
        if prop.type == "integer":
            return int(raw)
        if prop.type == "number":
            return float(raw)
        if prop.type == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
    except ValueError as exc:
        raise OgcError(f"{prop.name} is {prop.type}; {raw!r} is not", field=prop.name) from exc
    return raw


def parse_items(
    params: QueryDict, collection: Collection, allowed_crs: list[crs_mod.Crs], extra=()
) -> ItemsQuery:
    """Check the query string of an items (or export) request.

    Parameters
    ----------
    params
        ``request.GET``.
    collection
        The collection asked for (its queryables are allowed as parameters).
    allowed_crs
        The CRSs the collection serves (:func:`ogc.crs.supported`).
    extra
        More parameter names this endpoint takes (``format`` for exports).
    """
    query = ItemsQuery(equals={})
    for name in params:
        if name not in ITEMS_PARAMS and name not in extra and collection.queryable(name) is None:
            raise OgcError(
                f"unknown query parameter {name!r}; allowed are "
                + ", ".join(sorted(ITEMS_PARAMS | set(extra)))
                + " and the queryables of the collection",
                field=name,
                code="InvalidParameterValue",
            )
    if "limit" in params:
        # above the maximum is not an error: the standard asks to serve the maximum
        query.limit = min(_int(params["limit"], "limit", 1), MAX_LIMIT)
    if "offset" in params:
        query.offset = _int(params["offset"], "offset", 0)
    if "crs" in params:
        query.crs = crs_mod.parse(params["crs"], allowed_crs, "crs")
    query.bbox_crs = allowed_crs[0]
    if "bbox-crs" in params:
        query.bbox_crs = crs_mod.parse(params["bbox-crs"], allowed_crs, "bbox-crs")
    if "bbox" in params:
        query.bbox = parse_bbox(params["bbox"], query.bbox_crs)
    if "datetime" in params:
        check_datetime(params["datetime"])
    query.filter_crs = allowed_crs[0]
    if "filter-crs" in params:
        query.filter_crs = crs_mod.parse(params["filter-crs"], allowed_crs, "filter-crs")
    if "filter-lang" in params:
        if params["filter-lang"] not in LANGS:
            raise OgcError(
                f"filter-lang must be one of {', '.join(LANGS)}, not {params['filter-lang']!r}",
                field="filter-lang",
            )
        query.filter_lang = params["filter-lang"]
    if "filter" in params:
        query.filter = params["filter"]
    for name in params:
        prop = collection.queryable(name)
        if prop is not None and name not in ITEMS_PARAMS:
            query.equals[name] = _typed(prop, params[name])
    query.format = params.get("f")
    return query
