"""Celery tasks of the layers app: file imports, run by jobs.runner.run_job."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task

from jobs.models import Job
from jobs.progress import JobProgress
from jobs.runner import JobKind, register_kind, run_job

from .importers import ImportRejected
from .importers.files import cleanup, run_import


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
    return run_import(Path(job.params["path"]), job.params, job.owner_id, progress)


@shared_task(name="layers.run_import_job", acks_late=True, bind=True)
def run_import_job(self, job_id: str) -> str:
    return run_job(job_id, _import, task=self)
