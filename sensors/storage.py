"""Storage that lasts: hourly/daily aggregates and per-datastream retention.

``refresh_aggregates(since, until)`` recomputes the hour and day buckets that start in the
window from the observations (count of all, mean/min/max of the numeric results), one
INSERT ... ON CONFLICT DO UPDATE per period. ``apply_retention()`` deletes the observations
older than their datastream's ``retention_days``; the aggregates stay (downsampling: the
hourly and daily values outlive the raw data) and so does the latest value (the last known
one). Celery beat runs both every ``CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S`` over the last
``CITYTWIN_SENSORS_AGGREGATE_LOOKBACK_H`` hours (``sensors.tasks``); ``manage.py
sensors_aggregate --since`` backfills older windows. Buckets follow the clock of the Thing's
city (``City.time_zone``: a day starts at local midnight), UTC for a Thing without a city.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

# Buckets on the clock of the Thing's city (days from local midnight; UTC without a city).
# The touched buckets are found from the window's observations, then aggregated whole from
# a window two days wider (a bucket is at most a 25-hour day), so a bucket that straddles the
# window's edge is never written from part of its observations.
_REFRESH = """
WITH z AS (
    SELECT d.id, COALESCE(NULLIF(c.time_zone, ''), 'UTC') AS tz
    FROM sensors_datastream d
    JOIN sensors_thing t ON t.id = d.thing_id
    LEFT JOIN layers_city c ON c.id = t.city_id
),
touched AS (
    SELECT DISTINCT o.datastream_id,
        date_trunc(%(period)s, o.phenomenon_time AT TIME ZONE z.tz) AT TIME ZONE z.tz AS bucket
    FROM sensors_observation o JOIN z ON z.id = o.datastream_id
    WHERE o.phenomenon_time >= %(since)s AND o.phenomenon_time < %(until)s
),
obs AS (
    SELECT o.datastream_id,
        date_trunc(%(period)s, o.phenomenon_time AT TIME ZONE z.tz) AT TIME ZONE z.tz AS bucket,
        sensors_jsonb_num(o.result) AS v
    FROM sensors_observation o JOIN z ON z.id = o.datastream_id
    WHERE o.datastream_id IN (SELECT datastream_id FROM touched)
      AND o.phenomenon_time >= %(since)s - interval '2 days'
      AND o.phenomenon_time < %(until)s + interval '2 days'
)
INSERT INTO sensors_aggregate (datastream_id, period, start, count, mean, min, max)
SELECT obs.datastream_id, %(period)s, obs.bucket, count(*), avg(v), min(v), max(v)
FROM obs JOIN touched USING (datastream_id, bucket)
GROUP BY obs.datastream_id, obs.bucket
ON CONFLICT (datastream_id, period, start) DO UPDATE
    SET count = EXCLUDED.count, mean = EXCLUDED.mean, min = EXCLUDED.min, max = EXCLUDED.max
"""

_RETENTION = """
DELETE FROM sensors_observation o
USING sensors_datastream d
WHERE o.datastream_id = d.id
  AND d.retention_days IS NOT NULL
  AND o.phenomenon_time < %(now)s - d.retention_days * interval '1 day'
"""


def refresh_aggregates(since: datetime, until: datetime) -> dict[str, int]:
    """Recompute every hour and day bucket holding an observation of [since, until), whole;
    returns the buckets written per period."""
    written = {}
    with transaction.atomic(), connection.cursor() as cur:
        for period in ("hour", "day"):
            cur.execute(_REFRESH, {"period": period, "since": since, "until": until})
            written[period] = cur.rowcount
    return written


def apply_retention(now: datetime) -> int:
    """Delete observations older than their datastream's retention; returns how many."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_RETENTION, {"now": now})
        return cur.rowcount
