"""The sweeps API (``/api/sweeps/``): thin views over :mod:`.services` (docs/sweeps.md).

Bad input is a 4xx ``{"error", "field"}`` (``SweepRejected.api_error``, through the API's
exception handler); a sweep is visible exactly to those who may see its base scenario.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from rest_framework import permissions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from citytwin.scenarios import capabilities
from citytwin.scenarios.services import scenarios_visible_to
from layers.auth import request_user

from . import generators, services
from .generators import SweepRejected
from .models import Sweep


def sweep_json(sweep: Sweep) -> dict:
    spec = capabilities.get(sweep.simulator)
    job = sweep.job
    return {
        "id": sweep.pk,
        "name": sweep.name,
        "status": job.status,
        "stage": job.stage,
        "progress": services.progress_of(sweep),
        "variants_total": sweep.variants_total,
        "simulator": sweep.simulator,
        "params": sweep.params,
        "scenario": sweep.scenario_id,
        "city": sweep.scenario.city_id,
        "scenario_version": sweep.scenario_version,
        "base_run": str(sweep.base_run_id) if sweep.base_run_id else None,
        "generator": sweep.generator,
        "metric": spec.sweep_metric.describe() if spec.sweep_metric else None,
        "owner": job.owner.username if job.owner_id else None,
        "job": str(job.pk),
        "error": job.error,
        "created": sweep.created_at.isoformat(),
        "finished": job.finished_at.isoformat() if job.finished_at else None,
    }


def _get(request, pk: int) -> Sweep:
    sweep = services.sweeps_visible_to(request.user).filter(pk=pk).first()
    if sweep is None:
        raise SweepRejected("sweep", f"no sweep {pk} that you may see", 404)
    return sweep


@api_view(["GET", "POST"])
def sweeps(request):
    """``GET``: the sweeps the user may see (``?city=<id>``); ``POST``: start one."""
    if request.method == "GET":
        rows = services.sweeps_visible_to(request.user)
        city = request.query_params.get("city")
        if city is not None:
            if not city.isdigit():
                raise SweepRejected("city", f"must be a city id, got {city!r}")
            rows = rows.filter(scenario__city_id=int(city))
        return Response({"sweeps": [sweep_json(s) for s in rows[:500]]})
    body = request.data
    if not isinstance(body, dict):
        raise SweepRejected("body", "must be a JSON object")
    scenario_id = body.get("scenario")
    if not isinstance(scenario_id, int) or isinstance(scenario_id, bool):
        raise SweepRejected("scenario", "must be the id of the base scenario")
    scenario = scenarios_visible_to(request.user).filter(pk=scenario_id).first()
    if scenario is None:
        raise SweepRejected("scenario", f"no scenario {scenario_id} that you may see")
    if "simulator" not in body:
        raise SweepRejected("simulator", "is required")
    if "generator" not in body:
        raise SweepRejected("generator", "is required")
    unknown = set(body) - {"scenario", "simulator", "params", "generator", "name", "chunk_size"}
    if unknown:
        raise SweepRejected(sorted(unknown)[0], "is not a field of a sweep")
    sweep = services.create_sweep(
        scenario,
        body["simulator"],
        body.get("params", {}),
        body["generator"],
        request.user,
        name=body.get("name"),
        chunk_size=body.get("chunk_size", services.DEFAULT_CHUNK),
    )
    sweep = services.sweeps_visible_to(request.user).get(pk=sweep.pk)
    return Response(sweep_json(sweep), status=201)


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def generator_list(request):
    """The registered generators, each with its JSON Schema."""
    return Response({"generators": generators.describe_all()})


@api_view(["GET"])
def detail(request, pk: int):
    return Response(sweep_json(_get(request, pk)))


@api_view(["POST"])
def cancel(request, pk: int):
    sweep = services.cancel_sweep(_get(request, pk), request.user)
    return Response(sweep_json(sweep))


@api_view(["POST"])
def resume(request, pk: int):
    sweep = services.resume_sweep(_get(request, pk), request.user)
    return Response(sweep_json(_get(request, sweep.pk)), status=202)


@require_GET
def ranking(request, pk: int):
    """The ranking as JSON (default), ``?format=csv``, ``gpkg`` or ``geojson`` (a plain Django
    view: DRF would take ``format`` for its own renderers)."""
    try:
        sweep = services.sweeps_visible_to(request_user(request)).filter(pk=pk).first()
        if sweep is None:
            raise SweepRejected("sweep", f"no sweep {pk} that you may see", 404)
        fmt = request.GET.get("format", "json")
        writer = _FORMATS.get(fmt)
        if writer is None:
            raise SweepRejected("format", f"must be one of {', '.join(_FORMATS)}, got {fmt!r}")
        limit = request.GET.get("limit")
        if limit is not None and (not limit.isdigit() or int(limit) < 1):
            raise SweepRejected("limit", f"must be a whole number of at least 1, got {limit!r}")
        data = services.ranking(sweep, int(limit) if limit else None, request_user(request))
    except SweepRejected as exc:
        body, status = exc.api_error()
        return JsonResponse(body, status=status)
    return writer(sweep, data)


def _json(sweep, data) -> JsonResponse:
    for row in data["rows"]:
        row.pop("geometry")
    return JsonResponse(data)


def _flat(data) -> list[dict]:
    """One flat record per row (KPIs as columns named ``kpi_<key>``)."""
    metric = data["metric"]
    unit = metric["unit"]
    out = []
    for row in data["rows"]:
        record = {
            "rank": row["rank"],
            "variant": row["variant"],
            "label": row["label"],
            f"value_{unit}": row["value"],
            f"delta_{unit}": row["delta"],
            "feature_kind": row["feature"]["kind"] or "",
            "feature_ids": " ".join(map(str, row["feature"]["ids"])),
            "run": row["run"] or "",
            "error": row["error"] or "",
        }
        for key, value in row["kpis"].items():
            if isinstance(value, (int, float, str, bool)) or value is None:
                record[f"kpi_{key}"] = value
        out.append(record)
    return out


def _csv(sweep, data) -> HttpResponse:
    records = _flat(data)
    columns = list(dict.fromkeys(k for r in records for k in r)) or ["rank"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(records)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sweep-{sweep.pk}-ranking.csv"'
    return response


def _geojson(sweep, data) -> HttpResponse:
    features = [
        {
            "type": "Feature",
            "id": row["variant"],
            "geometry": json.loads(row["geometry"]) if row["geometry"] else None,
            "properties": record,
        }
        for row, record in zip(data["rows"], _flat(data), strict=True)
    ]
    body = {"type": "FeatureCollection", "metric": data["metric"], "features": features}
    return HttpResponse(json.dumps(body), content_type="application/geo+json")


def _gpkg(sweep, data) -> HttpResponse:
    import geopandas as gpd
    import shapely

    geoms = [shapely.from_geojson(r["geometry"]) if r["geometry"] else None for r in data["rows"]]
    frame = gpd.GeoDataFrame(_flat(data), geometry=geoms, crs=4326)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"sweep-{sweep.pk}-ranking.gpkg"
        frame.to_file(path, layer="ranking", driver="GPKG", engine="pyogrio")
        content = path.read_bytes()
    response = HttpResponse(content, content_type="application/geopackage+sqlite3")
    response["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return response


_FORMATS = {"json": _json, "csv": _csv, "gpkg": _gpkg, "geojson": _geojson}
