"""Forecast of a datastream: its hourly series read from PostGIS, the engine's forecast, and
the anomalies it flags kept in ``sensors_analysis.Anomaly``.

The hourly value is the mean of the hour's numeric results for a rate or a level (veh/h, kW,
ug/m3, bar) and their sum for counts per interval (``counts.is_rate``). Four weeks of history
give a weekly profile; two days at least are needed.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from simulators.forecast import ForecastParams, ForecastResult, forecast_series

from .counts import is_rate
from .localtime import datastream_time_zone
from .models import Anomaly

#: hours of history read for a forecast (four weeks: a weekly profile)
HISTORY_H = 28 * 24

_SQL = """
SELECT date_trunc('hour', phenomenon_time) AS hour, sum((result #>> '{}')::float8),
       avg((result #>> '{}')::float8)
FROM sensors_observation
WHERE datastream_id = %(id)s AND phenomenon_time >= %(since)s
  AND jsonb_typeof(result) = 'number'
GROUP BY 1 ORDER BY 1
"""


def hourly_series(datastream, hours: int = HISTORY_H) -> pd.Series:
    """Hourly values (UTC index) of the last ``hours`` before the newest observation."""
    newest = datastream.latest_phenomenon_time or timezone.now()
    with connection.cursor() as cur:
        cur.execute(_SQL, {"id": datastream.pk, "since": newest - timedelta(hours=hours)})
        rows = cur.fetchall()
    rate = is_rate(datastream.unit_of_measurement)
    index = pd.DatetimeIndex([r[0] for r in rows])
    if len(index) and index.tz is None:
        index = index.tz_localize("UTC")
    return pd.Series([float(r[2] if rate else r[1]) for r in rows], index=index, dtype=float)


def forecast_datastream(datastream, params: ForecastParams | None = None) -> ForecastResult:
    """The engine's forecast of the datastream's hourly series, in its city's local time.

    Raises ``ParamError`` (field ``values``) when the history is too short.
    """
    series = hourly_series(datastream)
    tz = datastream_time_zone(datastream)
    return forecast_series(series.index, series.to_numpy(), tz=tz, params=params)


def store_anomalies(datastream, result: ForecastResult, since=None) -> int:
    """Keep the flagged hours (after ``since``) as Anomaly rows; returns how many are new."""
    flagged = result.anomalies
    if since is not None:
        flagged = flagged[flagged.index >= since]
    rows = [
        Anomaly(
            datastream=datastream,
            start=t.to_pydatetime(),
            observed=float(r.value),
            expected=float(r.forecast),
            lower=float(r.lower),
            upper=float(r.upper),
        )  # fmt: skip
        for t, r in flagged.iterrows()
        if np.isfinite(r.value)
    ]
    with transaction.atomic():
        before = Anomaly.objects.filter(datastream=datastream).count()
        Anomaly.objects.bulk_create(rows, ignore_conflicts=True)
        return Anomaly.objects.filter(datastream=datastream).count() - before
