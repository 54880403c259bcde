"""The OpenAPI 3.0 definition of the API, with one path per collection (what GDAL reads)."""

from __future__ import annotations

from .documents import GEOJSON, HTML, JSON, OPENAPI, SCHEMA_JSON, TITLE
from .params import DEFAULT_LIMIT, EXPORT_FORMATS, ITEMS_PARAM_ORDER, MAX_LIMIT
from .registry import Collection

_REF = "#/components/parameters/"


def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        "style": "form",
        "explode": False,
        **extra,
    }


PARAMETERS = {
    "f": _query(
        "f",
        {"type": "string", "enum": ["json", "html"]},
        "the format of the response; the Accept header is used when absent",
    ),
    "limit": _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        f"the number of features in a page (at most {MAX_LIMIT})",
    ),
    "offset": _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "features to skip"),
    "bbox": _query(
        "bbox",
        {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        "features that intersect the box minx,miny,maxx,maxy (in bbox-crs, CRS84 by default)",
    ),
    "bbox-crs": _query("bbox-crs", {"type": "string", "format": "uri"}, "the CRS of bbox"),
    "crs": _query("crs", {"type": "string", "format": "uri"}, "the CRS of the geometries"),
    "datetime": _query(
        "datetime",
        {"type": "string"},
        "an RFC 3339 instant or interval; no collection has a time yet, so every feature matches",
    ),
    "filter": _query("filter", {"type": "string"}, "a CQL2 filter on the queryables"),
    "filter-lang": _query(
        "filter-lang",
        {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
        "the encoding of filter",
    ),
    "filter-crs": _query(
        "filter-crs",
        {"type": "string", "format": "uri"},
        "the CRS of the geometries in filter (CRS84 by default)",
    ),
    "featureId": {
        "name": "featureId",
        "in": "path",
        "required": True,
        "description": "the id of a feature",
        "schema": {"type": "integer"},
    },
}

_NOT_EXPORT = {"f", "limit", "offset"}


def _response(description: str, *media_types: str) -> dict:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "object"}} for media_type in media_types},
    }


_ERRORS = {
    "400": _response("invalid or unknown query parameter", JSON),
    "404": _response("not found", JSON),
}


def _op(op_id: str, summary: str, tag: str, ok: dict, params: list | None = None) -> dict:
    return {
        "get": {
            "operationId": op_id,
            "summary": summary,
            "tags": [tag],
            "parameters": params or [{"$ref": _REF + "f"}],
            "responses": {"200": ok, **_ERRORS},
        }
    }


def definition(base: str, collections: list[Collection]) -> dict:
    """The OpenAPI document for the collections the caller may see."""
    paths = {
        "/": _op("getLandingPage", "landing page", "Capabilities", _response("ok", JSON, HTML)),
        "/conformance": _op(
            "getConformance", "conformance classes", "Capabilities", _response("ok", JSON, HTML)
        ),
        "/api": _op("getApi", "this document", "Capabilities", _response("ok", OPENAPI)),
        "/collections": _op(
            "getCollections", "the collections", "Capabilities", _response("ok", JSON, HTML)
        ),
    }
    for item in collections:
        url = f"/collections/{item.id}"
        key = item.id.replace("-", "_")
        query_params = [{"$ref": _REF + name} for name in ITEMS_PARAM_ORDER]
        for prop in item.properties:
            schema = {"type": prop.type}
            query_params.append(_query(prop.name, schema, f"features whose {prop.name} equals"))
        paths[url] = _op(
            f"describe_{key}", f"{item.title}: metadata", item.title, _response("ok", JSON, HTML)
        )
        paths[f"{url}/queryables"] = _op(
            f"queryables_{key}",
            f"{item.title}: queryables",
            item.title,
            _response("ok", SCHEMA_JSON),
        )
        paths[f"{url}/items"] = _op(
            f"items_{key}",
            f"{item.title}: features",
            item.title,
            _response("a page of features", GEOJSON, HTML),
            query_params,
        )
        paths[f"{url}/items/{{featureId}}"] = _op(
            f"item_{key}",
            f"{item.title}: one feature",
            item.title,
            _response("a feature", GEOJSON, HTML),
            [{"$ref": _REF + "featureId"}, {"$ref": _REF + "f"}, {"$ref": _REF + "crs"}],
        )
        export_params = [
            _query("format", {"type": "string", "enum": list(EXPORT_FORMATS)}, "file format"),
            # everything of /items but f, limit and offset (an export is not paged)
            *[
                p
                for p in query_params
                if p.get("$ref", "").rsplit("/", 1)[-1] not in _NOT_EXPORT
                and p.get("name") not in _NOT_EXPORT
            ],
        ]
        paths[f"{url}/export"] = _op(
            f"export_{key}",
            f"{item.title}: download",
            item.title,
            _response(
                "the features as a file", *(media for _d, _s, media in EXPORT_FORMATS.values())
            ),
            export_params,
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": "1.0.0",
            "description": "OGC API - Features Parts 1, 2 and 3 over the CityTwin database.",
            "license": {"name": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": PARAMETERS},
    }
