"""Who is in a building: floor area, residents and workers from its use (one source).

Used by the importers (stored on every building), by scenario edits (an added building) and
by the traffic demand model (buildings without counts), so that the same building has the same
residents and workers in every engine.

Rates
-----
- Storeys: ``round(height / STOREY_HEIGHT_M)``, at least 1 (3.0 m, the usual floor-to-floor
  height of housing and offices).
- Residents: residential floor area x ``DWELLING_SHARE_OF_GROSS`` x ``OCCUPIED_DWELLING_SHARE``
  / ``FLOOR_AREA_PER_RESIDENT_M2`` (40 m2 per person). Statistics Finland reports about 40 m2 of
  dwelling floor area per person (2022). That is floor area *inside dwellings*, while footprint
  x storeys is gross floor area: walls, stairs, corridors, cellars and the shops of a ground
  floor take about a fifth of it (net-to-gross 0.75-0.85 for apartment buildings), hence
  ``DWELLING_SHARE_OF_GROSS`` = 0.8. Not every dwelling is lived in: ``OCCUPIED_DWELLING_SHARE``
  = 0.85 (permanently occupied dwellings: about 0.89 in Finland, Statistics Finland dwelling
  stock 2022; 0.82 in France, INSEE 2021 "residences principales"; 0.71 in Spain, INE Census
  2021). A residential building of ``MIXED_USE_MIN_STOREYS`` = 4 storeys or more has a
  non-residential ground floor (shops, lobbies, garage entrances of urban blocks): its footprint
  counts as commercial floor area (workers at the commercial rate), when the footprint is known.
- Workers: non-residential floor area / m2 per worker by use: commercial (offices, shops) 30,
  public 40, industrial 60 (usual planning ranges: 15-30 m2 gross per office workplace,
  50-100 m2 per industrial workplace, e.g. Homes & Communities Agency *Employment Density
  Guide* 2015). Buildings of use ``other`` (sheds, garages, untyped) get no workers.
"""

from __future__ import annotations

import numpy as np

STOREY_HEIGHT_M = 3.0
FLOOR_AREA_PER_RESIDENT_M2 = 40.0
DWELLING_SHARE_OF_GROSS = 0.8
OCCUPIED_DWELLING_SHARE = 0.85
MIXED_USE_MIN_STOREYS = 4
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


def residents_and_workers_arrays(
    use: np.ndarray, floor_area_m2: np.ndarray, footprint_area_m2: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Residents and workers per building from use, gross floor area and footprint (m2).

    See the module docstring: dwellings take ``DWELLING_SHARE_OF_GROSS`` of a residential
    building's floor area, ``OCCUPIED_DWELLING_SHARE`` of them are lived in, and a residential
    building of ``MIXED_USE_MIN_STOREYS`` or more storeys has a non-residential ground floor
    (its footprint, at the commercial rate; only when the footprint is given).
    """
    use = np.asarray(use, dtype=object)
    floor = np.asarray(floor_area_m2, dtype=float)
    footprint = floor if footprint_area_m2 is None else np.asarray(footprint_area_m2, float)
    residential = use == "residential"
    storeys = np.divide(floor, footprint, out=np.ones_like(floor), where=footprint > 0)
    ground = np.where(
        residential & (storeys >= MIXED_USE_MIN_STOREYS - 1e-9), np.minimum(footprint, floor), 0.0
    )
    residents = np.where(
        residential,
        (floor - ground)
        * DWELLING_SHARE_OF_GROSS
        * OCCUPIED_DWELLING_SHARE
        / FLOOR_AREA_PER_RESIDENT_M2,
        0.0,
    )
    per_worker = np.array([FLOOR_AREA_PER_WORKER_M2.get(u, 0.0) for u in use], dtype=float)
    workers = np.divide(floor, per_worker, out=np.zeros_like(floor), where=per_worker > 0)
    workers = workers + ground / FLOOR_AREA_PER_WORKER_M2["commercial"]
    return residents, workers


def residents_and_workers(
    use: str, floor_area: float, footprint_area_m2: float | None = None
) -> tuple[float, float]:
    """Estimated residents and workers of one building (see :func:`residents_and_workers_arrays`)."""
    res, wrk = residents_and_workers_arrays(
        np.array([use], dtype=object),
        np.array([floor_area], dtype=float),
        None if footprint_area_m2 is None else np.array([footprint_area_m2], dtype=float),
    )
    return float(res[0]), float(wrk[0])
