"""Celery task of a simulation run, run by jobs.runner.run_job (progress, heartbeat,
cancellation, errors, one transaction for the results and the final state)."""

from __future__ import annotations

import shutil

from celery import shared_task

from jobs.models import Job
from jobs.progress import JobProgress
from jobs.runner import JobKind, register_kind, run_job

from . import capabilities
from .capabilities import ParamsRejected
from .models import Run, run_files_dir


def delete_run_files(run_id) -> None:
    shutil.rmtree(run_files_dir(run_id), ignore_errors=True)


def _rejected(exc: Exception) -> dict | None:
    """A parameter the run found bad, as every job error is stored (``Job.fail``):
    ``{"field": "params.<name>" or "simulator", "message": words}``."""
    if not isinstance(exc, ParamsRejected):
        return None
    return {"field": exc.api_error()[0]["field"], "message": exc.message}


RUN = register_kind(
    JobKind(
        prefix="run_",
        field="run",
        retry_hint="start the run again",
        user_error=_rejected,
        discard=lambda job: delete_run_files(job.pk),  # rasters of a run that did not succeed
    )
)


def _simulate(job: Job, progress: JobProgress) -> None:
    run = Run.objects.select_related("scenario__city", "job").get(pk=job.pk)
    run.kpis = capabilities.get(run.simulator).run(run, progress)
    run.save(update_fields=["kpis", "meta", "warnings"])
    progress(1.0, "storing")


@shared_task(name="scenarios.run_simulation", acks_late=True, bind=True)
def run_simulation(self, job_id: str) -> str:
    return run_job(job_id, _simulate, task=self)
