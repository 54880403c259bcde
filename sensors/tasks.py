"""Celery tasks of the sensors app, sent by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.conf import settings

from .storage import apply_retention, refresh_aggregates


@shared_task(name="sensors.maintain_storage", ignore_result=True)
def maintain_storage(lookback_h: float | None = None) -> dict:
    """Retention first (nothing is aggregated that is about to go), then the hourly and daily
    aggregates of the last ``lookback_h`` hours."""
    now = datetime.now(UTC)
    hours = settings.CITYTWIN_SENSORS_AGGREGATE_LOOKBACK_H if lookback_h is None else lookback_h
    deleted = apply_retention(now)
    written = refresh_aggregates(now - timedelta(hours=hours), now)
    return {"deleted": deleted, **written}
