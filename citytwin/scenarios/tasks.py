"""Celery task of a simulation run: progress, heartbeat, cancellation, one transaction."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback

from celery import shared_task
from celery.signals import worker_ready
from django.db import connections, transaction
from django.utils import timezone

from citytwin.jobs.models import Job
from citytwin.jobs.progress import JobProgress

from .models import Run
from .runners import RUNNERS, ParamsRejected
from .services import delete_run_files, reap_lost_runs

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 2.0


class RunCancelled(Exception):
    """The user cancelled the run (seen at a progress report)."""


class RunProgress(JobProgress):
    """Job progress that also notices a cancellation (the UPDATE returns the status)."""

    def write(self, percent: float, stage: str) -> None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                "UPDATE jobs_job SET progress_percent = GREATEST(progress_percent, %s), "
                "stage = %s, heartbeat_at = now() WHERE id = %s RETURNING status",
                [percent, stage, self.job_id],
            )
            row = cursor.fetchone()
        if row is None or row[0] != Job.Status.RUNNING:
            raise RunCancelled()


class Heartbeat(threading.Thread):
    """Writes ``heartbeat_at`` every few seconds while the run's process is alive."""

    def __init__(self, job_id: str):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.stopped = job_id, threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(HEARTBEAT_INTERVAL_S):
                with connections["progress"].cursor() as cursor:
                    cursor.execute(
                        "UPDATE jobs_job SET heartbeat_at = now() WHERE id = %s",
                        [self.job_id],
                    )
        finally:
            connections["progress"].close()


def _finish(job_id: str, **fields) -> None:
    """Final state, unless the run was cancelled meanwhile (a cancel wins)."""
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        finished_at=timezone.now(), **fields
    )


@shared_task(name="scenarios.run_simulation", acks_late=True)
def run_simulation(job_id: str) -> str:
    started = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        stage="starting",
        worker=f"{run_simulation.request.hostname or socket.gethostname()}/{os.getpid()}",
    )
    if not started:  # cancelled while queued, or reaped and redelivered
        return Job.objects.get(pk=job_id).status
    run = Run.objects.select_related("scenario__city", "job").get(pk=job_id)
    heartbeat = Heartbeat(job_id)
    heartbeat.start()
    progress = RunProgress(job_id)
    try:
        with transaction.atomic():
            kpis = RUNNERS[run.simulator](run, progress)
            run.kpis = kpis
            run.save(update_fields=["kpis", "meta"])
            progress(1.0, "storing")
            # the results and "succeeded" commit together, and only if the job is still
            # running: a cancel or a reap that came first wins (the row lock orders them)
            job = Job.objects.select_for_update().get(pk=job_id)
            if job.status != Job.Status.RUNNING:
                raise RunCancelled()
            job.status, job.progress_percent, job.stage = Job.Status.SUCCEEDED, 100.0, "done"
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "progress_percent", "stage", "finished_at"])
    except RunCancelled:
        delete_run_files(job_id)
    except ParamsRejected as exc:
        delete_run_files(job_id)
        _finish(job_id, status=Job.Status.FAILED, stage="failed", error=exc.api_error()[0])
    except Exception as exc:  # the user gets the error, the log gets the traceback
        log.error("run %s failed:\n%s", job_id, traceback.format_exc())
        delete_run_files(job_id)
        _finish(
            job_id,
            status=Job.Status.FAILED,
            stage="failed",
            error={"field": "run", "message": f"{type(exc).__name__}: {exc}"},
        )
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
    return Job.objects.get(pk=job_id).status


@worker_ready.connect
def _reap_on_start(**_kwargs) -> None:
    """A restarted worker marks the runs that died with a previous worker as failed."""
    try:
        reap_lost_runs()
    except Exception:  # never keep a worker from starting
        log.exception("reaping lost runs failed")
