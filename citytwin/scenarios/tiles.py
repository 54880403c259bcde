"""Tiles of run results: vector tiles of result layers and difference layers, PNG rasters."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.utils import render

from layers.auth import request_user
from layers.tiles import raster as raster_png
from layers.tiles.views import mvt_response, tile_sql

from . import results, services
from .models import Run, RunRaster

RASTER_COLORMAPS = raster_png.COLORMAPS


def _bad(message: str, field: str) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=400)


def _visible_run(request, run_id: str) -> Run:
    try:
        pk = uuid.UUID(run_id)
    except ValueError:
        raise Http404("no such run") from None
    scenarios = services.scenarios_visible_to(request_user(request))
    run = Run.objects.filter(pk=pk, scenario__in=scenarios).select_related("job", "scenario")
    found = run.first()
    if found is None:
        raise Http404("no such run")
    return found


def _zxy_ok(z: int, x: int, y: int) -> bool:
    return 0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z


@require_GET
def run_tile(request, run_id: str, kind: str, z: int, x: int, y: int, base_id: str | None = None):
    """``/tiles/runs/<run>/<edges|buildings>/z/x/y.pbf`` (and ``/tiles/compare/<run>/<base>/``)."""
    if not _zxy_ok(z, x, y):
        return _bad("tile z/x/y out of range", "z/x/y")
    if kind not in ("edges", "buildings"):
        raise Http404("result layers are edges and buildings")
    run = _visible_run(request, run_id)
    base = _visible_run(request, base_id) if base_id else None
    if base is not None:
        try:
            results.check_comparable(run, base)
        except results.CompareRejected as exc:
            return _bad(exc.message, "base")
    source, params = results.source_sql(kind, run, base)
    sql = tile_sql(source, "geom", ", ".join(f"t.{c}" for c in _columns(kind, base is not None)), z)
    params.update({"z": z, "x": x, "y": y, "name": kind})
    private = not run.scenario.is_baseline or (base is not None and not base.scenario.is_baseline)
    return mvt_response(request, sql, params, private)


def _columns(kind: str, compare: bool) -> list[str]:
    """Attribute columns of a result tile (an MVT feature keeps every non-geometry column)."""
    if not compare:
        fields = results.EDGE_FIELDS if kind == "edges" else results.BUILDING_FIELDS
        return [c.strip() for c in fields.split(",")]
    deltas = results.EDGE_DELTAS if kind == "edges" else results.BUILDING_DELTAS
    cols = ["edge_id" if kind == "edges" else "building_id", "only_in_run", "only_in_base"]
    cols += [f"{prefix}_{d}" for d in deltas for prefix in ("delta", "run", "base")]
    return cols + (["closed"] if kind == "edges" else [])


@require_GET
def raster_tile(request, run_id: str, name: str, z: int, x: int, y: int):
    """A PNG tile of a raster result with a colour ramp (``?colormap=``, ``?rescale=min,max``)."""
    if not _zxy_ok(z, x, y):
        return _bad("tile z/x/y out of range", "z/x/y")
    run = _visible_run(request, run_id)
    raster = RunRaster.objects.filter(run=run, name=name).first()
    if raster is None:
        raise Http404(f"run {run_id} has no raster {name!r}")
    colormap = request.GET.get("colormap", "viridis" if name == "sun_hours" else "greys")
    if colormap not in RASTER_COLORMAPS:
        return _bad(f"colormap must be one of {', '.join(RASTER_COLORMAPS)}", "colormap")
    low, high = raster.min_value, raster.max_value
    if "rescale" in request.GET:
        try:
            low, high = (float(v) for v in request.GET["rescale"].split(","))
        except ValueError:
            return _bad("rescale must be two numbers: min,max", "rescale")
    path = Path(settings.MEDIA_ROOT) / raster.file_path
    try:
        with Reader(str(path)) as cog:
            image = cog.tile(x, y, z, tilesize=256, resampling_method="nearest")
    except TileOutsideBounds:
        return HttpResponse(status=204)
    if name.startswith("shadow_"):
        # a shadow mask is drawn as a translucent dark veil; sunlit cells stay transparent
        shade = (image.data[0] == 1) & ~np.ma.getmaskarray(image.array)[0]
        rgb = np.full((3, *shade.shape), 20, dtype=np.uint8)
        png = render(rgb, mask=np.where(shade, 150, 0).astype(np.uint8), img_format="PNG")
    else:
        image.rescale(in_range=((low, high),))
        png = image.render(img_format="PNG", colormap=cmap.get(colormap))
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def raster_difference_tile(request, run_id: str, base_id: str, name: str, z: int, x: int, y: int):
    """PNG tile of ``run - base`` for a raster both runs have (e.g. sun hours), on a diverging
    ramp centred on zero (``?rescale=r`` sets the +/- range; default the larger of the maxima)."""
    if not _zxy_ok(z, x, y):
        return _bad("tile z/x/y out of range", "z/x/y")
    run, base = _visible_run(request, run_id), _visible_run(request, base_id)
    try:
        results.check_comparable(run, base)
    except results.CompareRejected as exc:
        return _bad(exc.message, "base")
    rasters = [RunRaster.objects.filter(run=r, name=name).first() for r in (run, base)]
    if None in rasters:
        raise Http404(f"both runs need a raster {name!r}")
    span = max(abs(r.max_value - r.min_value) for r in rasters) or 1.0
    if "rescale" in request.GET:
        try:
            span = abs(float(request.GET["rescale"])) or span
        except ValueError:
            return _bad("rescale must be a number (the +/- range)", "rescale")
    tiles = []
    for raster in rasters:
        try:
            with Reader(str(Path(settings.MEDIA_ROOT) / raster.file_path)) as cog:
                tiles.append(cog.tile(x, y, z, tilesize=256, resampling_method="nearest"))
        except TileOutsideBounds:
            return HttpResponse(status=204)
    a, b = (t.array[0].astype("float32") for t in tiles)
    diff = np.ma.filled(a - b, 0.0)
    valid = ~(np.ma.getmaskarray(a) | np.ma.getmaskarray(b))
    scaled = np.clip((diff / span + 1.0) * 127.5, 0, 255).astype(np.uint8)
    colours = cmap.get("rdbu")
    lut = np.array([colours[i][:3] for i in range(256)], dtype=np.uint8)
    rgb = lut[scaled].transpose(2, 0, 1)
    # unchanged cells stay transparent, so the difference layer shows only what changed
    alpha = np.where(valid & (np.abs(diff) > 1e-6), 220, 0).astype(np.uint8)
    response = HttpResponse(
        render(rgb.astype(np.uint8), mask=alpha, img_format="PNG"), content_type="image/png"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
