"""Who is in a building: floor area, residents and workers from its use (one source).

Used by the importers (stored on every building), by scenario edits (an added building) and
by the traffic demand model (buildings without counts), so that the same building has the same
residents and workers in every engine.

Rates
-----
- Storeys: ``round(height / STOREY_HEIGHT_M)``, at least 1 (3.0 m, the usual floor-to-floor
  height of housing and offices).
- Residents: residential floor area / 40 m2 per person. Statistics Finland reports about
  40 m2 of dwelling floor area per person (2022); the gross-to-net factor is folded into that
  rounded figure.
- Workers: non-residential floor area / m2 per worker by use: commercial (offices, shops) 30,
  public 40, industrial 60 (usual planning ranges: 15-30 m2 gross per office workplace,
  50-100 m2 per industrial workplace, e.g. Homes & Communities Agency *Employment Density
  Guide* 2015). Buildings of use ``other`` (sheds, garages, untyped) get no workers.
"""

from __future__ import annotations

STOREY_HEIGHT_M = 3.0
FLOOR_AREA_PER_RESIDENT_M2 = 40.0
FLOOR_AREA_PER_WORKER_M2: dict[str, float] = {
    "commercial": 30.0,
    "public": 40.0,
    "industrial": 60.0,
    "other": 0.0,
}
#: building uses of the twin
USES = ("residential", "commercial", "industrial", "public", "other")


def floor_area_m2(footprint_area_m2: float, height_m: float, levels: float | None = None) -> float:
    """Gross floor area (m2): footprint x storeys (storeys from the levels tag, else
    ``round(height / 3 m)``; at least 1)."""
    storeys = levels if levels is not None else max(1.0, round(height_m / STOREY_HEIGHT_M))
    return footprint_area_m2 * max(1.0, storeys)


def residents_and_workers(use: str, floor_area: float) -> tuple[float, float]:
    """Estimated residents and workers of one building from its use and floor area (m2)."""
    if use == "residential":
        return floor_area / FLOOR_AREA_PER_RESIDENT_M2, 0.0
    rate = FLOOR_AREA_PER_WORKER_M2.get(use, 0.0)
    return 0.0, (floor_area / rate if rate else 0.0)
