"""Water API (thin): networks, ``.inp`` export, service points, criticality, run layers.

Import goes through ``POST /api/imports/`` with ``target=water`` (the layers' upload, job and
CLI machinery). Networks follow the layers' visibility (public, or the owner's).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from citytwin.scenarios.models import Run
from citytwin.scenarios.services import scenarios_visible_to
from layers.importers import ImportRejected
from layers.services import visible_to

from . import service_points, tasks
from .export import export_inp
from .models import CriticalityRun, WaterNetwork


def _network(request, slug: str) -> WaterNetwork:
    return get_object_or_404(visible_to(WaterNetwork.objects.all(), request.user), slug=slug)


def _owner_or_staff(request, network: WaterNetwork) -> None:
    user = request.user
    if not (user.is_authenticated and (user.is_staff or network.owner_id == user.id)):
        raise ImportRejected("network", "only the network's owner or staff may change it", 403)


def _describe(n: WaterNetwork) -> dict:
    return {
        "id": n.pk,
        "slug": n.slug,
        "name": n.name,
        "city": n.city_id,
        "visibility": n.visibility,
        "flow_units": n.flow_units,
        "headloss": n.headloss,
        "duration_s": n.duration_s,
        "hydraulic_timestep_s": n.hydraulic_timestep_s,
        "demand_model": n.demand_model,
        "source_crs": n.source_crs,
        "nodes": n.nodes.count(),
        "links": n.links.count(),
        "isolation_valves": n.valves.count(),
        "service_points": n.service_points.count(),
        "import_report": n.import_report,
    }


@api_view(["GET"])
def networks(request):
    """The water networks you may see (``?city=<id>``)."""
    rows = visible_to(WaterNetwork.objects.all(), request.user)
    if request.query_params.get("city", "").isdigit():
        rows = rows.filter(city_id=int(request.query_params["city"]))
    return Response([_describe(n) for n in rows.order_by("pk")])


@api_view(["GET"])
def network(request, slug: str):
    return Response(_describe(_network(request, slug)))


@api_view(["GET"])
def export(request, slug: str):
    """The network as an EPANET ``.inp`` file (its own flow units and CRS)."""
    net = _network(request, slug)
    with tempfile.TemporaryDirectory(prefix="citytwin-water-export-") as folder:
        text = export_inp(net, Path(folder) / f"{net.slug}.inp").read_text()
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{net.slug}.inp"'
    return response


class ServicePointForm(serializers.Serializer):
    tolerance_m = serializers.FloatField(
        default=service_points.DEFAULT_TOLERANCE_M, min_value=0.1, max_value=5000
    )
    mapping = serializers.CharField(
        required=False, help_text="CSV text with columns building (id or external id), junction"
    )


@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def link_service_points(request, slug: str):
    """Link the city's buildings to junctions (nearest within ``tolerance_m``, or ``mapping``)."""
    net = _network(request, slug)
    _owner_or_staff(request, net)
    form = ServicePointForm(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    return Response(service_points.link_buildings(net, data["tolerance_m"], data.get("mapping")))


class CriticalityForm(serializers.Serializer):
    required_pressure_m = serializers.FloatField(default=20.0, min_value=0.1, max_value=100)
    minimum_pressure_m = serializers.FloatField(default=0.0, min_value=0.0, max_value=50)


@api_view(["POST"])
@permission_classes([permissions.IsAuthenticated])
def start_criticality(request, slug: str):
    """Every pipe out once, on the workers; poll ``/api/jobs/<job>/``, read the ranking."""
    net = _network(request, slug)
    form = CriticalityForm(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    if data["minimum_pressure_m"] >= data["required_pressure_m"]:
        raise ImportRejected("minimum_pressure_m", "must be below required_pressure_m")
    sweep = tasks.start_sweep(net, request.user, **data)
    return Response(
        {"id": sweep.pk, "job": str(sweep.job_id), "pipes": sweep.pipes, "chunks": sweep.chunks},
        status=status.HTTP_202_ACCEPTED,
    )


@api_view(["GET"])
def criticality(request, pk: int):
    """A sweep's status and its pipes ranked by people without water (``?limit=``)."""
    sweep = get_object_or_404(CriticalityRun.objects.select_related("job", "network"), pk=pk)
    _network(request, sweep.network.slug)  # visibility
    limit = min(int(request.query_params.get("limit", "50") or 50), 10_000)
    return Response(
        {
            "id": sweep.pk,
            "network": sweep.network.slug,
            "status": sweep.job.status,
            "progress_percent": sweep.job.progress_percent,
            "report": sweep.job.report,
            "ranking": tasks.ranking(sweep, limit),
        }
    )


LAYERS = {
    "nodes": (
        "water_noderesult",
        "name, min_pressure_m, mean_pressure_m, hours_below_required_h, "
        "hours_without_water_h, status, demand_delivered_share",
        "name",
    ),
    "links": (
        "water_linkresult",
        "name, kind, closed, max_abs_flow_m3s, mean_flow_m3s, max_velocity_ms",
        "name",
    ),
    "buildings": (
        "water_buildingservice",
        "building_id, status, hours_below_required_h, hours_without_water_h, min_pressure_m, people",
        "building_id",
    ),
}
DELTAS = {
    "nodes": ("min_pressure_m", "hours_without_water_h"),
    "links": ("max_abs_flow_m3s",),
    "buildings": ("hours_without_water_h", "hours_below_required_h"),
}


@api_view(["GET"])
def run_layer(request, run_id, layer: str):
    """A water run's nodes, links or buildings as GeoJSON; ``?base=<run>``: differences."""
    if layer not in LAYERS:
        raise ImportRejected("layer", f"must be one of {', '.join(LAYERS)}", 404)
    visible = scenarios_visible_to(request.user)
    run = get_object_or_404(Run.objects.filter(scenario__in=visible, simulator="water"), pk=run_id)
    base = None
    if request.query_params.get("base"):
        base = get_object_or_404(
            Run.objects.filter(scenario__in=visible, simulator="water"),
            pk=request.query_params["base"],
        )
    table, fields, key = LAYERS[layer]
    if base is None:
        source = f"(SELECT id, geom, {fields} FROM {table} WHERE run_id = %(run)s)"
    else:
        deltas = ", ".join(
            f"a.{f} - b.{f} AS delta_{f}, a.{f} AS run_{f}, b.{f} AS base_{f}"
            for f in DELTAS[layer]
        )
        extra = ", a.status AS run_status, b.status AS base_status" if layer != "links" else ""
        source = f"""(SELECT COALESCE(a.id, -b.id) AS id, COALESCE(a.geom, b.geom) AS geom,
                COALESCE(a.{key}, b.{key}) AS {key}, {deltas}{extra}
            FROM (SELECT * FROM {table} WHERE run_id = %(run)s) a
            FULL JOIN (SELECT * FROM {table} WHERE run_id = %(base)s) b ON a.{key} = b.{key})"""
    sql = f"""
        SELECT json_build_object('type', 'FeatureCollection', 'features',
               COALESCE(json_agg(json_build_object(
                   'type', 'Feature', 'id', t.id,
                   'geometry', ST_AsGeoJSON(t.geom, 7)::json,
                   'properties', to_jsonb(t) - 'geom' - 'id') ORDER BY t.id), '[]'::json))::text
        FROM {source} t"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"run": run.pk, "base": base.pk if base else None})
        text = cursor.fetchone()[0]
    return HttpResponse(text, content_type="application/geo+json")
