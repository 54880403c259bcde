"""Robust seasonal exponential smoothing on local-time slots (compiled and reference).

The model is additive Holt-Winters without trend (Hyndman et al. 2008, *Forecasting with
Exponential Smoothing*, model ETS(A,N,A)): a level ``l`` and one seasonal index per slot
of the day or week::

    forecast      f_t = l_{t-1} + s[slot_t]
    level         l_t = alpha (y*_t - s[slot_t]) + (1 - alpha) l_{t-1}
    season        s[slot_t] <- gamma (y*_t - l_t) + (1 - gamma) s[slot_t]

Slots are *local* hours of the day (24) or of the week (168), so the profile follows the
city's clock across daylight-saving changes. ``y*`` is the observation cleaned with
Huber's psi (Gelper, Fried & Croux 2010, *Robust forecasting with exponential and
Holt-Winters smoothing*, Journal of Forecasting 29): ``y* = f + sigma psi_k((y - f) /
sigma)``; an outlier moves the state only as much as a ``k``-sigma observation would, so an
anomaly does not drag the band after it. A missing value (NaN) leaves the state as it is.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["smooth", "smooth_reference", "initial_state"]


def initial_state(values: np.ndarray, slots: np.ndarray, n_slots: int) -> tuple[float, np.ndarray]:
    """Level and seasonal indices from the first full season of ``values`` (NaN-aware).

    The level is the mean of the first ``n_slots`` observations; the seasonal index of a
    slot is the mean deviation of its observations in that window (0 for unseen slots).
    """
    window = values[:n_slots]
    ok = np.isfinite(window)
    if not ok.any():
        raise ValueError("values: the first season holds no observation")
    level = float(window[ok].mean())
    season = np.zeros(n_slots)
    count = np.zeros(n_slots)
    np.add.at(season, slots[:n_slots][ok], window[ok] - level)
    np.add.at(count, slots[:n_slots][ok], 1.0)
    return level, np.divide(season, count, out=np.zeros(n_slots), where=count > 0)


@njit(cache=True)
def _smooth(values, slots, level, season, alpha, gamma, sigma, k):
    n = values.shape[0]
    fitted = np.empty(n)
    s = season.copy()
    lev = level
    for t in range(n):
        j = slots[t]
        f = lev + s[j]
        fitted[t] = f
        y = values[t]
        if np.isnan(y):
            continue
        if sigma > 0.0 and np.isfinite(sigma):
            u = (y - f) / sigma
            if u > k:
                u = k
            elif u < -k:
                u = -k
            y = f + sigma * u
        new = alpha * (y - s[j]) + (1.0 - alpha) * lev
        s[j] = gamma * (y - new) + (1.0 - gamma) * s[j]
        lev = new
    return fitted, lev, s


def smooth(
    values: np.ndarray,
    slots: np.ndarray,
    level: float,
    season: np.ndarray,
    alpha: float,
    gamma: float,
    sigma: float = np.inf,
    k: float = 2.0,
) -> tuple[np.ndarray, float, np.ndarray]:
    """One pass of robust seasonal smoothing.

    Parameters
    ----------
    values : observations on a regular grid (any unit; NaN = missing).
    slots : local slot (hour of day or week) of each value, int.
    level, season : initial state (:func:`initial_state`).
    alpha, gamma : smoothing of the level and of the seasonal indices, in (0, 1).
    sigma : scale of the one-step errors (same unit as values); inf = no cleaning.
    k : Huber threshold, in sigmas.

    Returns
    -------
    fitted : one-step-ahead forecast of every value.
    level, season : the state after the last value.
    """
    return _smooth(
        np.asarray(values, dtype=float), np.asarray(slots, dtype=np.int64), float(level),
        np.asarray(season, dtype=float), float(alpha), float(gamma), float(sigma), float(k),
    )  # fmt: skip


def smooth_reference(values, slots, level, season, alpha, gamma, sigma=float("inf"), k=2.0):
    """Plain-Python :func:`smooth` (a dict of seasonal indices, no NumPy in the loop)."""
    s = {i: float(v) for i, v in enumerate(season)}
    fitted = []
    for y, j in zip(values, slots, strict=True):
        j = int(j)
        f = level + s[j]
        fitted.append(f)
        if y != y:  # NaN
            continue
        if sigma != float("inf") and sigma > 0:
            y = f + sigma * max(-k, min(k, (y - f) / sigma))
        new_level = alpha * (y - s[j]) + (1 - alpha) * level
        s[j] = gamma * (y - new_level) + (1 - gamma) * s[j]
        level = new_level
    return np.array(fitted), level, np.array([s[i] for i in range(len(season))])
