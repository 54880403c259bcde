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


#: the schema holding a copy of the rows the session's city imports wrote (not in the search
#: path, so the flush of a transactional test leaves it alone)
SNAPSHOT_SCHEMA = "citytwin_test_snapshot"
#: name -> (city id in the snapshot, [(table, columns, columns set to the time of the restore)]
#: in insertion order); filled once per session
_SNAPSHOT: dict[str, tuple[int, list[tuple[str, list[str], set[str]]]]] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Import Helsinki and Kotka once; tests that use ``db`` see them (rolled back per test).

    The rows the imports wrote are also copied into :data:`SNAPSHOT_SCHEMA`, so that
    :func:`committed_city` can put a city back after a transactional test's flush in a fraction
    of a second instead of importing the PBF again (seconds each, about a hundred times a run).
    """
    from layers.importers.osm import demo_pbf, import_osm

    with django_db_blocker.unblock():
        before = _row_counts()
        import_osm(demo_pbf("helsinki"), "Helsinki")
        import_osm(demo_pbf("kotka"), "Kotka")
        _take_snapshot(before, _row_counts())
    yield


def _row_counts() -> dict[str, int]:
    """Rows in every table of the models (exact counts: the test database is small here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.django_table_names(only_existing=True):
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def time_columns(table: str) -> set[str]:
    """Columns of ``table`` an import sets to its own time (``auto_now``, ``imported_at``)."""
    from django.apps import apps

    (model,) = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table]
    return {
        f.column
        for f in model._meta.concrete_fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    } | ({"imported_at"} if table == "layers_city" else set())


def _snapshot_tables(written: set[str]) -> list[tuple[str, list[str], set[str]]]:
    """The tables an import wrote, parents before children, each with its insertable columns
    and those that take the time of the restore."""
    from django.apps import apps
    from django.db import connection

    models = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}
    order: list[str] = []

    def visit(table: str) -> None:
        if table in order:
            return
        for field in models[table]._meta.concrete_fields:
            parent = field.related_model._meta.db_table if field.is_relation else None
            if parent in written and parent != table:
                visit(parent)
        order.append(table)

    for table in sorted(written):
        visit(table)
    tables = []
    with connection.cursor() as cursor:
        for table in order:
            # generated columns are computed by PostgreSQL again, never inserted
            cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                [f'"{table}"'],
            )
            columns = [row[0] for row in cursor.fetchall()]
            # one city's rows are found by its id: a table without city_id would be copied whole
            assert table == "layers_city" or "city_id" in columns, (
                f"the city import writes {table}, which has no city_id: teach "
                "tests/twin/conftest.py:_restore_city how to copy one city's rows of it"
            )
            tables.append((table, columns, time_columns(table)))
    return tables


def _take_snapshot(before: dict[str, int], after: dict[str, int]) -> None:
    """Copy the rows the imports wrote (tables whose count grew) into the snapshot schema."""
    from django.db import connection

    from layers.models import City

    tables = _snapshot_tables({t for t, n in after.items() if n > before.get(t, 0)})
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
        for table, columns, _ in tables:
            # in id order, the order the import inserted them: a restored table reads back in
            # the same order as an imported one
            order = " ORDER BY id" if "id" in columns else ""
            cursor.execute(
                f'CREATE UNLOGGED TABLE {SNAPSHOT_SCHEMA}."{table}" AS '
                f'SELECT * FROM "{table}"{order}'
            )
    for name, pk in City.objects.values_list("name", "pk"):
        _SNAPSHOT[name] = (pk, tables)


def _restore_city(name: str):
    """Put the snapshot's rows of city ``name`` back, as a new import would: a new city id,
    ``imported_at`` and ``created_at`` now (so no cache keyed by them serves an earlier test's
    state). None when
    the snapshot does not hold it or its rows cannot go back (then the caller imports it)."""
    from django.db import IntegrityError, connection, transaction

    from layers.models import City

    if name not in _SNAPSHOT:
        return None
    old_id, tables = _SNAPSHOT[name]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('layers_city', 'id'))")
            new_id = cursor.fetchone()[0]
            for table, columns, now in tables:
                is_city = table == "layers_city"
                values = ", ".join(
                    "%(new)s"
                    if c == "city_id" or (is_city and c == "id")
                    else "now()"
                    if c in now
                    else f'"{c}"'
                    for c in columns
                )
                names = ", ".join(f'"{c}"' for c in columns)
                order = " ORDER BY id" if "id" in columns else ""
                cursor.execute(
                    f'INSERT INTO "{table}" ({names}) '
                    f'SELECT {values} FROM {SNAPSHOT_SCHEMA}."{table}" '
                    f"WHERE {'id' if is_city else 'city_id'} = %(old)s{order}",
                    {"new": new_id, "old": old_id},
                )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a broken reference fails here
    except IntegrityError:
        # e.g. the city was renamed by the test and its rows (same ids) are still there
        return None
    return City.objects.get(pk=new_id)


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
    tests flush the database when they end, so the city is put back when missing: the rows the
    session's import wrote are copied back from the snapshot (see :func:`django_db_setup`),
    else (a city the snapshot does not hold) the PBF is imported again.
    """
    from layers.importers.osm import demo_pbf, import_osm
    from layers.models import City

    def get(name: str = "Helsinki"):
        city = City.objects.filter(name=name).first()
        if city is None:
            city = _restore_city(name)
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
