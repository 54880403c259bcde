"""The job machinery (jobs/): one runner for imports and runs, its state changes, the reaper.

Real PostGIS, Redis, Celery worker and beat processes; a worker is killed with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from citytwin.scenarios.tasks import run_simulation
from jobs.models import Job
from jobs.signals import job_changed
from layers.importers.osm import demo_pbf
from layers.models import Building, City, RoadEdge
from layers.tasks import run_import_job

from .conftest import wait_for_job, worker_log


def _make_staff(user) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])


def _upload_osm(api, tmp_path, city: str) -> str:
    path = tmp_path / "helsinki.osm.pbf"
    shutil.copy(demo_pbf("helsinki"), path)
    with open(path, "rb") as handle:
        response = api.post(
            "/api/imports/", {"file": handle, "target": "osm", "city": city}, format="multipart"
        )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _wait_for_progress(job_id: str, percent: float, timeout_s: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout_s
    job = Job.objects.get(pk=job_id)
    while job.progress_percent < percent and time.monotonic() < deadline:
        time.sleep(0.05)
        job = Job.objects.get(pk=job_id)
    assert job.status == "running" and job.progress_percent >= percent, (job.status, job.stage)
    return job


def _nothing_of(city_name: str) -> None:
    assert not City.objects.filter(name=city_name).exists()
    assert not Building.objects.filter(city__name=city_name).exists()
    assert not RoadEdge.objects.filter(city__name=city_name).exists()


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_state_changes_are_conditional_and_a_cancel_wins():
    seen: list[tuple[str, str]] = []

    def record(sender, job_id, status, using, **kwargs):
        seen.append((status, using))

    job_changed.connect(record)
    try:
        job = Job.objects.create(kind="import_file")
        assert job.start("host-a/1", "task-1")
        assert not Job.objects.get(pk=job.pk).start("host-b/2")  # taken once only
        assert job.write_progress(40.0, "half way")
        assert job.write_progress(20.0, "a late report")  # progress never goes back
        stored = Job.objects.get(pk=job.pk)
        assert (stored.progress_percent, stored.stage) == (40.0, "a late report")
        assert (stored.worker, stored.celery_task_id) == ("host-a/1", "task-1")
        assert job.cancel("stop it", field="file")
        assert not job.write_progress(60.0, "more")  # the worker notices here and stops
        with transaction.atomic():
            assert not job.succeed({"imported": 1})  # a cancel that came first wins
        assert not job.fail({"field": "file", "message": "too late"})
        stored = Job.objects.get(pk=job.pk)
        assert stored.status == "cancelled" and stored.report == {}
        assert stored.error == {"field": "file", "message": "stop it"}
        assert stored.progress_percent == 40.0
    finally:
        job_changed.disconnect(record)
    assert seen == [
        ("running", "default"),
        ("running", "progress"),
        ("running", "progress"),
        ("cancelled", "default"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_job_is_missing_logs_one_warning_line(celery_worker_process):
    log_path = worker_log("test")
    start = log_path.stat().st_size
    missing = [str(uuid.uuid4()), str(uuid.uuid4())]
    run_import_job.delay(missing[0])
    run_simulation.delay(missing[1])

    def new_log() -> str:
        with open(log_path) as log:
            log.seek(start)
            return log.read()

    deadline = time.monotonic() + 60
    while not all(j in new_log() for j in missing) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a traceback would follow its line
    text = new_log()
    for job_id in missing:
        lines = [line for line in text.splitlines() if job_id in line]
        assert len(lines) == 1 and "WARNING" in lines[0], text
        assert "is not in the database" in lines[0]
    assert "Traceback" not in text and "ERROR" not in text, text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_an_import_and_writes_nothing(api, user, tmp_path, celery_worker_process):
    _make_staff(user)  # an OSM import that creates a city: staff only
    job_id = _upload_osm(api, tmp_path, "Cancelled import")
    _wait_for_progress(job_id, 20.0)
    body = api.post(f"/api/jobs/{job_id}/cancel/").json()
    assert body["status"] == "cancelled" and body["error"]["message"] == "cancelled by the user"
    # the worker stops at its next progress report, rolls back and removes the upload
    upload = Path(settings.MEDIA_ROOT) / "uploads" / job_id
    deadline = time.monotonic() + 60
    while upload.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not upload.exists()
    job = Job.objects.get(pk=job_id)
    assert job.status == "cancelled" and job.progress_percent < 100
    _nothing_of("Cancelled import")
    # a finished job stays as it is
    assert api.post(f"/api/jobs/{job_id}/cancel/").json()["status"] == "cancelled"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_import_failed_and_nothing_written(
    api, user, tmp_path, celery_worker_process, beat
):
    """SIGKILL in the middle of the import's transaction; beat's reaper fails it in a minute."""
    _make_staff(user)  # an OSM import that creates a city: staff only
    job_id = _upload_osm(api, tmp_path, "Killed import")
    job = _wait_for_progress(job_id, 55.0)  # writing to the database, in its transaction
    assert "/" in job.worker
    os.kill(int(job.worker.rsplit("/", 1)[1]), signal.SIGKILL)  # the process doing the import
    deadline = time.monotonic() + 60
    status = "running"
    while status == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        status = api.get(f"/api/jobs/{job_id}/").json()["status"]
    body = api.get(f"/api/jobs/{job_id}/").json()
    assert body["status"] == "failed", body
    assert body["error"]["field"] == "file"
    assert "stopped" in body["error"]["message"]
    assert "upload the file again" in body["error"]["message"]
    _nothing_of("Killed import")
    assert not (Path(settings.MEDIA_ROOT) / "uploads" / job_id).exists()
    # the worker's restarted process takes the next import
    again = wait_for_job(_upload_osm(api, tmp_path, "Killed import"), 120)
    assert again.status == "succeeded", again.error
    assert City.objects.filter(name="Killed import").count() == 1
