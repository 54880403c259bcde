"""The reaper: marks jobs failed whose worker process died (run by Celery beat)."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import Job
from .runner import kind_of

log = logging.getLogger(__name__)


def reap_lost_jobs(stale_s: float | None = None) -> int:
    """Mark running jobs failed whose worker died; returns how many.

    A job is a suspect when it has shown no sign of life (heartbeat) for ``stale_s`` seconds
    (default ``settings.CITYTWIN_HEARTBEAT_STALE_S``). A heartbeat can lag while a compiled
    kernel holds the interpreter, so that alone is not proof: the workers that took the
    suspects are asked (Celery inspect) whether they still run the task. No answer, or one
    without the task, means it is lost: the job fails with a message saying so and what it
    left outside the database is removed (its transaction died with the process).
    """
    if stale_s is None:
        stale_s = settings.CITYTWIN_HEARTBEAT_STALE_S
    limit = timezone.now() - timedelta(seconds=stale_s)
    # a kind fanned out over many tasks (sweeps) is not lost when silent: the broker
    # redelivers a task whose worker died (JobKind.reap)
    suspects = [j for j in Job.objects.filter(Job.stale(limit)) if kind_of(j.kind).reap]
    if not suspects:
        return 0
    from citytwin.celery import app

    hosts = sorted({j.worker.split("/")[0] for j in suspects if j.worker})
    active: set[str] = set()
    try:
        # a worker busy in a compiled kernel may answer late: give it a few seconds
        replies = app.control.inspect(destination=hosts, timeout=3.0).active() or {}
        for tasks in replies.values():
            active.update(t.get("id", "") for t in tasks)
    except Exception:  # broker unreachable: cannot tell, leave the jobs alone
        log.warning("could not inspect the workers; lost jobs are not reaped now")
        return 0
    reaped = 0
    for job in suspects:
        if job.celery_task_id and job.celery_task_id in active:
            continue
        if not job.celery_task_id and _inline_alive(job, since=job.heartbeat_at or job.started_at):
            continue
        kind = kind_of(job.kind)
        since = job.heartbeat_at or job.started_at
        message = (
            f"the worker running it ({job.worker or 'unknown'}) stopped "
            f"(no heartbeat since {since:%H:%M:%S} UTC); {kind.retry_hint}"
        )
        if job.mark_lost(limit, message, kind.field):
            log.warning("%s %s: %s", job.kind, job.pk, message)
            try:  # only a job that is really gone loses its files
                kind.discard(job)
            finally:
                kind.finish(job)
            reaped += 1
    return reaped


def _inline_alive(job: Job, since) -> bool:
    """Whether a job run in-process (``run_scenario --inline``: no Celery task) may still live.

    No worker can be asked about it: on this host its process is checked; on another host only
    a silence ten times the staleness counts as lost (a compiled kernel can hold the
    interpreter, and so the heartbeat thread, for a long time).
    """
    host, _, pid = (job.worker or "").rpartition("/")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    stale_s = settings.CITYTWIN_HEARTBEAT_STALE_S
    return since is not None and since > timezone.now() - timedelta(seconds=10 * stale_s)
