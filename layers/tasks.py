"""Celery tasks of the layers app: file imports, run by jobs.runner.run_job."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from celery import shared_task

from jobs.models import Job
from jobs.progress import JobCancelled, JobProgress
from jobs.runner import JobKind, register_kind, run_job

from .importers import ImportRejected
from .importers.files import cleanup, describe, run_import

log = logging.getLogger(__name__)


def _rejected(exc: Exception) -> dict | None:
    return exc.as_dict() if isinstance(exc, ImportRejected) else None


def _remove_upload(job: Job) -> None:
    if job.params.get("path"):
        cleanup(Path(job.params["path"]).parent)


IMPORT_FILE = register_kind(
    JobKind(
        prefix="import_file",
        field="file",
        retry_hint="upload the file again",
        user_error=_rejected,
        finish=_remove_upload,  # the upload folder goes, whatever the outcome
    )
)


def _import(job: Job, progress: JobProgress) -> dict:
    try:
        return run_import(Path(job.params["path"]), job.params, job.owner_id, progress)
    except (ImportRejected, JobCancelled):
        raise
    except Exception as exc:
        # the log gets the traceback; the user a sentence without the server's paths
        log.error("import %s failed:\n%s", job.pk, traceback.format_exc())
        raise ImportRejected("file", f"the import failed: {describe(exc)}") from exc


@shared_task(name="layers.run_import_job", acks_late=True, bind=True)
def run_import_job(self, job_id: str) -> str:
    return run_job(job_id, _import, task=self)
