"""``GET /api/sensors/datastreams/<id>/forecast/``: hourly history, forecast band, anomalies.

Times are in the city's local time zone (ISO 8601 with offset), values in the datastream's
unit. A private datastream is visible to its owner and staff only (404 for anyone else).
"""

from __future__ import annotations

import math

from django.db.models import Q
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from layers.auth import request_user
from simulators.common.params import ParamError
from simulators.forecast import ForecastParams

from .forecasting import forecast_datastream

#: hours of history returned with the forecast (the chart's window)
SHOWN_HISTORY_H = 72


def visible_datastreams(user):
    """Datastreams ``user`` may read: public ones, plus their own (all for staff)."""
    from sensors.models import Datastream, Visibility

    qs = Datastream.objects.all()
    if user is not None and user.is_authenticated and user.is_staff:
        return qs
    if user is not None and user.is_authenticated:
        return qs.filter(Q(visibility=Visibility.PUBLIC) | Q(owner=user))
    return qs.filter(visibility=Visibility.PUBLIC)


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
