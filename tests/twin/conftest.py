"""Fixtures for the twin: a real PostGIS test database, the demo cities, a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Import Helsinki and Kotka once; tests that use ``db`` see them (rolled back per test)."""
    from layers.importers.osm import demo_pbf, import_osm

    with django_db_blocker.unblock():
        import_osm(demo_pbf("helsinki"), "Helsinki")
        import_osm(demo_pbf("kotka"), "Kotka")
    yield


def _process_env(**extra: str) -> dict:
    """Environment of a Celery process on the test database and the test Redis db."""
    db_name = settings.DATABASES["default"]["NAME"]
    base = settings.DATABASES["default"]
    db_url = f"postgis://{base['USER']}@{base['HOST']}:{base['PORT']}/{db_name}"
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CITYTWIN_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **extra,
    }


def worker_log(name: str = "test") -> Path:
    """The log file of the worker started as ``name``."""
    return Path(settings.MEDIA_ROOT).parent / f"{name}-celery.log"


def start_worker(name: str = "test") -> subprocess.Popen:
    """Start a real Celery worker process (one task at a time) on the test database."""
    env = _process_env()
    log_path = worker_log(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    hostname = f"{name}-{uuid.uuid4().hex[:8]}@%h"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "citytwin", "worker",
                "--concurrency", "1", "--pool", "prefork", "--loglevel", "INFO",
                "-Q", "celery,maintenance",
                "--hostname", hostname, "--without-gossip", "--without-mingle",
            ],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # a loaded shared machine can take minutes to start one (CITYTWIN_TEST_WORKER_START_S)
    deadline = time.monotonic() + float(os.environ.get("CITYTWIN_TEST_WORKER_START_S", "180"))
    while time.monotonic() < deadline:
        if "ready." in log_path.read_text():
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"the Celery worker exited: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    stop_worker(proc)
    raise RuntimeError(f"the Celery worker did not start: {log_path.read_text()[-2000:]}")


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_beat(tmp_path: Path, reap_interval_s: float, stale_s: float) -> subprocess.Popen:
    """Start a real Celery beat process sending the reaper every ``reap_interval_s`` seconds
    (with a staleness of ``stale_s``) to the test workers, as `bin/citytwin up` does."""
    env = _process_env(
        CITYTWIN_REAP_INTERVAL_S=str(reap_interval_s), CITYTWIN_HEARTBEAT_STALE_S=str(stale_s)
    )
    log_path = tmp_path / "celerybeat.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "citytwin", "beat", "--loglevel", "INFO",
                "--schedule", str(tmp_path / "celerybeat-schedule"),
                "--pidfile", str(tmp_path / "celerybeat.pid"),
            ],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # generous: only a ceiling for a failure (a loaded machine starts beat slowly)
    deadline = time.monotonic() + 120
    while "jobs.reap_lost_jobs" not in log_path.read_text():  # it sent the first one
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_worker(proc)
            raise RuntimeError(f"Celery beat did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


@pytest.fixture
def beat(tmp_path):
    """Celery beat sending the reaper every second; jobs silent for 3 s are suspects."""
    proc = start_beat(tmp_path, reap_interval_s=1.0, stale_s=3.0)
    yield proc
    stop_worker(proc)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process on the test database and a separate Redis db."""
    import redis

    broker = settings.CELERY_BROKER_URL  # a Redis db of its own under pytest (see settings)
    assert broker.endswith("/" + os.environ.get("CITYTWIN_TEST_REDIS_DB", "15")), broker
    redis.Redis.from_url(broker).flushdb()
    proc = start_worker("test")
    yield proc
    stop_worker(proc)


def wait_for_job(job_id, timeout_s: float = 120.0):
    from jobs.models import Job

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in Job.FINISHED:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s (status {job.status})")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        username=f"gis-{uuid.uuid4().hex[:6]}", password="x"
    )


@pytest.fixture
def api(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token = Token.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def committed_city(transactional_db):
    """Return a function ``name -> City`` giving a demo city in committed rows.

    For tests that a worker process or a live server must see (``transaction=True``): such
    tests flush the database when they end, so the city is imported again when missing.
    """
    from layers.importers.osm import demo_pbf, import_osm
    from layers.models import City

    def get(name: str = "Helsinki"):
        city = City.objects.filter(name=name).first()
        if city is None:
            import_osm(demo_pbf(name.lower()), name)
            city = City.objects.get(name=name)
        return city

    return get


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web_server(name: str = "web", **env_extra: str) -> tuple[subprocess.Popen, str]:
    """``bin/citytwin serve`` (what ``up`` serves) on the test database, on a free port."""
    import requests

    db_name = settings.DATABASES["default"]["NAME"]
    base = settings.DATABASES["default"]
    addr = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgis://{base['USER']}@{base['HOST']}:{base['PORT']}/{db_name}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CITYTWIN_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CITYTWIN_WEB_ADDR": addr,
        **env_extra,
    }
    env.pop("PYTEST_VERSION", None)  # the server is not under pytest (no test Redis db switch)
    env.pop("CITYTWIN_DEBUG", None)
    log_path = Path(settings.MEDIA_ROOT).parent / f"{name}-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(REPO_ROOT / "bin" / "citytwin"), "serve"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://{addr}"
    deadline = time.monotonic() + 180  # a ceiling for a failure, not a wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web server exited: {log_path.read_text()[-3000:]}")
        try:
            if requests.get(url + "/api/", timeout=2).status_code == 200:
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.3)
    stop_web_server(proc)
    raise RuntimeError(f"the web server did not answer: {log_path.read_text()[-3000:]}")


def stop_web_server(proc: subprocess.Popen) -> None:
    """Stop gunicorn (its pid is the process's: `serve` execs it) and its workers."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def web_server(django_db_setup):
    """The real web server (``bin/citytwin serve``: ASGI, DEBUG off) on the test database.

    Tests that use it write committed rows (``transaction=True``) so that the server sees them.
    At most 20 event streams per client; keep-alive every 60 s (changes arrive by NOTIFY).
    """
    proc, url = start_web_server(
        "web",
        CITYTWIN_WEB_WORKERS="2",
        CITYTWIN_SSE_MAX_PER_CLIENT="20",
        CITYTWIN_SSE_KEEPALIVE_S="60",  # longer than any wait in the tests: NOTIFY it is
    )
    yield url
    stop_web_server(proc)
