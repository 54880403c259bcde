"""A run's ranked tables (``run.meta["tables"]``) as JSON, CSV or GeoJSON.

A simulator that recommends (``road_upgrades``) stores its ranked rows as tables that describe
themselves: ``{name: {"title", "order", "columns": [{"key", "label", "unit"}], "rows": [...]}}``,
a row's ``geometry`` (lon/lat GeoJSON) drawing it on the map. ``GET /api/runs/<id>/tables/``
lists them; ``GET /api/runs/<id>/tables/<name>/?format=json|csv|geojson|gpkg&limit=N`` serves one,
as the sweeps' ranking is served (a plain Django view: DRF would take ``format`` for its own
renderers). A run is visible exactly as its scenario is (``scenarios_visible_to``).
"""

from __future__ import annotations

import csv
import io
import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from layers.auth import request_user

from .models import Run
from .services import scenarios_visible_to


class TableRejected(Exception):
    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status

    def response(self) -> JsonResponse:
        return JsonResponse(
            {"error": f"{self.field}: {self.message}", "field": self.field}, status=self.status
        )


def _run(request, pk) -> Run:
    run = Run.objects.filter(pk=pk, scenario__in=scenarios_visible_to(request_user(request)))
    found = run.select_related("job").first()
    if found is None:
        raise TableRejected("run", f"no run {pk} that you may see", 404)
    return found


@require_GET
def run_tables(request, pk):
    """The names, titles and sizes of a run's tables."""
    try:
        run = _run(request, pk)
    except TableRejected as exc:
        return exc.response()
    tables = (run.meta or {}).get("tables") or {}
    return JsonResponse(
        {
            "run": str(run.pk),
            "simulator": run.simulator,
            "tables": [
                {"name": name, "title": t.get("title", name), "rows": len(t.get("rows", [])),
                 "url": f"/api/runs/{run.pk}/tables/{name}/"}
                for name, t in tables.items()
            ],
        }
    )  # fmt: skip


@require_GET
def run_table(request, pk, name: str):
    """One table of a run, ranked as stored."""
    try:
        run = _run(request, pk)
        tables = (run.meta or {}).get("tables") or {}
        if name not in tables:
            have = ", ".join(tables) or "none"
            raise TableRejected(
                "table", f"run {run.pk} has no table {name!r} (it has: {have})", 404
            )
        fmt = request.GET.get("format", "json")
        writer = _FORMATS.get(fmt)
        if writer is None:
            raise TableRejected("format", f"must be one of {', '.join(_FORMATS)}, got {fmt!r}")
        limit = request.GET.get("limit")
        if limit is not None and (not limit.isdigit() or int(limit) < 1):
            raise TableRejected("limit", f"must be a whole number of at least 1, got {limit!r}")
    except TableRejected as exc:
        return exc.response()
    table = dict(tables[name])
    table["rows"] = table.get("rows", [])[: int(limit)] if limit else table.get("rows", [])
    return writer(run, name, table)


def _cell(value):
    """A CSV cell: lists of plain values joined by spaces, other structures as JSON."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, str)) for v in value):
        return " ".join(map(str, value))
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _records(table: dict) -> list[dict]:
    """Flat records: the declared columns first, then the row's other keys (no geometry)."""
    keys = [c["key"] for c in table.get("columns", [])]
    out = []
    for row in table["rows"]:
        extra = [k for k in row if k not in keys and k != "geometry"]
        out.append({k: _cell(row.get(k)) for k in keys + extra})
    return out


def _json(run, name, table) -> JsonResponse:
    rows = [{k: v for k, v in r.items() if k != "geometry"} for r in table["rows"]]
    return JsonResponse({"run": str(run.pk), "simulator": run.simulator, "table": name,
                         **{k: v for k, v in table.items() if k != "rows"}, "rows": rows})  # fmt: skip


def _csv(run, name, table) -> HttpResponse:
    records = _records(table)
    columns = list(dict.fromkeys(k for r in records for k in r)) or [
        c["key"] for c in table.get("columns", [])
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(records)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="run-{str(run.pk)[:8]}-{run.simulator}-{name}.csv"'
    )
    return response


def _geojson(run, name, table) -> HttpResponse:
    features = [
        {"type": "Feature", "id": i + 1, "geometry": row.get("geometry"), "properties": record}
        for i, (row, record) in enumerate(zip(table["rows"], _records(table), strict=True))
    ]
    body = {"type": "FeatureCollection", "name": name, "columns": table.get("columns", []),
            "features": features}  # fmt: skip
    return HttpResponse(json.dumps(body), content_type="application/geo+json")


def _gpkg(run, name, table) -> HttpResponse:
    import tempfile
    from pathlib import Path

    import geopandas as gpd
    import shapely

    geoms = [
        shapely.from_geojson(json.dumps(r["geometry"])) if r.get("geometry") else None
        for r in table["rows"]
    ]
    frame = gpd.GeoDataFrame(_records(table), geometry=geoms, crs=4326)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"run-{str(run.pk)[:8]}-{run.simulator}-{name}.gpkg"
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        content = path.read_bytes()
    response = HttpResponse(content, content_type="application/geopackage+sqlite3")
    response["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return response


_FORMATS = {"json": _json, "csv": _csv, "geojson": _geojson, "gpkg": _gpkg}
