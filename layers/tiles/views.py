"""Mapbox vector tiles made in the database (ST_AsMVT / ST_AsMVTGeom).

``/tiles/<layer>/<z>/<x>/<y>.pbf`` where ``layer`` is one of the twin's layers (buildings,
roads, road-nodes, utilities, utility-nodes, facilities, areas) or the slug of an imported
layer. ``?city=<id>`` limits a tile to one city. Geometries are simplified below zoom 14 with a
tolerance of a quarter of a tile pixel, so low-zoom tiles stay small without visible change.

Buildings below zoom 14 are thinned (see :func:`building_tile_sql`): footprints smaller than a
screen pixel are left out, the rest are drawn on a grid of half a screen pixel with the few
attributes the map styles them by. Rendered tiles up to zoom 15 are cached
(:mod:`layers.tiles.cache`) under the state of the data they show, so an import makes them
unreachable at once.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..auth import request_user
from ..models import Layer, RasterLayer
from ..services import visible_to
from . import cache as tile_cache
from . import raster

EXTENT = 4096
#: screen pixels across a tile as MapLibre draws vector tiles
SCREEN_TILE_PX = 512
#: below this zoom buildings are thinned
THIN_BELOW_ZOOM = 14
#: most buildings in a thinned tile (the largest footprints are kept)
THIN_MAX_BUILDINGS = 12_000
#: a rendered building tile never exceeds this (the limit is halved until it fits)
MAX_BUILDING_TILE_BYTES = 500_000
BUFFER = 64
WEB_MERCATOR_WIDTH_M = 40075016.68557849

# layer -> (table, geometry column, attribute SQL)
CORE_LAYERS: dict[str, tuple[str, str, str]] = {
    "buildings": (
        "layers_building",
        "footprint",
        "t.id, t.city_id, t.height_m, t.height_source, t.levels, t.use, t.use_source, "
        "t.use_confidence, t.building_type, t.name, t.floor_area_m2, t.residents, t.workers, "
        "t.external_id",
    ),
    "roads": (
        "layers_roadedge",
        "geom",
        "t.id, t.city_id, t.u_id AS u, t.v_id AS v, t.key, t.highway, t.name, t.lanes, t.speed_kph, "
        "t.capacity_veh_h, t.oneway, t.length_m, t.in_largest_scc",
    ),
    "road-nodes": ("layers_roadnode", "geom", "t.id, t.city_id, t.osm_id, t.in_largest_scc"),
    "utilities": (
        "layers_utilitylink",
        "geom",
        "t.id, t.city_id, t.network, t.kind, t.substance, t.voltage, t.length_m",
    ),
    "utility-nodes": ("layers_utilitynode", "geom", "t.id, t.city_id, t.network, t.kind, t.name"),
    "facilities": ("layers_facility", "geom", "t.id, t.city_id, t.kind, t.name, t.capacity"),
    "areas": ("layers_areafeature", "geom", "t.id, t.city_id, t.kind, t.subtype, t.name"),
}


def tile_sql(
    table: str, geom_col: str, attrs: str, z: int, extra_where: str = "", extent: int = EXTENT
) -> str:
    pixel_m = WEB_MERCATOR_WIDTH_M / (2**z) / extent
    # the filter box in lon/lat, grown by the tile buffer (never wraps at z = 0, unlike a margin)
    margin_deg = 360.0 / (2**z) * BUFFER / EXTENT
    buffer = max(1, BUFFER * extent // EXTENT)
    geom = f"ST_Transform(t.{geom_col}, 3857)"
    if z < 14:
        geom = f"ST_Simplify({geom}, {pixel_m / 4:.6f}, true)"
    return f"""
        WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS g3857,
                               ST_Expand(ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326), {margin_deg}) AS g4326),
        mvt AS (
            SELECT ST_AsMVTGeom({geom}, bounds.g3857, {extent}, {buffer}, true) AS mvt_geom, {attrs}
            FROM {table} t, bounds
            WHERE t.{geom_col} && bounds.g4326 {extra_where}
        )
        SELECT ST_AsMVT(mvt.*, %(name)s, {extent}, 'mvt_geom') FROM mvt WHERE mvt_geom IS NOT NULL
    """


def screen_pixel_m(z: int, y: int) -> float:
    """Ground metres of one screen pixel at the middle of tile row ``y`` of zoom ``z``."""
    lat = math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z)))
    return WEB_MERCATOR_WIDTH_M / 2**z / SCREEN_TILE_PX * math.cos(lat)


def building_tile_sql(z: int, y: int, city_where: str) -> str:
    """Buildings tile: below :data:`THIN_BELOW_ZOOM` thinned, else every footprint in full.

    Thinning at zoom ``z`` (params: ``limit``): a footprint smaller than one screen pixel
    (ground area at the tile's latitude) draws nothing and is left out; of the rest, the
    ``limit`` largest are kept (dense districts at zoom 12 hold 20,000 buildings per tile,
    where a screen has 262,144 pixels); they are drawn on a grid of half a screen pixel (MVT
    extent 1024) with the attributes the map styles them by, heights rounded to the metre,
    and the building id as the MVT feature id.
    """
    table, geom_col, attrs = CORE_LAYERS["buildings"]
    if z >= THIN_BELOW_ZOOM:
        return tile_sql(table, geom_col, attrs, z, city_where)
    extent = 2 * SCREEN_TILE_PX
    unit_m = WEB_MERCATOR_WIDTH_M / 2**z / extent
    margin_deg = 360.0 / (2**z) * BUFFER / EXTENT
    return f"""
        WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS g3857,
                               ST_Expand(ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326), {margin_deg}) AS g4326),
        picked AS (
            SELECT t.id, t.city_id, t.height_m, t.use, t.footprint
            FROM layers_building t, bounds
            WHERE t.footprint && bounds.g4326
              AND t.footprint_area_m2 >= {screen_pixel_m(z, y) ** 2:.3f} {city_where}
            ORDER BY t.footprint_area_m2 DESC, t.id
            LIMIT %(limit)s
        ),
        mvt AS (
            SELECT ST_AsMVTGeom(ST_Simplify(ST_Transform(p.footprint, 3857), {unit_m / 2:.6f}, true),
                                bounds.g3857, {extent}, {BUFFER * extent // EXTENT}, true) AS mvt_geom,
                   p.id, p.city_id, round(p.height_m)::int AS height_m, p.use
            FROM picked p, bounds
        )
        SELECT ST_AsMVT(mvt.*, %(name)s, {extent}, 'mvt_geom', 'id') FROM mvt
        WHERE mvt_geom IS NOT NULL
    """


@require_GET
def tile(request, layer: str, z: int, x: int, y: int):
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        return HttpResponseBadRequest(
            '{"error": "tile z/x/y out of range", "field": "z/x/y"}',
            content_type="application/json",
        )
    params: dict = {"z": z, "x": x, "y": y, "name": layer}
    city = request.GET.get("city")
    city_where = ""
    if city is not None:
        if not city.isdigit():
            return JsonResponse({"error": "city must be a city id", "field": "city"}, status=400)
        params["city"] = int(city)
        city_where = "AND t.city_id = %(city)s"
    private = False
    found = None
    if layer in CORE_LAYERS:
        table, geom_col, attrs = CORE_LAYERS[layer]
        if layer == "buildings":
            sql = building_tile_sql(z, y, city_where)
            params["limit"] = THIN_MAX_BUILDINGS
        else:
            sql = tile_sql(table, geom_col, attrs, z, city_where)
    else:
        user = request_user(request)
        found = visible_to(Layer.objects.filter(slug=layer), user).first()
        if found is None:
            raise Http404(f"no layer {layer!r}")
        private = found.visibility != "public"
        params["layer_id"] = found.id
        sql = tile_sql(
            "layers_feature", "geom", "t.fid, t.properties", z, "AND t.layer_id = %(layer_id)s"
        )
    key = None
    if z <= tile_cache.MAX_CACHED_ZOOM:
        version = tile_cache.data_version(layer, params.get("city"), found)
        if version is not None:
            key = tile_cache.tile_key(layer, z, x, y, version, f"city{params.get('city', '*')}")
    return mvt_response(request, sql, params, private, cache_key=key)


def render_tile(sql: str, params: dict) -> bytes:
    """The MVT body of a tile query (empty when nothing falls in the tile).

    A query with a ``limit`` parameter (thinned buildings) is run again with half the limit
    while its tile is larger than :data:`MAX_BUILDING_TILE_BYTES`.
    """
    params = dict(params)
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        data = bytes(row[0]) if row and row[0] is not None else b""
        if "limit" not in params or len(data) <= MAX_BUILDING_TILE_BYTES or params["limit"] < 2:
            return data
        params["limit"] //= 2


def mvt_response(
    request, sql: str, params: dict, private: bool, cache_key: str | None = None
) -> HttpResponse:
    """Run a tile query (or take it from the tile cache under ``cache_key``); the response has
    an ETag (304 when unchanged) and cache headers.

    The cache keeps the ETag and the body as sent to most clients (gzipped when over 512
    bytes), so a hit costs neither the query nor the compression.
    """
    cached = tile_cache.get(cache_key) if cache_key else None
    if cached is None:
        data = render_tile(sql, params)
        etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
        # MVT compresses 2-4x; browsers and GDAL inflate it transparently
        zipped = len(data) > 512
        body = gzip.compress(data, compresslevel=5) if zipped else data
        if cache_key:
            tile_cache.put(cache_key, (etag, body, zipped))
    else:
        etag, body, zipped = cached
    cache = "private, max-age=60" if private else "public, max-age=300"
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    elif zipped and "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(body, content_type="application/vnd.mapbox-vector-tile")
        response["Content-Encoding"] = "gzip"
    else:
        plain = gzip.decompress(body) if zipped else body
        response = HttpResponse(plain, content_type="application/vnd.mapbox-vector-tile")
    response["Vary"] = "Accept-Encoding"
    response["ETag"] = etag
    response["Cache-Control"] = cache
    if not private:  # other sites' pages may read public tiles, never private ones
        response["Access-Control-Allow-Origin"] = "*"
    if private:
        response["Vary"] = "Accept-Encoding, Authorization, Cookie"
    return response


def tilejson(request, layer: str):
    """TileJSON 3.0 for a layer (what MapLibre and QGIS read)."""
    if layer not in CORE_LAYERS:
        user = request_user(request)
        if not visible_to(Layer.objects.filter(slug=layer), user).exists():
            raise Http404(f"no layer {layer!r}")
    base = request.build_absolute_uri(f"/tiles/{layer}/")
    return JsonResponse(
        {
            "tilejson": "3.0.0",
            "name": layer,
            "tiles": [base + "{z}/{x}/{y}.pbf"],
            "minzoom": 0,
            "maxzoom": 22,
            "vector_layers": [{"id": layer, "fields": {}}],
            "attribution": "© OpenStreetMap contributors",
        }
    )


@require_GET
def raster_layer_tile(request, slug: str, z: int, x: int, y: int):
    """``/tiles/rasters/<slug>/z/x/y.png``: an imported raster as PNG tiles (``?colormap=``,
    ``?rescale=min,max``; default range: the band's min and max from the import)."""
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        return JsonResponse({"error": "tile z/x/y out of range", "field": "z/x/y"}, status=400)
    found = visible_to(RasterLayer.objects.filter(slug=slug), request_user(request)).first()
    if found is None:
        raise Http404(f"no raster {slug!r}")
    colormap = request.GET.get("colormap", "viridis")
    if colormap not in raster.COLORMAPS:
        return JsonResponse(
            {
                "error": f"colormap must be one of {', '.join(raster.COLORMAPS)}",
                "field": "colormap",
            },
            status=400,
        )
    stats = found.statistics or {}
    low, high = stats.get("min", 0.0), stats.get("max", 1.0)
    if "rescale" in request.GET:
        try:
            low, high = (float(v) for v in request.GET["rescale"].split(","))
        except ValueError:
            return JsonResponse(
                {"error": "rescale must be two numbers: min,max", "field": "rescale"}, status=400
            )
    png = raster.png_tile(
        str(Path(settings.MEDIA_ROOT) / found.file_path), x, y, z, low, high, colormap
    )
    if png is None:
        return HttpResponse(status=204)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = (
        "public, max-age=300" if found.visibility == "public" else "private, max-age=60"
    )
    return response
