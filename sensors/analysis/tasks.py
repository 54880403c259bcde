"""Beat task: flag the anomalies of every recently active numeric datastream."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from simulators.common.params import ParamError

log = logging.getLogger(__name__)

#: datastreams quiet for longer than this are not re-examined (h)
ACTIVE_H = 48


@shared_task(name="sensors.flag_anomalies")
def flag_anomalies(lookback_h: int = 48) -> dict:
    """Forecast each datastream active in the last ``ACTIVE_H`` hours and store the hours of the
    last ``lookback_h`` that left their band. Returns counts per outcome."""
    from sensors.models import Datastream

    from .forecasting import forecast_datastream, store_anomalies

    now = timezone.now()
    out = {"datastreams": 0, "new_anomalies": 0, "too_short": 0}
    active = Datastream.objects.filter(latest_phenomenon_time__gte=now - timedelta(hours=ACTIVE_H))
    for ds in active.select_related("road_edge__city", "thing__city"):
        out["datastreams"] += 1
        try:
            result = forecast_datastream(ds)
        except ParamError:
            out["too_short"] += 1
            continue
        out["new_anomalies"] += store_anomalies(ds, result, since=now - timedelta(hours=lookback_h))
    log.info("anomaly flags: %s", out)
    return out
