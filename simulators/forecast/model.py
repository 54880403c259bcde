"""Short-term forecast of one sensor series with a prediction band and anomaly flags.

:func:`forecast_series` takes an hourly series (timestamps + values), works in the city's
local time (slots = local hour of the day, or of the week when three weeks or more are
there), fits :mod:`.smoothing`'s robust seasonal smoothing, and returns:

- per past hour: the one-step-ahead forecast, its band ``f +/- z sigma`` and an anomaly flag
  when the observation leaves the band;
- per future hour (``horizon_h``): the forecast and its band, widening with the horizon as
  the ETS(A,N,A) forecast variance does (Hyndman et al. 2008, table 6.1, class 1)::

      var_h = sigma^2 [1 + (h - 1) alpha^2 + floor((h - 1) / m) gamma (2 alpha + gamma)]

``alpha`` and ``gamma`` are chosen on a small grid by the mean Huber loss of the one-step
errors; ``sigma`` is 1.4826 x the median absolute one-step error after the first season
(the MAD, a scale that anomalies do not inflate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulators.common.params import ParamError, check_fields, param

from .smoothing import initial_state, smooth

__all__ = ["ForecastParams", "ForecastResult", "forecast_series", "local_slots"]

SEASONS = {"auto": "Week if 3 weeks of data, else day", "day": "Daily", "week": "Weekly"}
_ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
_GAMMAS = (0.02, 0.05, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class ForecastParams:
    """Settings of one forecast."""

    season: str = param("auto", label="Seasonal profile", choices=SEASONS)
    band_z: float = param(
        3.5, label="Band half-width", unit="sigma", minimum=1.0, maximum=10.0,
        description="Observations further than this many sigmas from the forecast are "
        "anomalies",
    )  # fmt: skip
    huber_k: float = param(
        2.0, label="Cleaning threshold", unit="sigma", minimum=0.5, maximum=10.0,
        description="An observation moves the state at most as much as one this many "
        "sigmas away",
    )  # fmt: skip
    horizon_h: int = param(
        24, label="Horizon", unit="h", minimum=1, maximum=24 * 14, integer=True,
        description="Hours forecast after the last observation",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class ForecastResult:
    """Forecast of one series.

    Attributes
    ----------
    history : DataFrame indexed by local time: ``value``, ``forecast``, ``lower``,
        ``upper``, ``anomaly`` (bool).
    future : DataFrame indexed by local time: ``forecast``, ``lower``, ``upper``.
    sigma : scale of the one-step errors (unit of the values).
    alpha, gamma : smoothing chosen.
    n_slots : 24 (daily profile) or 168 (weekly).
    """

    history: pd.DataFrame
    future: pd.DataFrame
    sigma: float
    alpha: float
    gamma: float
    n_slots: int

    @property
    def anomalies(self) -> pd.DataFrame:
        """Rows of the history flagged as anomalies."""
        return self.history[self.history["anomaly"]]


def local_slots(times: pd.DatetimeIndex, n_slots: int) -> np.ndarray:
    """Local hour of the day (``n_slots`` 24) or of the week (168, Monday 00 = 0)."""
    hour = times.hour.to_numpy()
    if n_slots == 24:
        return hour.astype(np.int64)
    return (times.day_of_week.to_numpy() * 24 + hour).astype(np.int64)


def _hourly(times, values, tz: str) -> pd.Series:
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        raise ParamError("times", "timestamps need a time zone (UTC or an offset)")
    utc = index.tz_convert("UTC")
    series = pd.Series(np.asarray(values, dtype=float), index=utc)
    # hourly means on a regular UTC grid (local hours repeat or vanish at DST changes)
    hourly = series.groupby(utc.floor("h")).mean()
    grid = pd.date_range(hourly.index.min(), hourly.index.max(), freq="h")
    hourly = hourly.reindex(grid)
    hourly.index = hourly.index.tz_convert(tz)
    return hourly


def _mad_sigma(errors: np.ndarray) -> float:
    e = errors[np.isfinite(errors)]
    return float(1.4826 * np.median(np.abs(e))) if len(e) else float("nan")


def _huber(u: np.ndarray, k: float) -> np.ndarray:
    a = np.abs(u)
    return np.where(a <= k, 0.5 * u**2, k * a - 0.5 * k**2)


def forecast_series(times, values, tz: str = "UTC", params: ForecastParams | None = None):
    """Forecast, prediction band and anomaly flags of an hourly series.

    Parameters
    ----------
    times : timezone-aware timestamps (start of each hour), any order.
    values : hourly values (e.g. vehicles per hour; NaN = missing).
    tz : the city's IANA time zone (slots are its local hours).
    params : :class:`ForecastParams`.

    Returns
    -------
    ForecastResult
    """
    params = params or ForecastParams()
    if len(times) != len(values):
        raise ParamError("values", "one value per timestamp is needed")
    if len(times) < 48:
        raise ParamError("values", "at least two days of hourly values are needed")
    series = _hourly(times, values, tz)
    y = series.to_numpy()
    span_h = len(y)
    if params.season == "week" or (params.season == "auto" and span_h >= 3 * 168):
        n_slots = 168
    else:
        n_slots = 24
    if span_h < 2 * n_slots:
        raise ParamError("values", f"at least two seasons ({2 * n_slots} h) are needed")
    slots = local_slots(series.index, n_slots)
    level, season = initial_state(y, slots, n_slots)
    # scale for choosing the smoothing: seasonal-naive differences (1.4826 MAD / sqrt 2)
    sigma0 = _mad_sigma(y[n_slots:] - y[:-n_slots]) / np.sqrt(2.0)
    sigma0 = sigma0 if sigma0 > 0 else np.inf
    best = None
    for alpha in _ALPHAS:
        for gamma in _GAMMAS:
            fitted, _, _ = smooth(y, slots, level, season, alpha, gamma, sigma0, params.huber_k)
            u = (y[n_slots:] - fitted[n_slots:]) / (sigma0 if np.isfinite(sigma0) else 1.0)
            loss = float(np.nanmean(_huber(u, params.huber_k)))
            if best is None or loss < best[0]:
                best = (loss, alpha, gamma, fitted)
    _, alpha, gamma, fitted = best
    sigma = _mad_sigma(y[n_slots:] - fitted[n_slots:])
    if not sigma > 0:
        sigma = max(sigma0 if np.isfinite(sigma0) else 0.0, 1e-9)
    fitted, level_end, season_end = smooth(
        y, slots, level, season, alpha, gamma, sigma, params.huber_k
    )
    half = params.band_z * sigma
    history = pd.DataFrame(
        {"value": y, "forecast": fitted, "lower": fitted - half, "upper": fitted + half},
        index=series.index,
    )
    history["anomaly"] = np.isfinite(y) & (np.abs(y - fitted) > half)
    history.loc[history.index[:n_slots], "anomaly"] = False  # warm-up: no band yet
    future_index = pd.date_range(
        series.index[-1].tz_convert("UTC") + pd.Timedelta(hours=1), periods=params.horizon_h,
        freq="h",
    ).tz_convert(tz)  # fmt: skip
    h = np.arange(1, params.horizon_h + 1)
    mean = level_end + season_end[local_slots(future_index, n_slots)]
    var = sigma**2 * (1 + (h - 1) * alpha**2 + ((h - 1) // n_slots) * gamma * (2 * alpha + gamma))
    half_h = params.band_z * np.sqrt(var)
    future = pd.DataFrame(
        {"forecast": mean, "lower": mean - half_h, "upper": mean + half_h}, index=future_index
    )
    return ForecastResult(history, future, sigma, alpha, gamma, n_slots)
