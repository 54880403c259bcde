"""Celery tasks of the layers app: file imports."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from celery import shared_task
from django.utils import timezone

from citytwin.jobs.models import Job
from citytwin.jobs.progress import JobProgress, mark_started

from .importers import ImportRejected
from .importers.files import cleanup, run_import

log = logging.getLogger(__name__)


@shared_task(name="layers.run_import_job", acks_late=True)
def run_import_job(job_id: str) -> str:
    job = Job.objects.get(pk=job_id)
    if job.status != Job.Status.QUEUED:
        return job.status
    mark_started(job)
    upload = Path(job.params["path"])
    try:
        report = run_import(upload, job.params, job.owner_id, JobProgress(job_id))
        job.status, job.report, job.progress_percent, job.stage = (
            Job.Status.SUCCEEDED,
            report,
            100.0,
            "done",
        )
    except ImportRejected as exc:
        job.status, job.error = Job.Status.FAILED, exc.as_dict()
    except Exception as exc:  # the user gets the error, the log gets the traceback
        log.error("import job %s failed:\n%s", job_id, traceback.format_exc())
        job.status = Job.Status.FAILED
        job.error = {"field": "file", "message": f"{type(exc).__name__}: {exc}"}
    finally:
        job.finished_at = timezone.now()
        job.save(
            update_fields=["status", "report", "error", "progress_percent", "stage", "finished_at"]
        )
        cleanup(upload.parent)
    return job.status
