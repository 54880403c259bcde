"""One way to run a job: ``run_job(job_id, work)`` inside a Celery task.

It takes the job (queued -> running), keeps a heartbeat, gives ``work`` a progress callback
that notices a cancellation, runs ``work`` and the final state in one transaction, turns an
exception into a failed job with a message for the user, and removes what a job that did not
succeed left outside the database. What differs between imports and runs (the field an error
names, expected errors, files to remove) is a :class:`JobKind`, registered by the app that owns
the kind of job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction

from .models import Job
from .progress import JobCancelled, JobProgress

log = logging.getLogger(__name__)

#: seconds between two heartbeats of a running job
HEARTBEAT_INTERVAL_S = 2.0

#: what a job's work does: gets the job and a progress callback; returns the job's report
#: (stored on the job; None keeps it as it is)
Work = Callable[[Job, JobProgress], "dict | None"]


def _no_user_error(exc: Exception) -> dict | None:
    return None


def _nothing(job: Job) -> None:
    return None


@dataclass(frozen=True)
class JobKind:
    """What run_job and the reaper need to know about one kind of job.

    Attributes
    ----------
    prefix
        ``Job.kind``, or its beginning (``"run_"`` for the runs of every simulator).
    field
        the field an unexpected error or a lost worker is reported under (``"run"``, ``"file"``).
    retry_hint
        what the user can do after the worker was lost ("start the run again").
    user_error
        the error stored on the job for an expected exception (bad input found by the work),
        or None for an unexpected one (stored as ``"Type: message"``, traceback logged).
    discard
        removes what a job that did not succeed left outside the database (its files).
    finish
        runs at every end, after ``discard`` (e.g. removes the uploaded file).
    reap
        False for a job fanned out over many Celery tasks (a sweep): no one process keeps its
        heartbeat between tasks, and a task whose worker died is delivered again by the
        broker, so silence does not mean lost and the reaper leaves it alone.
    """

    prefix: str
    field: str = "job"
    retry_hint: str = "start it again"
    user_error: Callable[[Exception], dict | None] = _no_user_error
    discard: Callable[[Job], None] = _nothing
    finish: Callable[[Job], None] = _nothing
    reap: bool = True


_KINDS: dict[str, JobKind] = {}


def register_kind(kind: JobKind) -> JobKind:
    _KINDS[kind.prefix] = kind
    return kind


def kind_of(name: str) -> JobKind:
    """The registered kind whose prefix is the longest beginning of ``name``."""
    matches = [k for prefix, k in _KINDS.items() if name.startswith(prefix)]
    return max(matches, key=lambda k: len(k.prefix), default=JobKind(prefix=""))


class Heartbeat(threading.Thread):
    """Writes ``heartbeat_at`` every few seconds while the job's process is alive."""

    def __init__(self, job: Job, interval_s: float = HEARTBEAT_INTERVAL_S):
        super().__init__(daemon=True, name=f"heartbeat-{job.pk}")
        self.job, self.interval_s, self.stopped = job, interval_s, threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval_s):
                self.job.beat()
        finally:
            connections["progress"].close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def worker_name(task=None) -> str:
    """``host/pid`` of the process doing a job (the Celery node name when in a worker)."""
    hostname = getattr(getattr(task, "request", None), "hostname", None)
    return f"{hostname or socket.gethostname()}/{os.getpid()}"


def run_job(job_id, work: Work, task=None) -> str:
    """Run ``work`` as job ``job_id``; returns the job's final status.

    - queued -> running (a job cancelled or reaped while queued is not started);
    - a heartbeat thread while it runs; ``work`` gets a :class:`JobProgress` that raises
      :class:`JobCancelled` at the first report after a cancel;
    - ``work`` and "succeeded" commit in one transaction, and only if the job is still running
      (a cancel or a reap that came first wins: nothing of the job's writes is kept);
    - an exception fails the job with a message naming the kind's field;
    - a job row missing from this database (another deployment's task, a flushed test
      database) is one warning line, not a traceback.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        log.warning(
            "job %s is not in the database %s: task %s dropped",
            job_id,
            settings.DATABASES["default"].get("NAME"),
            getattr(getattr(task, "request", None), "id", None) or "?",
        )
        return "missing"
    kind = kind_of(job.kind)
    task_id = getattr(getattr(task, "request", None), "id", None) or ""
    if not job.start(worker_name(task), task_id):
        status = job.status_in_db()
        if status in (Job.Status.CANCELLED, Job.Status.FAILED):
            # cancelled or reaped while queued: nobody else removes what it left (its upload)
            try:
                kind.discard(job)
            finally:
                kind.finish(job)
        return status
    heartbeat = Heartbeat(job)
    heartbeat.start()
    try:
        with transaction.atomic():
            report = work(job, JobProgress(job))
            if not job.succeed(report):
                raise JobCancelled(f"job {job.pk} is {job.status_in_db()}")
    except JobCancelled:
        pass  # whoever stopped it wrote its state
    except Exception as exc:
        error = kind.user_error(exc)
        if error is None:  # the user gets the message, the log gets the traceback
            log.error("%s %s failed:\n%s", job.kind, job.pk, traceback.format_exc())
            error = {"field": kind.field, "message": f"{type(exc).__name__}: {exc}"}
        else:
            log.info("%s %s rejected: %s", job.kind, job.pk, error)
        job.fail(error)
    finally:
        heartbeat.stop()
        status = job.status_in_db()
        try:
            if status != Job.Status.SUCCEEDED:
                kind.discard(job)
        finally:
            kind.finish(job)
    return status
