"""Service functions behind the API: visibility rules and upload handling."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.db.models import Q, QuerySet

from jobs.models import Job

from .importers import ImportRejected
from .importers.files import cleanup, describe, inspect_upload
from .roles import check_import_allowed

log = logging.getLogger(__name__)


def visible_to(queryset: QuerySet, user) -> QuerySet:
    """Public rows, plus the user's own private ones (staff see all)."""
    if user is not None and user.is_authenticated:
        if user.is_staff:
            return queryset
        return queryset.filter(Q(visibility="public") | Q(owner=user))
    return queryset.filter(visibility="public")


def start_upload_import(uploaded_file, params: dict, user) -> Job:
    """Save an upload, check it, queue the import job; raises ImportRejected (4xx) at once.

    Whatever goes wrong before the job is queued, the upload folder is removed and the client
    gets a 4xx naming the field (never a 500 and never a server path).
    """
    from .tasks import run_import_job

    check_import_allowed(user, params)
    size = getattr(uploaded_file, "size", 0)
    if size > settings.MAX_UPLOAD_BYTES:
        raise ImportRejected(
            "file",
            f"the file is {size} bytes, over the limit of {settings.MAX_UPLOAD_BYTES}",
            status=413,
        )
    name = Path(uploaded_file.name).name
    if not name or name.startswith("."):
        raise ImportRejected("file", "the file needs a name with an extension")
    job_id = uuid.uuid4()
    workdir = Path(settings.MEDIA_ROOT) / "uploads" / str(job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    try:
        with open(path, "wb") as out:
            for chunk in uploaded_file.chunks():
                out.write(chunk)
        found = inspect_upload(path, params)
    except ImportRejected:
        cleanup(workdir)
        raise
    except Exception as exc:
        cleanup(workdir)
        log.warning("upload %s rejected by an unexpected error", name, exc_info=True)
        raise ImportRejected("file", f"the file cannot be read ({describe(exc)})") from exc
    job = Job.objects.create(
        id=job_id,
        kind="import_file",
        owner=user if user.is_authenticated else None,
        params={**params, "path": str(path), "file_name": name, "inspected": found},
        stage="queued",
    )
    result = run_import_job.delay(str(job.id))
    Job.objects.filter(pk=job.id).update(celery_task_id=result.id or "")
    return job
