"""The one way observations are stored (SensorThings REST, MQTT, HTTP ingest).

``store_observations(datastream, rows)`` inserts a batch in one transaction with
``INSERT ... ON CONFLICT DO NOTHING`` on the idempotency key (datastream, phenomenon time,
sequence or -1): a redelivered message is stored once and counted as a duplicate. In the same
transaction the datastream's latest value and its phenomenon/result time envelope move, which
fires the ``sensors`` NOTIFY (migration 0002) once per batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import IntegrityError, connection, transaction
from django.utils.dateparse import parse_datetime

from .models import Datastream, FeatureOfInterest, Location

#: rows per INSERT statement (each column one array parameter)
CHUNK_ROWS = 5000


class ObservationRejected(ValueError):
    """A row that cannot be stored; ``field`` names the bad field, ``index`` the row."""

    def __init__(self, field: str, message: str, index: int | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.index = index


def parse_time(value: Any, field: str) -> datetime:
    """An aware datetime from a datetime or an ISO 8601 string (a time zone is required:
    a bare local time is ambiguous)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ObservationRejected(field, f"{field}: {value!r} is not an ISO 8601 date-time")
    else:
        raise ObservationRejected(field, f"{field}: expected an ISO 8601 date-time string")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ObservationRejected(field, f"{field}: {value!r} has no time zone (add Z or +hh:mm)")
    return parsed


def parse_time_or_interval(value: Any, field: str) -> tuple[datetime, datetime | None]:
    """(start, end) from an instant or an ISO 8601 interval ``start/end`` (end None: instant)."""
    if isinstance(value, str) and "/" in value:
        start_s, end_s = value.split("/", 1)
        start, end = parse_time(start_s, field), parse_time(end_s, field)
        if end < start:
            raise ObservationRejected(field, f"{field}: the interval ends before it starts")
        return start, end
    return parse_time(value, field), None


def _valid_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if "/" not in value:
            raise ObservationRejected("validTime", "validTime: expected an interval start/end")
        start, end = parse_time_or_interval(value, "validTime")
    else:
        start, end = (parse_time(v, "validTime") for v in value)
    return f"[{start.isoformat()},{end.isoformat()}]"


def default_feature_of_interest(datastream: Datastream) -> FeatureOfInterest | None:
    """The feature of interest of an observation that names none: its Thing's (newest)
    Location, turned into a FeatureOfInterest once and reused (SensorThings v1.1, 8.2.7)."""
    location = (
        Location.objects.filter(things=datastream.thing_id).order_by("-id").first()
        if datastream.thing_id
        else None
    )
    if location is None:
        return None
    foi = FeatureOfInterest.objects.filter(generated_from=location).first()
    if foi is None:
        try:
            with transaction.atomic():  # a savepoint: a concurrent batch may make it first
                foi = FeatureOfInterest.objects.create(
                    name=location.name,
                    description=location.description,
                    encoding_type=location.encoding_type,
                    feature=location.location,
                    geom=location.geom,
                    generated_from=location,
                )
        except IntegrityError:  # the other one committed it: use theirs
            foi = FeatureOfInterest.objects.get(generated_from=location)
    return foi


def _row_values(
    datastream_id: int, row: Mapping[str, Any], index: int, default_foi: int | None
) -> tuple:
    if "phenomenon_time" not in row or row["phenomenon_time"] is None:
        raise ObservationRejected("phenomenonTime", "phenomenonTime: required", index)
    if "result" not in row:
        raise ObservationRejected("result", "result: required", index)
    try:
        start, end = parse_time_or_interval(row["phenomenon_time"], "phenomenonTime")
        if row.get("phenomenon_time_end") is not None:
            end = parse_time(row["phenomenon_time_end"], "phenomenonTime")
        result_time = row.get("result_time")
        result_time = parse_time(result_time, "resultTime") if result_time is not None else None
        valid_time = _valid_time(row.get("valid_time"))
    except ObservationRejected as exc:
        exc.index = index
        raise
    foi = row.get("feature_of_interest")
    foi = getattr(foi, "pk", foi) if foi is not None else default_foi
    sequence = row.get("sequence")
    if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int)):
        raise ObservationRejected("sequence", "sequence: expected an integer", index)
    parameters = row.get("parameters")
    quality = row.get("result_quality")
    return (
        datastream_id,
        start,
        end,
        result_time,
        json.dumps(row["result"]),
        None if quality is None else json.dumps(quality),
        valid_time,
        None if parameters is None else json.dumps(parameters),
        foi,
        sequence,
    )


_INSERT = """
INSERT INTO sensors_observation (datastream_id, phenomenon_time, phenomenon_time_end,
    result_time, result, result_quality, valid_time, parameters, feature_of_interest_id,
    sequence)
SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
    %s::jsonb[], %s::jsonb[], %s::tstzrange[], %s::jsonb[], %s::bigint[], %s::bigint[])
ON CONFLICT DO NOTHING
RETURNING phenomenon_time, phenomenon_time_end, result_time, COALESCE(sequence, -1), result::text
"""
# one array per column, not a VALUES list: the statement text stays the same whatever the
# number of rows (psycopg would parse a 10,000-placeholder text anew for every batch)

_UPDATE_DATASTREAM = """
UPDATE sensors_datastream SET
    latest_value = CASE WHEN latest_phenomenon_time IS NULL OR latest_phenomenon_time <= %(t)s
                        THEN %(v)s::jsonb ELSE latest_value END,
    latest_phenomenon_time = GREATEST(latest_phenomenon_time, %(t)s),
    phenomenon_time_start = LEAST(phenomenon_time_start, %(pmin)s),
    phenomenon_time_end = GREATEST(phenomenon_time_end, %(pmax)s),
    result_time_start = LEAST(result_time_start, %(rmin)s),
    result_time_end = GREATEST(result_time_end, %(rmax)s)
WHERE id = %(id)s
RETURNING latest_value::text, latest_phenomenon_time, phenomenon_time_start,
    phenomenon_time_end, result_time_start, result_time_end
"""


# observedArea (18-088: the extent of the features of interest of the observations): grown to
# the convex hull with any feature of the batch it does not yet cover; one statement a batch
_GROW_OBSERVED_AREA = """
UPDATE sensors_datastream d SET observed_area = ST_ConvexHull(ST_Collect(
    ARRAY(SELECT f.geom FROM sensors_featureofinterest f
          WHERE f.id = ANY(%(fois)s) AND f.geom IS NOT NULL)
    || CASE WHEN d.observed_area IS NULL THEN ARRAY[]::geometry[] ELSE ARRAY[d.observed_area] END))
WHERE d.id = %(id)s AND EXISTS (
    SELECT 1 FROM sensors_featureofinterest f
    WHERE f.id = ANY(%(fois)s) AND f.geom IS NOT NULL
      AND (d.observed_area IS NULL OR NOT ST_Covers(d.observed_area, f.geom)))
RETURNING ST_AsEWKT(observed_area)
"""


def store_observations(
    datastream: Datastream | int, rows: Iterable[Mapping[str, Any]]
) -> tuple[int, int]:
    """Store observations of one datastream; return (stored, duplicates).

    Parameters
    ----------
    datastream
        The Datastream (its latest value and time envelope are refreshed on the object) or id.
    rows
        Mappings with ``phenomenon_time`` (aware datetime or ISO 8601 instant or ``start/end``
        interval, required), ``result`` (any JSON value, required) and optionally
        ``phenomenon_time_end``, ``result_time``, ``result_quality``, ``valid_time`` (interval
        string or (start, end)), ``parameters`` (JSON object), ``feature_of_interest``
        (FeatureOfInterest or id; default: the Thing's Location as a feature) and ``sequence``
        (integer, part of the idempotency key).

    Raises
    ------
    ObservationRejected
        A row is malformed (its ``field`` and ``index`` say which); nothing is stored then.
    """
    ds_id = datastream.pk if isinstance(datastream, Datastream) else int(datastream)
    rows = list(rows)
    if not rows:
        return 0, 0
    with transaction.atomic():
        default_foi = None
        if any(r.get("feature_of_interest") is None for r in rows):
            ds = (
                datastream
                if isinstance(datastream, Datastream)
                else Datastream.objects.get(pk=ds_id)
            )
            foi = default_feature_of_interest(ds)
            default_foi = foi.pk if foi is not None else None
        values = [_row_values(ds_id, row, i, default_foi) for i, row in enumerate(rows)]
        returned = []
        with connection.cursor() as cur:
            for lo in range(0, len(values), CHUNK_ROWS):
                chunk = values[lo : lo + CHUNK_ROWS]
                cur.execute(_INSERT, [list(column) for column in zip(*chunk)])
                returned.extend(cur.fetchall())
            if returned:
                newest = max(returned, key=lambda r: (r[0], r[3]))
                ends = [r[1] or r[0] for r in returned]
                result_times = [r[2] for r in returned if r[2] is not None]
                cur.execute(
                    _UPDATE_DATASTREAM,
                    {
                        "id": ds_id,
                        "t": newest[0],
                        "v": newest[4],
                        "pmin": min(r[0] for r in returned),
                        "pmax": max(ends),
                        "rmin": min(result_times) if result_times else None,
                        "rmax": max(result_times) if result_times else None,
                    },
                )
                state = cur.fetchone()
                fois = sorted({v[8] for v in values if v[8] is not None})
                if fois:
                    cur.execute(_GROW_OBSERVED_AREA, {"id": ds_id, "fois": fois})
                    grown = cur.fetchone()
                    if grown is not None and isinstance(datastream, Datastream):
                        datastream.observed_area = GEOSGeometry(grown[0])
                if isinstance(datastream, Datastream) and state is not None:
                    datastream.latest_value = json.loads(state[0]) if state[0] else None
                    (
                        datastream.latest_phenomenon_time,
                        datastream.phenomenon_time_start,
                        datastream.phenomenon_time_end,
                        datastream.result_time_start,
                        datastream.result_time_end,
                    ) = state[1:]
    return len(returned), len(rows) - len(returned)


def refresh_latest(datastream_id: int) -> None:
    """Recompute a datastream's latest value and time envelope from its observations (after
    observations were deleted or changed; an index scan on the idempotency key, not history)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE sensors_datastream d SET
                latest_value = o.result, latest_phenomenon_time = o.phenomenon_time
            FROM (SELECT %(id)s AS id) k
            LEFT JOIN LATERAL (
                SELECT result, phenomenon_time FROM sensors_observation
                WHERE datastream_id = %(id)s
                ORDER BY phenomenon_time DESC, COALESCE(sequence, -1) DESC LIMIT 1
            ) o ON true
            WHERE d.id = k.id
            """,
            {"id": datastream_id},
        )
