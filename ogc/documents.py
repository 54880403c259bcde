"""The JSON documents of the API: landing page, conformance, collections, queryables.

Functions take the absolute base URL of the API (``http://host/ogc``) so that every link is
absolute, as QGIS and GDAL expect.
"""

from __future__ import annotations

from typing import Any

from . import crs as crs_mod
from .params import EXPORT_FORMATS
from .registry import Collection

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
]

TITLE = "CityTwin OGC API - Features"


def link(href: str, rel: str, media_type: str, title: str = "") -> dict:
    found = {"href": href, "rel": rel, "type": media_type}
    if title:
        found["title"] = title
    return found


def landing(base: str) -> dict:
    return {
        "title": TITLE,
        "description": "Every layer of the urban digital twin: buildings, roads, utilities, "
        "facilities, areas and imported layers.",
        "links": [
            link(f"{base}/?f=json", "self", JSON, "this document"),
            link(f"{base}/?f=html", "alternate", HTML, "this document as HTML"),
            link(f"{base}/api", "service-desc", OPENAPI, "the API definition"),
            link(f"{base}/api?f=html", "service-doc", HTML, "the API definition as HTML"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(
                f"{base}/conformance",
                "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                JSON,
                "conformance classes",
            ),
            link(f"{base}/collections", "data", JSON, "the feature collections"),
            link(
                f"{base}/collections",
                "http://www.opengis.net/def/rel/ogc/1.0/data",
                JSON,
                "the feature collections",
            ),
        ],
    }


def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


def allowed_crs(collection: Collection) -> list[crs_mod.Crs]:
    return crs_mod.supported(collection.local_epsgs())


def collection(base: str, item: Collection, user: Any) -> dict:
    """The metadata of one collection (the same object in ``/collections``)."""
    url = f"{base}/collections/{item.id}"
    links = [
        link(url, "self", JSON, "this collection"),
        link(f"{url}?f=html", "alternate", HTML, "this collection as HTML"),
        link(f"{url}/items", "items", GEOJSON, "the features"),
        link(f"{url}/items?f=html", "items", HTML, "the features as HTML"),
        link(
            f"{url}/queryables",
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            SCHEMA_JSON,
            "queryables",
        ),
    ]
    for fmt, (driver, _suffix, media_type) in EXPORT_FORMATS.items():
        links.append(link(f"{url}/export?format={fmt}", "enclosure", media_type, driver))
    found = {
        "id": item.id,
        "title": item.title,
        "description": item.description,
        "itemType": "feature",
        "links": links,
        "crs": [c.uri for c in allowed_crs(item)],
        "storageCrs": crs_mod.CRS84,
    }
    box = item.spatial_extent(user)
    if box is not None:
        found["extent"] = {"spatial": {"bbox": [[round(v, 7) for v in box]], "crs": crs_mod.CRS84}}
    return found


def collections(base: str, items: list[Collection], user: Any) -> dict:
    return {
        "links": [
            link(f"{base}/collections", "self", JSON, "this document"),
            link(f"{base}/collections?f=html", "alternate", HTML, "this document as HTML"),
        ],
        "collections": [collection(base, item, user) for item in items],
        "crs": [crs_mod.CRS84],
    }


_GEOMETRY_FORMATS = {
    "Point": "geometry-point",
    "MultiPoint": "geometry-multipoint",
    "LineString": "geometry-linestring",
    "MultiLineString": "geometry-multilinestring",
    "Polygon": "geometry-polygon",
    "MultiPolygon": "geometry-multipolygon",
}


def queryables(base: str, item: Collection) -> dict:
    """JSON Schema of the queryables (Part 3): the geometry and every property."""
    properties: dict[str, dict] = {
        "geometry": {
            "title": "geometry",
            "format": _GEOMETRY_FORMATS.get(item.geometry_type, "geometry-any"),
            "x-ogc-role": "primary-geometry",
        }
    }
    for prop in item.properties:
        schema: dict[str, Any] = {"title": prop.title or prop.name, "type": prop.type}
        if prop.format:
            schema["format"] = prop.format
        properties[prop.name] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{item.id}/queryables",
        "type": "object",
        "title": item.title,
        "properties": properties,
        "additionalProperties": False,
    }
