"""Buildings to the service points of a utility network, for every network kind alike.

A building is served by the nearest service point (a water junction, a low-voltage bus...)
within a tolerance, or by the point a mapping the user imports names. Both water
(:mod:`utilities.water.service_points`) and power (:mod:`utilities.power.service`) link their
buildings here; each keeps only what is its own (which points serve, the demand per building).

Distances are from the building's footprint (0 inside it) to the point, in metres in the
city's UTM zone (``City.local_epsg``); a tie goes to the point with the lower id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection

from layers.importers import ImportRejected
from layers.models import Building, City

#: the largest tolerance a caller may ask for (m): beyond it a "service point" means nothing
MAX_TOLERANCE_M = 20_000.0


@dataclass(frozen=True)
class ServiceLink:
    """A building tied to a service point; ``distance_m`` None when a mapping said so."""

    building_id: int
    point_id: int
    distance_m: float | None


def check_tolerance(tolerance_m: float, maximum_m: float = MAX_TOLERANCE_M) -> float:
    """``tolerance_m`` as a float in (0, maximum_m], else ImportRejected on ``tolerance_m``."""
    try:
        value = float(tolerance_m)
    except (TypeError, ValueError):
        raise ImportRejected(
            "tolerance_m", f"must be a number of metres, got {tolerance_m!r}"
        ) from None
    if not 0 < value <= maximum_m:
        raise ImportRejected("tolerance_m", f"must be > 0 and <= {maximum_m:g} m")
    return value


def nearest_points(
    city: City, points: Iterable[tuple[int, float, float]], tolerance_m: float
) -> list[ServiceLink]:
    """Each building of ``city`` tied to its nearest point within ``tolerance_m``.

    Parameters
    ----------
    city
        The buildings' city; its ``local_epsg`` (UTM zone) is where distances are measured.
    points
        ``(id, longitude, latitude)`` of the candidate service points (EPSG:4326, degrees).
    tolerance_m
        Largest footprint-to-point distance, metres; buildings farther from every point are
        left out.

    Returns
    -------
    One :class:`ServiceLink` per building within the tolerance, by building id.
    """
    tolerance_m = check_tolerance(tolerance_m)
    rows = list(points)
    if not rows:
        return []
    ids, xs, ys = (list(col) for col in zip(*rows, strict=True))
    sql = """
        WITH p AS (
            SELECT t.id, ST_Transform(ST_SetSRID(ST_MakePoint(t.x, t.y), 4326), %(epsg)s) AS g
            FROM unnest(%(ids)s::bigint[], %(xs)s::float8[], %(ys)s::float8[]) AS t(id, x, y)
        )
        SELECT b.id, n.id, n.d
        FROM (SELECT id, ST_Transform(footprint, %(epsg)s) AS g FROM layers_building
              WHERE city_id = %(city)s) b
        CROSS JOIN LATERAL (
            SELECT p.id, ST_Distance(p.g, b.g) AS d FROM p
            ORDER BY p.g <-> b.g, p.id
            LIMIT 1
        ) n
        WHERE n.d <= %(tol)s
        ORDER BY b.id
    """
    params = {
        "epsg": city.local_epsg,
        "ids": [int(i) for i in ids],
        "xs": [float(x) for x in xs],
        "ys": [float(y) for y in ys],
        "city": city.pk,
        "tol": tolerance_m,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [ServiceLink(b, p, float(d)) for b, p, d in cursor.fetchall()]


def read_mapping(
    text: str, city: City, column: str, points: Mapping[str, int], within: str
) -> list[ServiceLink]:
    """Links from a CSV with the columns ``building`` and ``column``.

    ``building`` is a twin building id or an external id such as ``way/123``; ``column`` holds
    a key of ``points`` (the network's own name of the point: a junction's name, a bus's
    pandapower index), mapped to the point's twin id; ``within`` names the network in
    messages. Raises ImportRejected on ``mapping`` for
    missing columns or no rows, on ``mapping.row<N>.building`` / ``mapping.row<N>.<column>``
    for a value not found (N: the CSV's line number); nothing is returned half-read.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"building", column} <= set(reader.fieldnames):
        raise ImportRejected("mapping", f"the CSV needs the columns building and {column}")
    buildings = Building.objects.filter(city=city)
    by_external = dict(buildings.exclude(external_id="").values_list("external_id", "id"))
    known_ids = set(buildings.values_list("id", flat=True))
    out = []
    for row_no, row in enumerate(reader, start=2):
        key = (row.get("building") or "").strip()
        building = int(key) if key.isdigit() and int(key) in known_ids else by_external.get(key)
        if building is None:
            raise ImportRejected(
                f"mapping.row{row_no}.building", f"row {row_no}: no building {key!r} in {city}"
            )
        point = (row.get(column) or "").strip()
        if point not in points:
            raise ImportRejected(
                f"mapping.row{row_no}.{column}", f"row {row_no}: no {column} {point!r} in {within}"
            )
        out.append(ServiceLink(building, points[point], None))
    if not out:
        raise ImportRejected("mapping", "the CSV has no rows")
    return out
