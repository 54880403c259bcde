"""``GET /api/sensors/datastreams/<id>/forecast/``: hourly history, forecast band, anomalies.

Times are in the city's local time zone (ISO 8601 with offset), values in the datastream's
unit. A private datastream is visible to its owner and staff only (404 for anyone else).
"""

from __future__ import annotations

import math

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from layers.auth import request_user
from simulators.common.params import ParamError
from simulators.forecast import ForecastParams

from .forecasting import forecast_datastream

#: hours of history returned with the forecast (the chart's window)
SHOWN_HISTORY_H = 72


def visible_datastreams(user):
    """Datastreams ``user`` may read (``sensors.access``: public, their own, all for staff)."""
    from sensors.access import visible_datastreams as readable

    return readable(user)


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


@require_GET
def datastream_forecast(request, pk: int):
    ds = (
        visible_datastreams(request_user(request))
        .select_related("road_edge__city", "thing__city").filter(pk=pk).first()
    )  # fmt: skip
    if ds is None:
        return JsonResponse({"error": "Not found.", "field": "id"}, status=404)
    try:
        horizon = int(request.GET.get("horizon_h", 24))
        params = ForecastParams(horizon_h=horizon)
    except (ValueError, ParamError):
        return JsonResponse(
            {"error": "horizon_h: a whole number of hours from 1 to 336", "field": "horizon_h"},
            status=400,
        )
    try:
        result = forecast_datastream(ds, params)
    except ParamError as exc:
        return JsonResponse(
            {"error": f"not enough data for a forecast: {exc.message}", "field": exc.field},
            status=409,
        )
    history = result.history.iloc[-SHOWN_HISTORY_H:]
    unit = ds.unit_of_measurement or {}
    return JsonResponse({
        "datastream": ds.pk,
        "name": ds.name,
        "unit": unit.get("symbol") or unit.get("name") or "",
        "time_zone": str(result.history.index.tz),
        "profile": "weekly" if result.n_slots == 168 else "daily",
        "sigma": _num(result.sigma),
        "band_sigmas": params.band_z,
        "history": [
            {"time": t.isoformat(), "value": _num(r.value), "forecast": _num(r.forecast),
             "lower": _num(r.lower), "upper": _num(r.upper), "anomaly": bool(r.anomaly)}
            for t, r in history.iterrows()
        ],
        "forecast": [
            {"time": t.isoformat(), "forecast": _num(r.forecast), "lower": _num(r.lower),
             "upper": _num(r.upper)}
            for t, r in result.future.iterrows()
        ],
        "anomalies": [
            {"time": t.isoformat(), "value": _num(r.value), "forecast": _num(r.forecast)}
            for t, r in history[history["anomaly"]].iterrows()
        ],
    })  # fmt: skip


_MAP_SQL = """
SELECT d.id, d.name, d.unit_of_measurement::text, d.latest_value::text, d.latest_phenomenon_time,
       ST_AsGeoJSON(COALESCE(
           (SELECT ST_PointOnSurface(l.geom) FROM sensors_location l
              JOIN sensors_thing_locations tl ON tl.location_id = l.id
             WHERE tl.thing_id = d.thing_id AND l.geom IS NOT NULL ORDER BY l.id DESC LIMIT 1),
           ST_LineInterpolatePoint(e.geom, 0.5), ST_PointOnSurface(b.footprint),
           ST_PointOnSurface(d.area)), 6),
       (SELECT EXTRACT(EPOCH FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY dt))
          FROM (SELECT phenomenon_time - lag(phenomenon_time) OVER (ORDER BY phenomenon_time)
                       AS dt
                  FROM (SELECT phenomenon_time FROM sensors_observation o
                         WHERE o.datastream_id = d.id
                         ORDER BY phenomenon_time DESC LIMIT 11) recent) gaps
         WHERE dt IS NOT NULL)
FROM sensors_datastream d
LEFT JOIN layers_roadedge e ON e.id = d.road_edge_id
LEFT JOIN layers_building b ON b.id = d.building_id
WHERE d.id = ANY(%s)
ORDER BY d.id
"""


@require_GET
def sensors_map(request):
    """``GET /api/sensors/map/?city=<id>``: the readable datastreams as GeoJSON points with
    their latest value and time and their usual interval between observations (s), for the
    map's sensors layer (staleness: quiet for longer than 3 x the usual interval)."""
    from django.db import connection

    from citytwin.live.sensors import _visible

    city = request.GET.get("city")
    try:
        city_id = int(city) if city not in (None, "") else None
    except ValueError:
        return JsonResponse({"error": "city: expected a city id", "field": "city"}, status=400)
    ids = sorted(_visible(request_user(request), city_id))
    with connection.cursor() as cur:
        cur.execute(_MAP_SQL, [ids])
        rows = cur.fetchall()
    import json

    features = []
    for pk, name, unit, value, t, geometry, interval in rows:
        if geometry is None:
            continue
        unit = json.loads(unit) if unit else {}
        value = json.loads(value) if value is not None else None
        features.append({
            "type": "Feature",
            "id": pk,
            "geometry": json.loads(geometry),
            "properties": {
                "datastream": pk, "name": name,
                "unit": unit.get("symbol") or unit.get("name") or "",
                "value": value if isinstance(value, (int, float)) and not isinstance(value, bool)
                else None,
                "result": value, "time": t.isoformat() if t else None,
                "interval_s": float(interval) if interval is not None else None,
            },
        })  # fmt: skip
    tz = "UTC"
    if city_id is not None:
        from layers.models import City

        from .localtime import city_time_zone

        tz = city_time_zone(City.objects.filter(pk=city_id).first())
    return JsonResponse({"type": "FeatureCollection", "time_zone": tz, "features": features})
