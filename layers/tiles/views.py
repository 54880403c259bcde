"""Mapbox vector tiles made in the database (ST_AsMVT / ST_AsMVTGeom).

``/tiles/<layer>/<z>/<x>/<y>.pbf`` where ``layer`` is one of the twin's layers (buildings,
roads, road-nodes, utilities, utility-nodes, facilities, areas) or the slug of an imported
layer. ``?city=<id>`` limits a tile to one city. Geometries are simplified below zoom 14 with a
tolerance of a quarter of a tile pixel, so low-zoom tiles stay small without visible change.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..auth import request_user
from ..models import Layer, RasterLayer
from ..services import visible_to
from . import raster

EXTENT = 4096
BUFFER = 64
WEB_MERCATOR_WIDTH_M = 40075016.68557849

# layer -> (table, geometry column, attribute SQL)
CORE_LAYERS: dict[str, tuple[str, str, str]] = {
    "buildings": (
        "layers_building",
        "footprint",
        "t.id, t.city_id, t.height_m, t.height_source, t.levels, t.use, t.building_type, t.name, "
        "t.floor_area_m2, t.residents, t.workers, t.external_id",
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


def tile_sql(table: str, geom_col: str, attrs: str, z: int, extra_where: str = "") -> str:
    pixel_m = WEB_MERCATOR_WIDTH_M / (2**z) / EXTENT
    # the filter box in lon/lat, grown by the tile buffer (never wraps at z = 0, unlike a margin)
    margin_deg = 360.0 / (2**z) * BUFFER / EXTENT
    geom = f"ST_Transform(t.{geom_col}, 3857)"
    if z < 14:
        geom = f"ST_Simplify({geom}, {pixel_m / 4:.6f}, true)"
    return f"""
        WITH bounds AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS g3857,
                               ST_Expand(ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326), {margin_deg}) AS g4326),
        mvt AS (
            SELECT ST_AsMVTGeom({geom}, bounds.g3857, {EXTENT}, {BUFFER}, true) AS mvt_geom, {attrs}
            FROM {table} t, bounds
            WHERE t.{geom_col} && bounds.g4326 {extra_where}
        )
        SELECT ST_AsMVT(mvt.*, %(name)s, {EXTENT}, 'mvt_geom') FROM mvt WHERE mvt_geom IS NOT NULL
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
    if layer in CORE_LAYERS:
        table, geom_col, attrs = CORE_LAYERS[layer]
        where = city_where
        if layer == "buildings" and z < 14:
            # a footprint smaller than one tile pixel draws nothing; leaving it out keeps
            # low-zoom tiles small where many buildings fall in one tile
            pixel_m = WEB_MERCATOR_WIDTH_M / (2**z) / EXTENT
            where += f" AND t.footprint_area_m2 >= {pixel_m**2:.3f}"
        sql = tile_sql(table, geom_col, attrs, z, where)
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
    return mvt_response(request, sql, params, private)


def mvt_response(request, sql: str, params: dict, private: bool) -> HttpResponse:
    """Run a tile query; the response has an ETag (304 when unchanged) and cache headers."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    data = bytes(row[0]) if row and row[0] is not None else b""
    etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
    cache = "private, max-age=60" if private else "public, max-age=300"
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(data, content_type="application/vnd.mapbox-vector-tile")
        # MVT compresses 2-4x; browsers and GDAL inflate it transparently
        if len(data) > 512 and "gzip" in request.headers.get("Accept-Encoding", ""):
            response.content = gzip.compress(data, compresslevel=5)
            response["Content-Encoding"] = "gzip"
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
