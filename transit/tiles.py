"""Vector tiles of transit stops and lines: ``/tiles/transit-stops/z/x/y.pbf`` and
``/tiles/transit-lines/z/x/y.pbf`` (``?city=<id>``, ``?feed=<slug>``).

Made in the database like every tile of the twin (``layers.tiles.views.tile_sql``), with the
rows of the feeds the asker may see: public feeds, and their own private ones (the same rule
as the OGC collections). Tiles showing a private feed are sent as private (no shared caches).
"""

from __future__ import annotations

from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_GET

from layers.auth import request_user
from layers.tiles.views import mvt_response, tile_sql

from .ogc import visible_feeds

LAYERS = {
    "transit-stops": (
        "transit_stop",
        "geom",
        "t.id, t.feed_id, t.stop_id, t.name, t.location_type, t.served",
    ),
    "transit-lines": (
        "transit_route",
        "geom",
        "t.id, t.feed_id, t.route_id, t.short_name, t.long_name, t.mode, t.route_type, "
        "CASE WHEN t.color = '' THEN NULL ELSE '#' || t.color END AS color",
    ),
}


@require_GET
def tile(request, layer: str, z: int, x: int, y: int):
    if layer not in LAYERS:
        raise Http404(f"no transit layer {layer!r}")
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        return HttpResponseBadRequest(
            '{"error": "tile z/x/y out of range", "field": "z/x/y"}',
            content_type="application/json",
        )
    feeds = visible_feeds(request_user(request))
    city = request.GET.get("city")
    if city is not None:
        if not city.isdigit():
            return JsonResponse({"error": "city must be a city id", "field": "city"}, status=400)
        feeds = feeds.filter(city_id=int(city))
    if "feed" in request.GET:
        feeds = feeds.filter(slug=request.GET["feed"])
    chosen = list(feeds.values_list("id", "visibility"))
    table, geom_col, attrs = LAYERS[layer]
    sql = tile_sql(table, geom_col, attrs, z, "AND t.feed_id = ANY(%(feeds)s)")
    params = {"z": z, "x": x, "y": y, "name": layer, "feeds": [pk for pk, _ in chosen]}
    private = any(visibility != "public" for _, visibility in chosen)
    return mvt_response(request, sql, params, private)
