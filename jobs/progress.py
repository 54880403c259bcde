"""Progress reporting: engines and importers call ``progress(fraction, stage)``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]


def null_progress(fraction: float, stage: str) -> None:
    """Ignore progress."""


class JobCancelled(Exception):
    """The job is no longer running (cancelled by its user, or reaped): stop and roll back.

    Raised from a progress report, so the work stops at its next report.
    """


class JobProgress:
    """Write a job's progress to its row, at most every ``min_interval_s`` seconds.

    Each write goes through :meth:`jobs.models.Job.write_progress` (the ``progress``
    connection: visible while the job's transaction is open) and raises
    :class:`JobCancelled` when the job is no longer running.
    """

    def __init__(self, job, min_interval_s: float = 0.3, alias: str = "progress"):
        self.job = job
        self.min_interval_s = min_interval_s
        self.alias = alias
        self._last = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self._last < self.min_interval_s:
            return
        self._last = now
        if not self.job.write_progress(100.0 * float(fraction), stage, using=self.alias):
            raise JobCancelled(f"job {self.job.pk} is {self.job.status_in_db(self.alias)}")


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
