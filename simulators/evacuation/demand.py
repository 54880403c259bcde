"""Evacuees from buildings: who is there, who leaves, by car or on foot, and when."""

from __future__ import annotations

import numpy as np

from simulators.common.presence import home_share, work_share


def presence_shares(hour: float) -> tuple[float, float]:
    """(share of residents at home, share of workers at work) at local ``hour``.

    See :mod:`simulators.common.presence` (visitors there too).
    """
    return home_share(hour), work_share(hour)


def departure_delays_s(
    n: int, curve: str, scale_min: float, shape: float, rng: np.random.Generator
) -> np.ndarray:
    """Mobilisation delays (s) from a Rayleigh or Weibull curve with scale in minutes.

    Rayleigh with scale ``sigma`` has CDF ``1 - exp(-t^2 / (2 sigma^2))``; Weibull with
    scale ``lam`` and shape ``k`` has CDF ``1 - exp(-(t / lam)^k)``.
    """
    if curve == "none" or scale_min <= 0:
        return np.zeros(n)
    if curve == "rayleigh":
        return rng.rayleigh(scale_min * 60.0, n)
    if curve == "weibull":
        return scale_min * 60.0 * rng.weibull(shape, n)
    raise ValueError(f"unknown mobilisation curve {curve!r}")


def split_households(
    persons: np.ndarray,
    walk_share: float,
    persons_per_household: float,
    vehicles_per_household: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walkers, car evacuees and vehicles per building.

    Returns
    -------
    walkers : persons on foot (integers).
    drivers : persons by car.
    vehicles : cars used (integers, at least one when anyone drives).
    """
    persons = np.asarray(persons, float)
    walkers = np.round(persons * walk_share)
    drivers = persons - walkers
    vehicles = np.ceil(drivers / persons_per_household * vehicles_per_household - 1e-9)
    vehicles = np.where(drivers > 0, np.maximum(vehicles, 1), 0)
    return walkers.astype(np.int64), drivers, vehicles.astype(np.int64)
