"""Short-term forecasts: known profile recovered, injected anomalies flagged exactly, the
compiled smoother equal to its plain-Python reference (pure engines, no Django)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulators.common.params import ParamError
from simulators.forecast import ForecastParams, forecast_series, local_slots
from simulators.forecast.smoothing import initial_state, smooth, smooth_reference

TZ = "Europe/Helsinki"


def _profile(times: pd.DatetimeIndex, weekend_dip: bool = True) -> np.ndarray:
    """Counts with two weekday peaks and (``weekend_dip``) a flatter weekend (veh/h)."""
    hour = times.hour.to_numpy() + times.minute.to_numpy() / 60
    peaks = 600 * np.exp(-((hour - 8) ** 2) / 2) + 500 * np.exp(-((hour - 16.5) ** 2) / 3)
    weekend = (times.day_of_week.to_numpy() >= 5) & weekend_dip
    return 150 + np.where(weekend, 0.4 * peaks, peaks)


@pytest.fixture(scope="module")
def series():
    # four weeks across the end of daylight-saving time in Helsinki (26 Oct 2025)
    times = pd.date_range("2025-10-06 00:00", periods=28 * 24, freq="h", tz=TZ)
    times = pd.date_range(times[0].tz_convert("UTC"), periods=28 * 24, freq="h").tz_convert(TZ)
    rng = np.random.default_rng(5)
    # bounded noise (+/- 20 veh/h) so that only the injected anomalies leave a 3.5-sigma band
    values = _profile(times) + rng.uniform(-20, 20, len(times))
    anomalies = np.array([200, 333, 420, 555, 600])
    values[anomalies] += np.array([400.0, -140.0, 300.0, -300.0, 250.0])
    return times, values, anomalies


def test_injected_anomalies_are_flagged_exactly_and_the_profile_is_recovered(series):
    times, values, anomalies = series
    result = forecast_series(times.tz_convert("UTC"), values, tz=TZ)
    assert result.n_slots == 168  # four weeks: weekly profile
    flagged = np.flatnonzero(result.history["anomaly"].to_numpy())
    assert flagged.tolist() == anomalies.tolist()
    # the band is narrow: uniform noise of +/- 20 veh/h has sd 11.5
    assert 8.0 < result.sigma < 20.0
    # anomalies do not drag the forecast: one-step errors elsewhere stay small
    errors = (result.history["value"] - result.history["forecast"]).to_numpy()
    normal = np.setdiff1d(np.arange(168, len(values)), anomalies)
    assert np.sqrt(np.mean(errors[normal] ** 2)) < 25.0
    # the next day follows the true profile in local time (past the DST change)
    future = result.future
    truth = _profile(future.index)
    assert np.max(np.abs(future["forecast"].to_numpy() - truth)) < 40.0
    assert (future["lower"] <= future["forecast"]).all()
    width = (future["upper"] - future["lower"]).to_numpy()
    assert width[-1] >= width[0] > 0  # the band widens with the horizon
    assert str(future.index.tz) == TZ and future.index[0] == times[-1] + pd.Timedelta(hours=1)


def test_daily_profile_with_two_weeks_and_missing_hours(series):
    times, _, _ = series
    times = times[: 14 * 24]
    # a series with the same profile every day (an energy meter, say)
    values = _profile(times, weekend_dip=False) + np.random.default_rng(2).uniform(-20, 20, 336)
    values[[200, 333]] += [300.0, -250.0]
    values[[50, 51, 52]] = np.nan  # a sensor outage
    result = forecast_series(times, values, tz=TZ, params=ForecastParams(horizon_h=6))
    assert result.n_slots == 24
    assert len(result.future) == 6
    assert np.flatnonzero(result.history["anomaly"].to_numpy()).tolist() == [200, 333]
    assert not result.history["anomaly"].iloc[50:53].any()


def test_compiled_smoother_equals_the_reference(series):
    times, values, _ = series
    values = values.copy()
    values[[10, 300]] = np.nan
    slots = local_slots(times, 168)
    level, season = initial_state(values, slots, 168)
    for sigma in (np.inf, 15.0):
        fast = smooth(values, slots, level, season, 0.2, 0.1, sigma, 2.0)
        ref = smooth_reference(values, slots, level, season, 0.2, 0.1, sigma, 2.0)
        assert np.allclose(fast[0], ref[0], rtol=1e-12)
        assert fast[1] == pytest.approx(ref[1], rel=1e-12)
        assert np.allclose(fast[2], ref[2], rtol=1e-12)


def test_bad_series_are_refused_naming_the_field():
    naive = pd.date_range("2025-01-01", periods=72, freq="h")
    with pytest.raises(ParamError) as err:
        forecast_series(naive, np.ones(72))
    assert err.value.field == "times"
    with pytest.raises(ParamError) as err:
        forecast_series(naive.tz_localize("UTC")[:10], np.ones(10))
    assert err.value.field == "values"
    with pytest.raises(ParamError) as err:
        ForecastParams(band_z=0.1)
    assert err.value.field == "band_z"
