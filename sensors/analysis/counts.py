"""Hourly traffic counts of a city's road-edge datastreams at one local hour of weekdays.

A datastream linked to a road edge (``Datastream.road_edge``) with numeric results is a
counter. Its hourly volume on a day is the **mean** of its results in that local hour when its
unit is a rate (the symbol has ``/h``: veh/h) and their **sum** when results are counts per
interval (veh per 5 min, per 15 min...). The count used for calibration is the mean over the
weekdays (Monday to Friday) of the window, the usual "average weekday" of count programmes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from sensors.access import datastream_filter
from sensors.models import Datastream


@dataclass(frozen=True)
class HourlyCount:
    datastream_id: int
    name: str
    road_edge_id: int
    volume_veh_h: float
    days: int


def counters(city, user=None):
    """Datastreams linked to the city's road edges that ``user`` may read (None: public only)."""
    return Datastream.objects.filter(datastream_filter(user), road_edge__city=city)


def is_rate(unit: dict | None) -> bool:
    """True for a per-hour unit (results are flows), False for counts per interval."""
    symbol = str((unit or {}).get("symbol") or "").replace(" ", "").lower()
    return "/h" in symbol or symbol.endswith("ph")


_SQL = """
SELECT o.datastream_id, date_trunc('day', o.phenomenon_time AT TIME ZONE %(tz)s) AS day,
       sum((o.result #>> '{}')::float8), avg((o.result #>> '{}')::float8)
FROM sensors_observation o
WHERE o.datastream_id = ANY(%(ids)s)
  AND o.phenomenon_time >= %(since)s AND o.phenomenon_time < %(until)s
  AND jsonb_typeof(o.result) = 'number'
  AND extract(hour FROM o.phenomenon_time AT TIME ZONE %(tz)s) = %(hour)s
  AND extract(isodow FROM o.phenomenon_time AT TIME ZONE %(tz)s) <= 5
GROUP BY 1, 2
"""


def weekday_hour_counts(
    city, hour: int, tz: str, days: int, user=None, until: datetime | None = None
) -> list[HourlyCount]:
    """Average weekday volume (veh/h) at local ``hour`` over the last ``days`` per counter."""
    until = until or timezone.now()
    streams = {d.id: d for d in counters(city, user).only("id", "name", "road_edge_id",
                                                           "unit_of_measurement")}  # fmt: skip
    if not streams:
        return []
    with connection.cursor() as cur:
        cur.execute(_SQL, {
            "tz": tz, "ids": list(streams), "since": until - timedelta(days=days),
            "until": until, "hour": int(hour),
        })  # fmt: skip
        rows = cur.fetchall()
    per_stream: dict[int, list[float]] = {}
    for ds_id, _, total, mean in rows:
        value = mean if is_rate(streams[ds_id].unit_of_measurement) else total
        per_stream.setdefault(ds_id, []).append(float(value))
    return [
        HourlyCount(ds_id, streams[ds_id].name, streams[ds_id].road_edge_id,
                    sum(v) / len(v), len(v))
        for ds_id, v in sorted(per_stream.items())
    ]  # fmt: skip
