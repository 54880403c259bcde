"""Storage that lasts: hourly/daily aggregates and per-datastream retention.

``refresh_aggregates(since, until)`` recomputes the hour and day buckets that start in the
window from the observations (count of all, mean/min/max of the numeric results), one
INSERT ... ON CONFLICT DO UPDATE per period. ``apply_retention()`` deletes the observations
older than their datastream's ``retention_days``; the aggregates stay (downsampling: the
hourly and daily values outlive the raw data) and so does the latest value (the last known
one). Celery beat runs both every ``CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S`` over the last
``CITYTWIN_SENSORS_AGGREGATE_LOOKBACK_H`` hours (``sensors.tasks``); ``manage.py
sensors_aggregate --since`` backfills older windows. Buckets are in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

_REFRESH = """
INSERT INTO sensors_aggregate (datastream_id, period, start, count, mean, min, max)
SELECT datastream_id, %(period)s, date_trunc(%(period)s, phenomenon_time AT TIME ZONE 'UTC')
           AT TIME ZONE 'UTC' AS bucket,
       count(*), avg(v), min(v), max(v)
FROM (
    SELECT datastream_id, phenomenon_time, sensors_jsonb_num(result) AS v
    FROM sensors_observation
    WHERE phenomenon_time >= %(since)s AND phenomenon_time < %(until)s
) o
GROUP BY datastream_id, bucket
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


def _floor(t: datetime, period: str) -> datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if period == "day" else t


def refresh_aggregates(since: datetime, until: datetime) -> dict[str, int]:
    """Recompute the buckets overlapping [since, until) (widened to whole buckets, UTC);
    returns the buckets written per period."""
    written = {}
    with transaction.atomic(), connection.cursor() as cur:
        for period in ("hour", "day"):
            start = _floor(since.astimezone(UTC), period)
            step = timedelta(days=1) if period == "day" else timedelta(hours=1)
            end = _floor(until.astimezone(UTC), period) + step
            cur.execute(_REFRESH, {"period": period, "since": start, "until": end})
            written[period] = cur.rowcount
    return written


def apply_retention(now: datetime) -> int:
    """Delete observations older than their datastream's retention; returns how many."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_RETENTION, {"now": now})
        return cur.rowcount
