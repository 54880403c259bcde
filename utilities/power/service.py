"""Buildings to service points: the bus that serves each building, and its demand.

A building is served by the nearest *service bus* within a tolerance (metres from its
footprint, in the city's UTM zone), unless a mapping the user imported says otherwise
(``building -> bus``); both through :mod:`layers.service_points`, shared with water.
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

import numpy as np
from django.db import transaction

from layers.models import Building
from layers.service_points import nearest_points, read_mapping

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
    ``tolerance_m`` (footprint to bus, metres in the city's UTM zone:
    :func:`layers.service_points.nearest_points`), replacing earlier nearest-bus links; mapped
    links stay. Returns a report."""
    bus_ids, rule = service_buses(grid)
    report = {"service_bus_rule": rule, "service_buses": len(bus_ids), "tolerance_m": tolerance_m}
    buses = Bus.objects.filter(id__in=bus_ids).values_list("id", "geom")
    links = nearest_points(grid.city, ((i, g.x, g.y) for i, g in buses), tolerance_m)
    with transaction.atomic():
        ServicePoint.objects.filter(grid=grid, source=ServicePoint.Source.NEAREST).delete()
        if not bus_ids:
            report.update(linked=0, beyond_tolerance=0)
            return report
        mapped = set(
            ServicePoint.objects.filter(grid=grid, source=ServicePoint.Source.MAPPING).values_list(
                "building_id", flat=True
            )
        )
        created = ServicePoint.objects.bulk_create(
            ServicePoint(
                grid=grid,
                building_id=link.building_id,
                bus_id=link.point_id,
                distance_m=link.distance_m,
                demand_kw=0,
                source=ServicePoint.Source.NEAREST,
            )
            for link in links
            if link.building_id not in mapped
        )
        _fill_demand_and_load(grid)
    total = Building.objects.filter(city=grid.city).count()
    report.update(
        linked=len(created),
        mapped=len(mapped),
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
    ``way/123``; bus = the bus's pandapower index: :func:`layers.service_points.read_mapping`).
    Replaces earlier mapped links; raises ImportRejected naming the row and column of a bad
    line, nothing written."""
    buses = {str(pp): i for pp, i in Bus.objects.filter(grid=grid).values_list("pp_index", "id")}
    links = read_mapping(text, grid.city, "bus", buses, f"grid {grid.name!r} (pandapower index)")
    with transaction.atomic():
        ServicePoint.objects.filter(
            grid=grid, building_id__in=[link.building_id for link in links]
        ).delete()
        ServicePoint.objects.bulk_create(
            [
                ServicePoint(
                    grid=grid,
                    building_id=link.building_id,
                    bus_id=link.point_id,
                    demand_kw=0,
                    source=ServicePoint.Source.MAPPING,
                )
                for link in links
            ]
        )
        _fill_demand_and_load(grid)
    return {"mapped": len(links)}


def people(residents, workers) -> np.ndarray:
    return np.asarray(residents, dtype=float) + np.asarray(workers, dtype=float)
