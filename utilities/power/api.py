"""REST of the power grids: list, export (pandapower JSON), and the runs' result layers.

``GET /api/power/grids/`` (visible grids, ``?city=<id>``), ``GET /api/power/grids/<id>/``
(with its import report), ``GET /api/power/grids/<id>/export/`` (pandapower JSON: the same net
that was imported), ``POST /api/power/grids/<id>/relink/`` (buildings to service points
again; owner or staff), ``GET /api/power/runs/<run>/<layer>/`` with layer ``buses``,
``lines``, ``buildings`` or ``criticality`` (GeoJSON; ``?base=<run>`` adds the baseline's
values of buildings and buses, and ``changed`` true where the supply differs).
"""

from __future__ import annotations

import uuid

from django.db import connection
from django.http import HttpResponse
from rest_framework import permissions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from citytwin.scenarios import services as scenario_services
from citytwin.scenarios.models import Run

from . import convert, service
from .models import Grid
from .runs import grids_visible

LAYERS = {
    # name: (table, key, fields)
    "buses": (
        "power_busresult",
        "bus_id",
        "bus_id, vn_kv, supplied, in_service, vm_pu, va_degree, p_mw",
    ),
    "lines": (
        "power_lineresult",
        "line_id",
        "line_id, in_service, loading_percent, i_ka, p_from_mw, pl_mw",
    ),
    "buildings": (
        "power_serviceresult",
        "building_id",
        "building_id, bus_id, served, people, demand_kw",
    ),
    "criticality": (
        "power_linecriticality",
        "line_id",
        "line_id, buildings_without_service, people_without_service, unsupplied_buses, "
        "max_loading_percent, min_vm_pu, converged, rank",
    ),
}
COMPARED = {"buses": "supplied", "buildings": "served", "lines": "in_service"}


def _grid_json(grid: Grid) -> dict:
    return {
        "id": grid.pk,
        "name": grid.name,
        "city": grid.city_id,
        "visibility": grid.visibility,
        "source": grid.source,
        "source_file": grid.source_file,
        "format_version": grid.format_version,
        "created_at": grid.created_at,
        "import_report": grid.import_report,
        "export": f"/api/power/grids/{grid.pk}/export/",
    }


def _visible_grid(request, pk: int) -> Grid:
    grid = Grid.objects.filter(pk=pk).select_related("city").first()
    if grid is None or not grids_visible(grid.city, request.user).filter(pk=pk).exists():
        raise NotFound(f"no power grid {pk}")
    return grid


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def grids(request):
    rows = Grid.objects.all()
    if request.GET.get("city", "").isdigit():
        rows = rows.filter(city_id=int(request.GET["city"]))
    visible = [
        g
        for g in rows.select_related("city")
        if grids_visible(g.city, request.user).filter(pk=g.pk).exists()
    ]
    return Response([_grid_json(g) for g in visible])


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def grid_detail(request, pk: int):
    return Response(_grid_json(_visible_grid(request, pk)))


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def grid_export(request, pk: int):
    grid = _visible_grid(request, pk)
    response = HttpResponse(
        convert.net_to_json(convert.grid_to_net(grid)), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="grid-{grid.pk}.json"'
    return response


@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def grid_relink(request, pk: int):
    grid = _visible_grid(request, pk)
    if grid.owner_id != request.user.id and not request.user.is_staff:
        raise PermissionDenied("only the grid's owner or staff may relink its buildings")
    raw = request.data.get("tolerance_m", service.DEFAULT_TOLERANCE_M)
    try:
        tolerance = float(raw)
    except (TypeError, ValueError):
        return Response(
            {"error": "tolerance_m: must be a number of metres", "field": "tolerance_m"}, status=400
        )
    if not 0 < tolerance <= 20_000:
        return Response(
            {"error": "tolerance_m: must be > 0 and <= 20000 m", "field": "tolerance_m"}, status=400
        )
    return Response(service.link_buildings(grid, tolerance))


def _run(request, run_id) -> Run:
    scenarios = scenario_services.scenarios_visible_to(request.user)
    try:
        return Run.objects.filter(scenario__in=scenarios).get(pk=uuid.UUID(str(run_id)))
    except (ValueError, Run.DoesNotExist):
        raise NotFound(f"no run {run_id}") from None


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def run_layer(request, run_id, layer: str):
    if layer not in LAYERS:
        raise NotFound(f"no layer {layer}; choose one of {', '.join(LAYERS)}")
    run = _run(request, run_id)
    table, key, fields = LAYERS[layer]
    params = {"run": run.pk}
    if request.GET.get("base") and layer in COMPARED:
        base = _run(request, request.GET["base"])
        if base.simulator != run.simulator or base.scenario.city_id != run.scenario.city_id:
            return Response(
                {"error": "base: not a run of the same simulator and city", "field": "base"},
                status=400,
            )
        flag = COMPARED[layer]
        source = (
            f"(SELECT a.id, a.geom, {', '.join('a.' + f.strip() for f in fields.split(','))}, "
            f"b.{flag} AS base_{flag}, (a.{flag} IS DISTINCT FROM b.{flag}) AS changed "
            f"FROM {table} a LEFT JOIN {table} b ON b.run_id = %(base)s AND b.{key} = a.{key} "
            f"WHERE a.run_id = %(run)s)"
        )
        params["base"] = base.pk
    else:
        source = f"(SELECT id, geom, {fields} FROM {table} WHERE run_id = %(run)s)"
    sql = f"""
        SELECT json_build_object('type', 'FeatureCollection', 'features',
               COALESCE(json_agg(json_build_object(
                   'type', 'Feature', 'id', t.id,
                   'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                   'properties', to_jsonb(t) - 'geom' - 'id') ORDER BY t.id), '[]'::json))::text
        FROM {source} t
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        text = cursor.fetchone()[0]
    return HttpResponse(text, content_type="application/geo+json")
