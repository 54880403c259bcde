"""Water demand of buildings: litres per person per day, by use (documented in docs/utilities.md).

Sources
-------
- Residents: 130 L per person per day. Finnish households use about 120-140 L/person/day
  (Finnish Water Utilities Association, Vesihuoltolaitosten vuositilasto; HSY reports ~125 for
  Helsinki); the EU average is ~144 (EurEau, Europe's Water in Figures 2021).
- Workers: 50 L per job per day in offices, shops and public buildings (CIBSE Guide G,
  "Public health and plumbing engineering", 2014, Table 2.2: offices 40-50 L/person/day);
  80 L in industry (washing and canteens on top; CIBSE Guide G factories 60-90, process water
  not included: a plant's own demand belongs in the network file).
"""

from __future__ import annotations

import numpy as np

LITRES_PER_RESIDENT_DAY = 130.0
LITRES_PER_JOB_DAY = {"industrial": 80.0}
LITRES_PER_JOB_DAY_DEFAULT = 50.0
SECONDS_PER_DAY = 86_400.0

#: hourly multipliers (mean 1) of the building demand pattern: a residential diurnal curve
#: with a morning and an evening peak (shape of the EPANET/WNTR example patterns and of
#: Finnish utility design curves; peak hour 1.6 x the mean)
BUILDING_PATTERN = (
    0.5, 0.4, 0.35, 0.35, 0.4, 0.6, 1.2, 1.6, 1.5, 1.2, 1.1, 1.1,
    1.15, 1.1, 1.0, 1.0, 1.1, 1.3, 1.5, 1.45, 1.3, 1.05, 0.8, 0.6,
)  # fmt: skip


def building_demand_m3s(residents: np.ndarray, workers: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Mean water demand per building (m3/s) from its residents, jobs and use."""
    residents = np.asarray(residents, dtype=float)
    workers = np.asarray(workers, dtype=float)
    per_job = np.array([LITRES_PER_JOB_DAY.get(str(u), LITRES_PER_JOB_DAY_DEFAULT) for u in use])
    litres_day = residents * LITRES_PER_RESIDENT_DAY + workers * per_job
    return litres_day / 1000.0 / SECONDS_PER_DAY


def normalised_pattern() -> list[float]:
    values = np.array(BUILDING_PATTERN, dtype=float)
    return list(values / values.mean())
