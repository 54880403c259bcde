"""A job: one unit of long work (an import, a simulation run) done by a Celery worker.

The job row is the single source of truth for status and progress: the web API, the CLI and
the web map read it; the worker writes it. Every change of state goes through a method of
:class:`Job` below, each a conditional UPDATE (``queued -> running -> succeeded | failed``,
``queued | running -> cancelled``), so that a cancel, a reap and the worker's own end can race
and the first one wins. Progress and heartbeats are written through a separate autocommit
connection (``progress`` alias) so that they are visible while the job's own work is still
inside its transaction.

Every write of a job's state sends :data:`jobs.signals.job_changed` (after the write; for a
write inside the job's transaction, before its commit): the place to hook notifications.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from .signals import job_changed


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, help_text="e.g. import_file, import_osm")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress_percent = models.FloatField(default=0.0)
    stage = models.CharField(max_length=200, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="what went wrong, for the user")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="", help_text="worker host/pid")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="last sign of life of the worker process doing the job"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status} {self.progress_percent:.0f}%)"

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    # -- state changes: each one conditional UPDATE; True when this call made the change ------

    def _change(self, from_statuses, using: str = "default", where=None, **fields) -> bool:
        """Set ``fields`` if the job is in one of ``from_statuses`` (and matches ``where``);
        mirror the plain values on ``self``."""
        rows = Job.objects.using(using).filter(pk=self.pk, status__in=list(from_statuses))
        if where is not None:
            rows = rows.filter(where)
        changed = bool(rows.update(**fields))
        if changed:
            for name, value in fields.items():
                if not hasattr(value, "resolve_expression"):
                    setattr(self, name, value)
            job_changed.send(Job, job_id=self.pk, status=self.status, using=using)
        return changed

    def start(self, worker: str, task_id: str = "") -> bool:
        """queued -> running, taken by ``worker`` ("host/pid"). False: cancelled or reaped first."""
        now = timezone.now()
        fields = {"status": self.Status.RUNNING, "started_at": now, "heartbeat_at": now}
        fields.update(stage="starting", worker=worker[:200])
        if task_id:
            fields["celery_task_id"] = task_id[:64]
        return self._change([self.Status.QUEUED], **fields)

    def write_progress(self, percent: float, stage: str, using: str = "progress") -> bool:
        """Write progress (never backwards) and a heartbeat; False when the job is no longer
        running (cancelled, or reaped): the worker then stops.

        This is the one place progress is written: a notification (LISTEN/NOTIFY, pub/sub)
        hooks here through :data:`jobs.signals.job_changed`.
        """
        percent = max(0.0, min(100.0, float(percent)))
        running = self._change(
            [self.Status.RUNNING],
            using=using,
            progress_percent=Greatest(F("progress_percent"), percent),
            stage=stage[:200],
            heartbeat_at=Now(),
        )
        if running:
            self.progress_percent = max(self.progress_percent, percent)
        return running

    def status_in_db(self, using: str = "default") -> str:
        """The status as stored now ("missing" when the row is gone)."""
        row = Job.objects.using(using).filter(pk=self.pk).values_list("status", flat=True)
        return row.first() or "missing"

    def beat(self, using: str = "progress") -> None:
        """A sign of life of the process doing the job (see jobs.runner.Heartbeat)."""
        Job.objects.using(using).filter(pk=self.pk).update(heartbeat_at=Now())

    def succeed(self, report: dict | None = None) -> bool:
        """running -> succeeded. Call it inside the job's transaction: the row lock orders it
        with a cancel or a reap, and the results commit together with the state."""
        locked = Job.objects.select_for_update().filter(pk=self.pk).values("status").first()
        if locked is None or locked["status"] != self.Status.RUNNING:
            return False
        fields = {"progress_percent": 100.0, "stage": "done", "finished_at": timezone.now()}
        if report is not None:
            fields["report"] = report
        return self._change([self.Status.RUNNING], status=self.Status.SUCCEEDED, **fields)

    def fail(self, error: dict, from_statuses=(Status.RUNNING,), **fields) -> bool:
        """-> failed with ``error`` ({"field", "message"} for the user). A cancel that came
        first wins (the job is no longer running)."""
        fields.setdefault("finished_at", timezone.now())
        return self._change(
            from_statuses, status=self.Status.FAILED, stage="failed", error=error, **fields
        )

    def cancel(self, message: str = "cancelled by the user", field: str = "job") -> bool:
        """queued | running -> cancelled. A queued task is revoked; a running one notices at
        its next progress report (write_progress returns False) and rolls back."""
        cancelled = self._change(
            [self.Status.QUEUED, self.Status.RUNNING],
            status=self.Status.CANCELLED,
            stage="cancelled",
            finished_at=timezone.now(),
            error={"field": field, "message": message},
        )
        if cancelled and self.celery_task_id:
            from citytwin.celery import app

            app.control.revoke(self.celery_task_id)
        return cancelled

    @classmethod
    def stale(cls, stale_before: datetime) -> Q:
        """Running jobs with no sign of life since ``stale_before``."""
        return Q(status=cls.Status.RUNNING) & (
            Q(heartbeat_at__lt=stale_before)
            | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
        )

    def mark_lost(self, stale_before: datetime, message: str, field: str = "job") -> bool:
        """running -> failed, for a job whose worker died (no heartbeat since ``stale_before``;
        a heartbeat that came meanwhile keeps the job running)."""
        return self._change(
            [self.Status.RUNNING],
            where=self.stale(stale_before),
            status=self.Status.FAILED,
            stage="failed",
            finished_at=timezone.now(),
            error={"field": field, "message": message},
        )
