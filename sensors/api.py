"""CityTwin's own sensor endpoints beside SensorThings: the latest value of many datastreams
in one request (one indexed query on the datastream table, never the observation history)
and the hourly/daily aggregates of one datastream."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime

from layers.auth import request_user

from .access import visible_datastreams
from .models import Aggregate
from .sta.entities import iso

#: at most this many datastreams in one latest-value request
MAX_LATEST = 2000


def _error(message: str, field: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message, "field": field}, status=status)


def latest(request: HttpRequest) -> JsonResponse:
    """``GET /api/sensors/latest/?datastreams=1,2,3`` (or ``?city=<id>``): per datastream its
    latest result and phenomenon time, unit and staleness input; private ones only for
    their owner and staff (others are listed under ``missing`` like unknown ids)."""
    user = request_user(request)
    qs = visible_datastreams(user)
    raw = request.GET.get("datastreams")
    wanted: list[int] | None = None
    if raw is not None:
        parts = [p.strip() for p in raw.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            return _error("datastreams: expected comma-separated datastream ids", "datastreams")
        wanted = sorted({int(p) for p in parts})
        if len(wanted) > MAX_LATEST:
            return _error(f"datastreams: at most {MAX_LATEST} ids per request", "datastreams")
        qs = qs.filter(pk__in=wanted)
    city = request.GET.get("city")
    if city is not None:
        if not city.isdigit():
            return _error("city: expected a city id", "city")
        qs = qs.filter(thing__city_id=int(city))
    if wanted is None and city is None:
        return _error("datastreams: give datastream ids or a city", "datastreams")
    rows = list(
        qs.order_by("pk").values_list(
            "pk", "name", "unit_of_measurement", "latest_value", "latest_phenomenon_time"
        )[:MAX_LATEST]
    )
    found = {r[0] for r in rows}
    body = {
        "datastreams": [
            {
                "id": pk,
                "name": name,
                "unit": (uom or {}).get("symbol"),
                "result": value,
                "phenomenon_time": iso(t),
            }
            for pk, name, uom, value, t in rows
        ]
    }
    if wanted is not None:
        body["missing"] = [i for i in wanted if i not in found]
    return JsonResponse(body)


def aggregates(request: HttpRequest, datastream_id: int) -> JsonResponse:
    """``GET /api/sensors/datastreams/<id>/aggregates/?period=hour&start=...&end=...``."""
    user = request_user(request)
    if not visible_datastreams(user).filter(pk=datastream_id).exists():
        return _error(f"datastream {datastream_id} not found", "datastream", 404)
    period = request.GET.get("period", "hour")
    if period not in ("hour", "day"):
        return _error("period: expected hour or day", "period")
    qs = Aggregate.objects.filter(datastream_id=datastream_id, period=period)
    for name, lookup in (("start", "start__gte"), ("end", "start__lt")):
        value = request.GET.get(name)
        if value is not None:
            t = parse_datetime(value)
            if t is None or t.tzinfo is None:
                return _error(f"{name}: expected an ISO 8601 date-time with a time zone", name)
            qs = qs.filter(**{lookup: t})
    rows = qs.order_by("start").values_list("start", "count", "mean", "min", "max")[:10_000]
    return JsonResponse(
        {
            "datastream": datastream_id,
            "period": period,
            "aggregates": [
                {"start": iso(s), "count": c, "mean": mean, "min": lo, "max": hi}
                for s, c, mean, lo, hi in rows
            ],
        }
    )
