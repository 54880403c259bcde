"""Buildings to service points: each building tied to a junction, with its water demand.

Nearest junction to the footprint within a tolerance (metres, in the city's UTM zone), or a
mapping the user gives (CSV: ``building`` = twin building id or external id such as
``way/123``, ``junction`` = node id of the file). The demand comes from the building's
residents, jobs and use (:mod:`simulators.water.demand`, litres per person per day with their
sources); a run adds it to the junction as an extra demand with its own pattern.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from django.db import connection, transaction

from layers.importers import ImportRejected
from layers.models import Building
from simulators.water.demand import building_demand_m3s

from .models import ServicePoint, WaterNetwork, WaterNode

#: a building further than this from every junction gets no service point (m)
DEFAULT_TOLERANCE_M = 150.0


def nearest_junctions(network: WaterNetwork, tolerance_m: float) -> list[tuple[int, int, float]]:
    """``(building id, node id, distance m)`` of each building of the network's city whose
    nearest junction lies within ``tolerance_m`` (distances in the city's UTM zone)."""
    sql = """
        SELECT b.id, j.id, j.d
        FROM layers_building b
        CROSS JOIN LATERAL (
            SELECT n.id, ST_Distance(ST_Transform(n.geom, %(epsg)s),
                                     ST_Transform(b.footprint, %(epsg)s)) AS d
            FROM water_waternode n
            WHERE n.network_id = %(network)s AND n.kind = 'junction'
            ORDER BY n.geom <-> b.footprint
            LIMIT 8
        ) j
        WHERE b.city_id = %(city)s
        ORDER BY b.id, j.d
    """
    out: dict[int, tuple[int, int, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            sql, {"epsg": network.city.local_epsg, "network": network.pk, "city": network.city_id}
        )
        for building, node, distance in cursor.fetchall():
            if building not in out and distance <= tolerance_m:
                out[building] = (building, node, float(distance))
    return list(out.values())


def read_mapping(text: str, network: WaterNetwork) -> list[tuple[int, int, None]]:
    """``(building id, node id, None)`` from a CSV with columns ``building`` and ``junction``;
    a 400 naming the row for an unknown building or junction."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"building", "junction"} <= set(rows[0]):
        raise ImportRejected("mapping", "the CSV needs the columns building and junction")
    nodes = dict(network.nodes.filter(kind="junction").values_list("name", "id"))
    buildings = Building.objects.filter(city=network.city)
    by_external = dict(buildings.exclude(external_id="").values_list("external_id", "id"))
    known_ids = set(buildings.values_list("id", flat=True))
    out = []
    for row_no, row in enumerate(rows, start=2):
        key, junction = row["building"].strip(), row["junction"].strip()
        building = int(key) if key.isdigit() and int(key) in known_ids else by_external.get(key)
        if building is None:
            raise ImportRejected("mapping", f"row {row_no}: no building {key!r} in {network.city}")
        if junction not in nodes:
            raise ImportRejected("mapping", f"row {row_no}: no junction {junction!r} in {network}")
        out.append((building, nodes[junction], None))
    return out


def link_buildings(
    network: WaterNetwork, tolerance_m: float = DEFAULT_TOLERANCE_M, mapping_csv: str | None = None
) -> dict:
    """Replace the network's service points; returns counts and the demand added."""
    if not 0 < tolerance_m <= 5000:
        raise ImportRejected("tolerance_m", "must be between 0 and 5000 m")
    links = (
        read_mapping(mapping_csv, network)
        if mapping_csv
        else nearest_junctions(network, tolerance_m)
    )
    ids = [b for b, _, _ in links]
    info = {
        b["id"]: b
        for b in Building.objects.filter(pk__in=ids).values("id", "residents", "workers", "use")
    }
    residents = np.array([info[b]["residents"] for b in ids], dtype=float)
    workers = np.array([info[b]["workers"] for b in ids], dtype=float)
    uses = np.array([info[b]["use"] for b in ids], dtype=object)
    demand = building_demand_m3s(residents, workers, uses) if ids else np.zeros(0)
    with transaction.atomic():
        ServicePoint.objects.filter(network=network).delete()
        ServicePoint.objects.bulk_create(
            ServicePoint(
                network=network,
                building_id=b,
                node_id=n,
                distance_m=d,
                method="mapping" if mapping_csv else "nearest",
                people=float(r + w),
                demand_m3s=float(q),
            )
            for (b, n, d), r, w, q in zip(links, residents, workers, demand, strict=True)
        )
    total = Building.objects.filter(city=network.city).count()
    return {
        "network": network.slug,
        "method": "mapping" if mapping_csv else "nearest",
        "tolerance_m": None if mapping_csv else tolerance_m,
        "buildings": total,
        "linked": len(links),
        "unlinked": total - len(set(ids)),
        "junctions_used": len({n for _, n, _ in links}),
        "people": float((residents + workers).sum()),
        "demand_m3_day": float(demand.sum() * 86_400),
    }


__all__ = ["link_buildings", "nearest_junctions", "read_mapping", "WaterNode"]
