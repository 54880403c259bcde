"""Thin views of the OGC API: check the request, ask the modules, pick JSON or HTML."""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.gdal import GDALException
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from layers.auth import request_user

from . import documents, exports, features, html, openapi, registry
from .errors import NotFound, OgcError
from .http import base_url, json_response, now_iso, wants_html
from .params import EXPORT_FORMATS, parse_items

#: the most features one export file may hold
MAX_EXPORT_FEATURES = 500_000


def ogc_view(view):
    """GET only; an :class:`OgcError` becomes its JSON answer."""

    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except OgcError as exc:
            response = exc.response()
        except (DataError, GDALException, RecursionError) as exc:
            # a value the database or GDAL cannot take (out of range, too deeply nested):
            # the request's fault, not the server's
            response = OgcError(f"the request cannot be evaluated: {exc}").response()
        if not _public(request, view.__name__, kwargs.get("collection_id")):
            del response["Access-Control-Allow-Origin"]
        return response

    return wrapper


def _public(request: HttpRequest, view_name: str, collection_id: str | None) -> bool:
    """Whether the answer is what anyone gets (then other sites' pages may read it): an
    anonymous request, the static documents, or a collection visible to anonymous users."""
    if not request_user(request).is_authenticated or view_name in ("landing", "conformance"):
        return True
    if collection_id is None:
        return False  # the list (and the OpenAPI document) name the user's private layers
    return registry.get_collection(collection_id, AnonymousUser()) is not None


def _collection(request: HttpRequest, collection_id: str) -> registry.Collection:
    found = registry.get_collection(collection_id, request_user(request))
    if found is None:
        raise NotFound(f"no collection {collection_id!r}")
    return found


@ogc_view
def landing(request):
    base = base_url(request)
    document = documents.landing(base)
    if wants_html(request):
        return html.render(base, documents.TITLE, document)
    return json_response(document)


@ogc_view
def conformance(request):
    document = documents.conformance()
    if wants_html(request):
        rows = [[uri] for uri in document["conformsTo"]]
        return html.render(base_url(request), "Conformance", document, columns=["class"], rows=rows)
    return json_response(document)


@ogc_view
def api(request):
    base = base_url(request)
    document = openapi.definition(base, registry.collections_for(request_user(request)))
    if wants_html(request):
        rows = [[path, op["get"]["summary"]] for path, op in document["paths"].items()]
        return html.render(base, "API definition", document, columns=["path", "summary"], rows=rows)
    return json_response(document, documents.OPENAPI)


@ogc_view
def collections(request):
    base = base_url(request)
    user = request_user(request)
    document = documents.collections(base, registry.collections_for(user), user)
    if wants_html(request):
        rows = [
            [(c["title"], f"{base}/collections/{c['id']}?f=html"), c["id"], c["description"]]
            for c in document["collections"]
        ]
        return html.render(
            base,
            "Collections",
            document,
            columns=["title", "id", "description"],
            rows=rows,
            rows_title="Collections",
            row_links=True,
        )
    return json_response(document)


@ogc_view
def collection(request, collection_id: str):
    base = base_url(request)
    item = _collection(request, collection_id)
    document = documents.collection(base, item, request_user(request))
    if wants_html(request):
        rows = [[p.name, p.type, p.title] for p in item.properties]
        return html.render(
            base,
            item.title,
            document,
            columns=["property", "type", "title"],
            rows=rows,
            rows_title="Properties",
        )
    return json_response(document)


@ogc_view
def queryables(request, collection_id: str):
    base = base_url(request)
    document = documents.queryables(base, _collection(request, collection_id))
    if wants_html(request):
        rows = [
            [name, schema.get("type", schema.get("format"))]
            for name, schema in document["properties"].items()
        ]
        return html.render(
            base, f"Queryables of {collection_id}", document, columns=["name", "type"], rows=rows
        )
    return json_response(document, documents.SCHEMA_JSON)


def _page_url(request: HttpRequest, **changes) -> str:
    params = {key: request.GET[key] for key in request.GET}
    params.update({k: str(v) for k, v in changes.items()})
    return request.build_absolute_uri(request.path) + "?" + urlencode(params)


@ogc_view
def items(request, collection_id: str):
    base = base_url(request)
    user = request_user(request)
    item = _collection(request, collection_id)
    allowed = documents.allowed_crs(item)
    query = parse_items(request.GET, item, allowed)
    as_html = wants_html(request)
    out = query.crs or allowed[0]
    queryset = features.select(item, query, user)
    page = features.page(item, queryset, query, out)
    matched = features.number_matched(item, queryset, query)
    geojson, page_type = documents.GEOJSON, documents.GEOJSON
    links = [
        documents.link(_page_url(request, f="json"), "self", geojson, "this page"),
        documents.link(_page_url(request, f="html"), "alternate", documents.HTML, "as HTML"),
        documents.link(f"{base}/collections/{item.id}", "collection", documents.JSON, item.title),
    ]
    if page.has_next:
        links.append(
            documents.link(
                _page_url(request, offset=query.offset + query.limit, f="json"),
                "next",
                page_type,
                "next page",
            )
        )
    if query.offset > 0:
        links.append(
            documents.link(
                _page_url(request, offset=max(query.offset - query.limit, 0), f="json"),
                "prev",
                page_type,
                "previous page",
            )
        )
    head = {
        "type": "FeatureCollection",
        "timeStamp": now_iso(),
        "numberReturned": len(page.features),
        "links": links,
    }
    if matched is not None:
        head["numberMatched"] = matched
    if as_html:
        parsed = [json.loads(text) for text in page.features]
        names = [p.name for p in item.properties]
        rows = [
            [(f["id"], f"{base}/collections/{item.id}/items/{f['id']}?f=html")]
            + [f["properties"].get(n) for n in names]
            for f in parsed
        ]
        return html.render(
            base,
            f"{item.title}: features",
            head,
            columns=["id", *names],
            rows=rows,
            rows_title="Features",
            row_links=True,
        )
    body = (
        json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(page.features) + "]}"
    )
    return json_response(body, geojson, Content_Crs=out.content_crs)


@ogc_view
def item(request, collection_id: str, feature_id: str):
    base = base_url(request)
    collection_ = _collection(request, collection_id)
    allowed = documents.allowed_crs(collection_)
    for name in request.GET:
        if name not in ("f", "crs"):
            raise OgcError(f"unknown query parameter {name!r}; allowed are f and crs", field=name)
    out = allowed[0]
    if "crs" in request.GET:
        from .crs import parse as parse_crs

        out = parse_crs(request.GET["crs"], allowed, "crs")
    try:
        number = int(feature_id)
    except ValueError as exc:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}") from exc
    row = features.one(collection_, request_user(request), number, out)
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}")
    url = f"{base}/collections/{collection_.id}/items/{feature_id}"
    links = [
        documents.link(url, "self", documents.GEOJSON, "this feature"),
        documents.link(f"{url}?f=html", "alternate", documents.HTML, "as HTML"),
        documents.link(
            f"{base}/collections/{collection_.id}", "collection", documents.JSON, collection_.title
        ),
    ]
    text = features.feature_json(collection_, row, links)
    if wants_html(request):
        document = json.loads(text)
        rows = [[k, v] for k, v in document["properties"].items()]
        return html.render(
            base,
            f"{collection_.title} {feature_id}",
            document,
            columns=["property", "value"],
            rows=rows,
        )
    return json_response(text, documents.GEOJSON, Content_Crs=out.content_crs)


@ogc_view
def export(request, collection_id: str):
    item = _collection(request, collection_id)
    allowed = documents.allowed_crs(item)
    fmt = request.GET.get("format", "gpkg")
    if fmt not in EXPORT_FORMATS:
        raise OgcError(
            f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}", field="format"
        )
    for name in ("limit", "offset"):
        if name in request.GET:  # an export is the whole (filtered) collection, not a page
            raise OgcError(f"{name} is not taken by exports; filter instead", field=name)
    query = parse_items(request.GET, item, allowed, extra=("format",))
    out = query.crs or allowed[0]
    queryset = features.select(item, query, request_user(request))
    # exports are built in memory: a cap keeps one download from exhausting the server
    if queryset.order_by()[: MAX_EXPORT_FEATURES + 1].count() > MAX_EXPORT_FEATURES:
        raise OgcError(
            f"more than {MAX_EXPORT_FEATURES:,} features; narrow the export with bbox, filter "
            "or a queryable (or page through /items)",
            field="format",
            status=413,
        )
    return exports.response(item, queryset, out, fmt)
