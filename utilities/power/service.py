"""Buildings to service points: the bus that serves each building, and its demand.

A building is served by the nearest *service bus* within a tolerance (metres, measured in the
city's UTM zone), unless a mapping the user imported says otherwise (``building -> bus``).
Service buses are the low-voltage buses (``vn_kv <= 1``) that carry a load; a grid without
such buses (a medium-voltage grid whose loads stand for MV/LV substations, like pandapower's
``mv_oberrhein``) is served at the buses of the lowest voltage level that carries loads.

Demand (kW at peak, after diversity) from the building's residents and jobs, by use:

=============  ==============  ===========================================================
use            kW per person   source
=============  ==============  ===========================================================
residential    0.8 / resident  after-diversity maximum demand (ADMD) of ~2 kW per household
                               of ~2.3 people (UK distribution planning practice, ENA
                               Engineering Recommendation P2 / EA Technology ADMD studies;
                               Finnish Energy's planning guides use 1.5-2.5 kW/household)
commercial     0.6 / job       CIBSE Guide F: office peak electrical load ~30-40 W/m2 at
                               ~15-18 m2 per workplace
public         0.6 / job       as commercial (schools, offices of the public sector)
industrial     2.0 / job       light industry; plant loads vary by orders of magnitude:
                               import a mapping with measured loads where they matter
other          0.6 / job       as commercial
=============  ==============  ===========================================================

These are planning defaults, not measurements; they scale the loads a building adds, and the
people counted as "without service" are the building's residents plus jobs.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from django.db import connection

from layers.importers import ImportRejected
from layers.models import Building

from .models import Bus, Grid, Load, ServicePoint

#: kW at peak per resident, and per job by the building's use (see the module's table)
KW_PER_RESIDENT = 0.8
KW_PER_JOB = {"commercial": 0.6, "public": 0.6, "industrial": 2.0, "other": 0.6, "residential": 0.6}
#: a building farther than this from every service bus is left unlinked (m)
DEFAULT_TOLERANCE_M = 1000.0
LOW_VOLTAGE_KV = 1.0


def demand_kw(use: str, residents: float, workers: float) -> float:
    """Peak demand of a building, kW (after diversity; see the module's table)."""
    return KW_PER_RESIDENT * float(residents) + KW_PER_JOB.get(use, 0.6) * float(workers)


def service_buses(grid: Grid) -> tuple[list[int], str]:
    """Ids of the buses that serve buildings, and the rule that chose them (words)."""
    loaded = set(Load.objects.filter(grid=grid).values_list("bus_id", flat=True))
    buses = Bus.objects.filter(grid=grid, id__in=loaded)
    low = list(buses.filter(vn_kv__lte=LOW_VOLTAGE_KV).values_list("id", flat=True))
    if low:
        return low, f"low-voltage buses (<= {LOW_VOLTAGE_KV:g} kV) with a load"
    levels = sorted(set(buses.values_list("vn_kv", flat=True)))
    if not levels:
        return [], "no bus carries a load"
    chosen = list(buses.filter(vn_kv=levels[0]).values_list("id", flat=True))
    return chosen, (
        f"no low-voltage buses: the {levels[0]:g} kV buses with a load (each stands for the "
        "low-voltage network behind it)"
    )


def link_buildings(grid: Grid, tolerance_m: float = DEFAULT_TOLERANCE_M) -> dict:
    """Link every building of the grid's city to its nearest service bus within
    ``tolerance_m`` (replacing earlier nearest-bus links; mapped links stay). Returns a report."""
    bus_ids, rule = service_buses(grid)
    ServicePoint.objects.filter(grid=grid, source=ServicePoint.Source.NEAREST).delete()
    report = {"service_bus_rule": rule, "service_buses": len(bus_ids), "tolerance_m": tolerance_m}
    if not bus_ids:
        report.update(linked=0, beyond_tolerance=0)
        return report
    city = grid.city
    # the nearest service bus in metres (KNN in the UTM zone); mapped buildings keep theirs
    sql = """
        INSERT INTO power_servicepoint (grid_id, building_id, bus_id, load_id, distance_m,
                                        demand_kw, source)
        SELECT %(grid)s, b.id, nb.id, NULL, nb.d, 0, 'nearest'
        FROM layers_building b
        CROSS JOIN LATERAL (
            SELECT s.id, ST_Distance(s.local, ST_Transform(ST_PointOnSurface(b.footprint),
                                                        %(epsg)s)) AS d
            FROM (SELECT id, ST_Transform(geom, %(epsg)s) AS local FROM power_bus
                  WHERE id = ANY(%(buses)s)) s
            ORDER BY s.local <-> ST_Transform(ST_PointOnSurface(b.footprint), %(epsg)s), s.id
            LIMIT 1
        ) nb
        WHERE b.city_id = %(city)s AND nb.d <= %(tol)s
          AND NOT EXISTS (SELECT 1 FROM power_servicepoint p
                          WHERE p.grid_id = %(grid)s AND p.building_id = b.id)
    """
    params = {
        "grid": grid.pk,
        "buses": bus_ids,
        "epsg": city.local_epsg,
        "city": city.pk,
        "tol": tolerance_m,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        linked = cursor.rowcount
    _fill_demand_and_load(grid)
    total = Building.objects.filter(city=city).count()
    report.update(
        linked=linked,
        mapped=ServicePoint.objects.filter(grid=grid, source="mapping").count(),
        beyond_tolerance=total - ServicePoint.objects.filter(grid=grid).count(),
        buildings=total,
    )
    return report


def _fill_demand_and_load(grid: Grid) -> None:
    """Each service point's demand (kW) and the load at its bus (the first one)."""
    points = ServicePoint.objects.filter(grid=grid).select_related("building")
    first_load = {}
    for bus_id, load_id in (
        Load.objects.filter(grid=grid).order_by("pp_index").values_list("bus_id", "id")
    ):
        first_load.setdefault(bus_id, load_id)
    changed = []
    for point in points:
        b = point.building
        point.demand_kw = demand_kw(b.use, b.residents, b.workers)
        point.load_id = first_load.get(point.bus_id)
        changed.append(point)
    ServicePoint.objects.bulk_update(changed, ["demand_kw", "load_id"], batch_size=2000)


def import_mapping(grid: Grid, text: str) -> dict:
    """Service points from a CSV ``building,bus`` (building id or external id such as
    ``way/123``; bus = the bus's pandapower index). Replaces earlier mapped links; raises
    ImportRejected naming the row and column of a bad line, nothing written."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"building", "bus"} <= set(reader.fieldnames):
        raise ImportRejected("mapping", "the CSV needs the columns building and bus")
    buses = dict(Bus.objects.filter(grid=grid).values_list("pp_index", "id"))
    by_id = dict(Building.objects.filter(city=grid.city).values_list("id", "id"))
    by_ext = dict(
        Building.objects.filter(city=grid.city)
        .exclude(external_id="")
        .values_list("external_id", "id")
    )
    rows = []
    for n, row in enumerate(reader, start=2):
        raw = (row.get("building") or "").strip()
        building = by_ext.get(raw) or (by_id.get(int(raw)) if raw.isdigit() else None)
        if building is None:
            raise ImportRejected(f"mapping.row{n}.building", f"no building {raw!r} in the city")
        try:
            bus = buses[int(str(row.get("bus")).strip())]
        except (KeyError, ValueError):
            raise ImportRejected(
                f"mapping.row{n}.bus", f"no bus with index {row.get('bus')!r} in the grid"
            ) from None
        rows.append((building, bus))
    if not rows:
        raise ImportRejected("mapping", "the CSV has no rows")
    ServicePoint.objects.filter(grid=grid, building_id__in=[b for b, _ in rows]).delete()
    ServicePoint.objects.bulk_create(
        [
            ServicePoint(grid=grid, building_id=b, bus_id=s, demand_kw=0, source="mapping")
            for b, s in rows
        ]
    )
    _fill_demand_and_load(grid)
    return {"mapped": len(rows)}


def people(residents, workers) -> np.ndarray:
    return np.asarray(residents, dtype=float) + np.asarray(workers, dtype=float)
