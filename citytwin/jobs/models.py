"""A job: one unit of long work (an import, later a simulation run) done by a Celery worker.

The job row is the single source of truth for status and progress: the web API, the CLI and
the web map read it; the worker writes it. Progress is written through a separate autocommit
connection (``progress`` alias) so that it is visible while the job's own work is still inside
its (atomic) transaction.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


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
