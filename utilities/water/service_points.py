"""Buildings to service points: each building tied to a junction, with its water demand.

Nearest junction to the footprint within a tolerance, or a mapping the user gives (CSV:
``building`` = twin building id or external id such as ``way/123``, ``junction`` = node id of
the file): both through :mod:`layers.service_points`, shared with power. The demand comes from
the building's residents, jobs and use (:mod:`simulators.water.demand`, litres per person per
day with their sources); a run adds it to the junction as an extra demand with its own pattern.
"""

from __future__ import annotations

import numpy as np
from django.db import transaction

from layers.models import Building
from layers.service_points import ServiceLink, check_tolerance, nearest_points, read_mapping
from simulators.water.demand import building_demand_m3s

from .models import ServicePoint, WaterNetwork

#: a building further than this from every junction gets no service point (m)
DEFAULT_TOLERANCE_M = 150.0
MAX_TOLERANCE_M = 5000.0


def nearest_junctions(network: WaterNetwork, tolerance_m: float) -> list[ServiceLink]:
    """Each building of the network's city whose nearest junction lies within ``tolerance_m``
    (footprint to junction, metres in the city's UTM zone)."""
    junctions = network.nodes.filter(kind="junction").values_list("id", "geom")
    return nearest_points(network.city, ((i, g.x, g.y) for i, g in junctions), tolerance_m)


def junction_mapping(text: str, network: WaterNetwork) -> list[ServiceLink]:
    """Links from a CSV with the columns ``building`` and ``junction`` (the file's node id);
    a 400 on ``mapping.row<N>.<column>`` naming the row for an unknown building or junction."""
    junctions = dict(network.nodes.filter(kind="junction").values_list("name", "id"))
    return read_mapping(text, network.city, "junction", junctions, str(network))


def link_buildings(
    network: WaterNetwork, tolerance_m: float = DEFAULT_TOLERANCE_M, mapping_csv: str | None = None
) -> dict:
    """Replace the network's service points; returns counts and the demand added."""
    check_tolerance(tolerance_m, MAX_TOLERANCE_M)
    links = (
        junction_mapping(mapping_csv, network)
        if mapping_csv
        else nearest_junctions(network, tolerance_m)
    )
    ids = [link.building_id for link in links]
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
                building_id=link.building_id,
                node_id=link.point_id,
                distance_m=link.distance_m,
                method="mapping" if mapping_csv else "nearest",
                people=float(r + w),
                demand_m3s=float(q),
            )
            for link, r, w, q in zip(links, residents, workers, demand, strict=True)
        )
    total = Building.objects.filter(city=network.city).count()
    return {
        "network": network.slug,
        "method": "mapping" if mapping_csv else "nearest",
        "tolerance_m": None if mapping_csv else tolerance_m,
        "buildings": total,
        "linked": len(links),
        "unlinked": total - len(set(ids)),
        "junctions_used": len({link.point_id for link in links}),
        "people": float((residents + workers).sum()),
        "demand_m3_day": float(demand.sum() * 86_400),
    }


__all__ = ["link_buildings", "nearest_junctions", "junction_mapping"]
