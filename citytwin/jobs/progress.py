"""Progress reporting: engines and importers call ``progress(fraction, stage)``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from django.db import connections
from django.utils import timezone

ProgressCallback = Callable[[float, str], None]


def null_progress(fraction: float, stage: str) -> None:
    """Ignore progress."""


class JobProgress:
    """Write a job's progress to its row, at most every ``min_interval_s`` seconds.

    Uses the ``progress`` database alias (a second autocommit connection) so that the update
    is visible to readers while the job's own transaction is still open.
    """

    def __init__(self, job_id: str, min_interval_s: float = 0.3, alias: str = "progress"):
        self.job_id = str(job_id)
        self.min_interval_s = min_interval_s
        self.alias = alias
        self._last = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self.min_interval_s:
            return
        self._last = now
        percent = max(0.0, min(100.0, 100.0 * float(fraction)))
        self.write(percent, stage[:200])

    def write(self, percent: float, stage: str) -> None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                "UPDATE jobs_job SET progress_percent = GREATEST(progress_percent, %s), "
                "stage = %s WHERE id = %s",
                [percent, stage, self.job_id],
            )


class ConsoleProgress:
    """A one-line progress bar on stderr for management commands."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self._last_text = ""

    def __call__(self, fraction: float, stage: str) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        filled = int(round(self.width * fraction))
        text = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f}% {stage[:50]:<50}"
        if text != self._last_text:
            self.stream.write(text)
            self.stream.flush()
            self._last_text = text
        if fraction >= 1.0:
            self.stream.write("\n")


def mark_started(job) -> None:
    job.status = job.Status.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
