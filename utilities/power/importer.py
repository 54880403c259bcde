"""The ``power_grid`` import target: a pandapower JSON net into the twin's power tables.

Through the same upload API (``POST /api/imports/`` with ``target=power_grid``), CLI
(``manage.py import_file grid.json --target power_grid --city ...``) and job machinery as
every other import. Parameters: ``city`` (required), ``name``, ``visibility``, ``crs`` (the
CRS of the file's geodata when not lon/lat), ``coordinates`` (``lonlat``, ``schematic`` or
``generate``: see :data:`utilities.power.convert.COORDINATE_MODES`), ``tolerance_m`` (the
buildings' service-point tolerance, m). The net is checked before the job is queued (JSON, a
pandapower net, its format version, the bus geodata); the import is one transaction; its
report says how coordinates were placed and how the city's buildings were linked.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.db import transaction

from jobs.progress import ProgressCallback, null_progress
from layers.importers import ImportRejected
from layers.importers.targets import ImportTarget, register_target
from layers.models import City

from . import convert, service

MAX_GRID_BYTES = 200 * 1024 * 1024


def _city(params: dict) -> City:
    name = params.get("city")
    if not name:
        raise ImportRejected("city", "a power grid import needs a city")
    city = (
        City.objects.filter(name=name).first()
        or City.objects.filter(pk=name if str(name).isdigit() else -1).first()
    )
    if city is None:
        raise ImportRejected("city", f"no city named {name!r}")
    return city


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_GRID_BYTES:
        raise ImportRejected("file", f"a grid file may have at most {MAX_GRID_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ImportRejected("file", "the file is not UTF-8 text (pandapower JSON)") from None


def _tolerance(params: dict) -> float:
    raw = params.get("tolerance_m", service.DEFAULT_TOLERANCE_M)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ImportRejected("tolerance_m", f"must be a number of metres, got {raw!r}") from None
    if not 0 < value <= 20_000:
        raise ImportRejected("tolerance_m", "must be > 0 and <= 20000 m")
    return value


def inspect(path: Path, params: dict) -> dict:
    """Checks before the job is queued: a 4xx naming the problem, nothing written."""
    city = _city(params)
    _tolerance(params)
    if params.get("visibility", "public") not in ("public", "private"):
        raise ImportRejected("visibility", "must be public or private")
    net, version = convert.read_net(_read(path))
    placement = convert.place_coordinates(
        net, city, params.get("coordinates") or "lonlat", params.get("crs")
    )
    return {
        "kind": "power_grid",
        "format_version": str(version),
        "buses": len(net.bus),
        "lines": len(net.line),
        "coordinates": placement.note,
    }


def run(
    path: Path,
    params: dict,
    owner_id: int | None = None,
    progress: ProgressCallback = null_progress,
) -> dict:
    """The import job's work: one transaction; returns the report."""
    started = time.perf_counter()
    city = _city(params)
    tolerance_m = _tolerance(params)
    progress(0.05, "reading the pandapower net")
    net, version = convert.read_net(_read(path))
    placement = convert.place_coordinates(
        net, city, params.get("coordinates") or "lonlat", params.get("crs")
    )
    progress(0.3, "writing buses, lines, transformers, loads")
    with transaction.atomic():
        grid, counts = convert.store_net(
            net,
            city,
            placement,
            name=params.get("name") or str(net.get("name") or "") or Path(path.name).stem,
            owner_id=owner_id,
            visibility=params.get("visibility", "public"),
            source_file=Path(path.name).name,
            format_version=str(version),
        )
        progress(0.7, "linking buildings to service points")
        links = service.link_buildings(grid, tolerance_m)
        report = {
            "file": Path(path.name).name,
            "target": "power_grid",
            "grid": grid.pk,
            "grid_name": grid.name,
            "city": city.name,
            "format_version": str(version),
            "coordinates": placement.note,
            "imported": counts,
            "service_points": links,
            "seconds": round(time.perf_counter() - started, 3),
        }
        grid.import_report = report
        grid.save(update_fields=["import_report"])
    progress(1.0, "done")
    return report


TARGET = register_target(
    ImportTarget(
        name="power_grid",
        suffixes=(".json",),
        description="pandapower JSON net with geodata (utilities.power)",
        inspect=inspect,
        run=run,
    )
)
