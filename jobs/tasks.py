"""Celery tasks of the jobs app: the reaper, run periodically by Celery beat."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from .reaper import reap_lost_jobs

log = logging.getLogger(__name__)


@shared_task(name="jobs.reap_lost_jobs", ignore_result=True)
def reap_lost_jobs_task(stale_s: float | None = None) -> int:
    """Beat sends this every ``CITYTWIN_REAP_INTERVAL_S`` (see settings.CELERY_BEAT_SCHEDULE)."""
    return reap_lost_jobs(stale_s)


@worker_ready.connect
def _reap_on_start(**_kwargs) -> None:
    """A restarted worker marks the jobs that died with a previous worker as failed."""
    try:
        reap_lost_jobs()
    except Exception:  # never keep a worker from starting
        log.exception("reaping lost jobs failed")
