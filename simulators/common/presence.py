"""Who is in a building at a given hour of a weekday: residents, workers, visitors.

A documented assumption (not a survey), the same for evacuation and traffic:

- ``work_share(h)``: workers at their workplace: 0 before 07:00, rising to 1 at 08:00, 1 until
  16:00, back to 0 at 17:00 (a linear ramp of one hour each side), 0.05 at night (shift work).
- ``home_share(h)``: residents at home: ``1 - AWAY_BY_DAY x day(h)``. ``AWAY_BY_DAY`` = 0.5:
  about half of the residents are away at work, school or errands in the working day (Finland:
  employment rate about 0.72 of 15-64 year olds, plus pupils and students, less home workers).
- ``visitor_share(h)``: visitors of shops, offices and public buildings: 0 before 09:00, 1 from
  10:00 to 19:00, 0 after 20:00 (schools and shops' opening hours).
- Visitors at full presence: ``VISITORS_PER_100M2`` of floor area by use: commercial 2 (customers
  of shops and restaurants, averaged over all commercial floor area), public 5 (pupils,
  students, patients: a school has about 1 pupil per 10 m2 of gross floor area), 0 otherwise.
"""

from __future__ import annotations

import numpy as np

AWAY_BY_DAY = 0.5
NIGHT_SHIFT_SHARE = 0.05
VISITORS_PER_100M2: dict[str, float] = {"commercial": 2.0, "public": 5.0}


def _ramp(hour: float, start: float, full: float, end: float, off: float) -> float:
    h = hour % 24.0
    return float(np.clip(min((h - start) / (full - start), (off - h) / (off - end)), 0.0, 1.0))


def work_share(hour: float) -> float:
    """Share of workers at their workplace at local ``hour`` (0-24)."""
    return max(_ramp(hour, 7.0, 8.0, 16.0, 17.0), NIGHT_SHIFT_SHARE)


def home_share(hour: float) -> float:
    """Share of residents at home at local ``hour``."""
    return 1.0 - AWAY_BY_DAY * _ramp(hour, 7.0, 8.0, 16.0, 17.0)


def visitor_share(hour: float) -> float:
    """Share of the full visitor presence at local ``hour``."""
    return _ramp(hour, 9.0, 10.0, 19.0, 20.0)


def persons_present(
    residents: np.ndarray,
    workers: np.ndarray,
    hour: float | None,
    floor_area_m2: np.ndarray | None = None,
    use: np.ndarray | None = None,
) -> np.ndarray:
    """Persons in each building at local ``hour`` (None: residents only, all at home).

    Parameters
    ----------
    residents, workers : persons per building.
    hour : local hour of day (0-24) or None.
    floor_area_m2, use : gross floor area (m2) and use class per building, for visitors.
    """
    residents = np.nan_to_num(np.asarray(residents, dtype=float))
    workers = np.nan_to_num(np.asarray(workers, dtype=float))
    if hour is None:
        return residents.copy()
    persons = residents * home_share(hour) + workers * work_share(hour)
    if floor_area_m2 is not None and use is not None:
        rate = np.array([VISITORS_PER_100M2.get(str(u), 0.0) for u in use], dtype=float)
        area = np.nan_to_num(np.asarray(floor_area_m2, dtype=float))
        persons = persons + area / 100.0 * rate * visitor_share(hour)
    return persons
