"""Django settings for CityTwin.

Everything deployment-specific comes from the environment:

- ``DATABASE_URL``: PostGIS database (default: the project-local cluster that
  ``bin/citytwin`` starts on 127.0.0.1:54329).
- ``CELERY_BROKER_URL``: Redis broker (default: the local Redis on 127.0.0.1:63790).
- ``CITYTWIN_SECRET_KEY``: the secret key; without it, one is generated once and kept in
  ``.run/secret_key`` (mode 600).
- ``CITYTWIN_DEBUG`` (default off; ``1`` only on a developer's machine), ``CITYTWIN_ALLOWED_HOSTS``.
- ``CITYTWIN_MEDIA_ROOT``: where uploads and raster layers (COG files) live.
- ``CITYTWIN_MAX_UPLOAD_MB``: the upload size limit (default 200 MB).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"


def _secret_key(path: Path) -> str:
    """The key from the environment, else the one kept in ``.run/secret_key`` (made once)."""
    from_env = os.environ.get("CITYTWIN_SECRET_KEY")
    if from_env:
        return from_env
    if not path.is_file():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once keep the same key (the second one reads it)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        import time

        time.sleep(0.02)  # another process is writing it
    raise RuntimeError(f"{path} is empty; delete it or set CITYTWIN_SECRET_KEY")


SECRET_KEY = _secret_key(Path(os.environ.get("CITYTWIN_SECRET_KEY_FILE", RUN_DIR / "secret_key")))
DEBUG = os.environ.get("CITYTWIN_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("CITYTWIN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(
    ","
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "jobs",
    "citytwin.live",
    "citytwin.scenarios",
    "layers",
    "ogc",
    "frontend",
    "sensors",
    "sensors.mqtt",
    "transit.apps.TransitConfig",
    "utilities.water",
    "utilities.power",
    "sensors.analysis",
    "citytwin.assistant.apps.AssistantConfig",
    "citytwin.sweeps.apps.SweepsConfig",
]

# accounts made by `bin/citytwin adduser` and password changes in the page are checked by these
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "citytwin.urls"
WSGI_APPLICATION = "citytwin.wsgi.application"
ASGI_APPLICATION = "citytwin.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgis://citytwin@127.0.0.1:54329/citytwin"),
        # `bin/citytwin serve` sets 0: under ASGI each request runs in a thread of its own, so a
        # kept connection would never be used again (Django's advice for async servers)
        conn_max_age=int(os.environ.get("CITYTWIN_DB_CONN_MAX_AGE", "60")),
    )
}
# dj-database-url maps postgis:// to the PostGIS backend; make sure postgres:// does too.
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# A second autocommit connection to the same database, for job progress written while the
# job's own work is inside a transaction (see jobs.models.Job.write_progress).
DATABASES["progress"] = {**DATABASES["default"], "CONN_MAX_AGE": 0, "TEST": {"MIRROR": "default"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("CITYTWIN_MEDIA_ROOT", RUN_DIR / "media"))
MEDIA_URL = "media/"

MAX_UPLOAD_BYTES = int(float(os.environ.get("CITYTWIN_MAX_UPLOAD_MB", "200")) * 1024 * 1024)
# Uncompressed size and ratio limits for zip uploads (zip-bomb guard).
MAX_UNZIPPED_BYTES = int(float(os.environ.get("CITYTWIN_MAX_UNZIPPED_MB", "2000")) * 1024 * 1024)
MAX_ZIP_RATIO = 200.0
# Rasters over this many pixels (width x height) are refused before any pixel is read.
MAX_RASTER_PIXELS = int(float(os.environ.get("CITYTWIN_MAX_RASTER_MPIX", "400")) * 1_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "layers.api.errors.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "layers.api.pagination.GeoJsonPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "layers.api.errors.exception_handler",
    # failed sign-ins (API token and admin login), counted in the cache (layers.api.signin)
    "DEFAULT_THROTTLE_RATES": {
        "signin_user": os.environ.get("CITYTWIN_SIGNIN_FAILURES_PER_USER", "10/hour"),
        "signin_address": os.environ.get("CITYTWIN_SIGNIN_FAILURES_PER_ADDRESS", "30/hour"),
    },
}
# the page's session cookie: never readable by scripts, not sent by other sites' requests
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

SPECTACULAR_SETTINGS = {
    "TITLE": "CityTwin API",
    "DESCRIPTION": "An open urban digital twin: buildings, roads, utilities, facilities, "
    "imported layers, and the jobs that import them.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # the edit schemas use JSON Schema's const, numeric exclusiveMinimum and type lists (3.1)
    "OAS_VERSION": "3.1.0",
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:63790/0")
if os.environ.get("PYTEST_VERSION") and CELERY_BROKER_URL.startswith("redis://"):
    # The test suite's worker and tasks use their own Redis database, so a development worker
    # on the same Redis never takes a test's task.
    # CITYTWIN_TEST_REDIS_DB lets two test runs share one Redis without taking each other's tasks.
    _test_redis_db = os.environ.get("CITYTWIN_TEST_REDIS_DB", "15")
    CELERY_BROKER_URL = CELERY_BROKER_URL.rsplit("/", 1)[0] + "/" + _test_redis_db
    os.environ["CELERY_BROKER_URL"] = CELERY_BROKER_URL  # Celery reads the variable directly
# Redis (the broker's database) also holds the caches: throttling of sign-ins and the count of
# open event streams are shared by all web worker processes ("default"); rendered vector tiles
# (layers.tiles.cache, "tiles") too, under keys holding the data's import time, so no stale tile
# outlives an import.
REDIS_URL = os.environ.get("CITYTWIN_REDIS_URL", CELERY_BROKER_URL)
if REDIS_URL.startswith("redis://"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # under pytest a prefix per run, so one run's sign-in failures never throttle the next
            "KEY_PREFIX": f"citytwin-test-{os.getpid()}"
            if os.environ.get("PYTEST_VERSION")
            else "citytwin",
        },
        "tiles": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "citytwin-tiles",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "tiles": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tiles"},
    }
# Server-sent events (citytwin.live): streams per client (user, else address), keep-alive
# interval and the longest a stream stays open.
SSE_MAX_STREAMS_PER_CLIENT = int(os.environ.get("CITYTWIN_SSE_MAX_PER_CLIENT", "20"))
SSE_KEEPALIVE_S = float(os.environ.get("CITYTWIN_SSE_KEEPALIVE_S", "15"))
SSE_MAX_DURATION_S = 3600.0
CELERY_RESULT_BACKEND = None  # job state lives in PostgreSQL (jobs.models.Job)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CITYTWIN_CELERY_EAGER", "0") == "1"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task taken by a worker that died (SIGKILL, a lost machine) is delivered again once the
# broker's visibility timeout has passed since it was taken (acks_late: acknowledged only when
# done). It must be longer than the longest task, or a task still running is given to a second
# worker too (harmless for runs and sweep chunks, which do nothing twice, but wasted): a sweep
# chunk is sized to take minutes (citytwin/sweeps/services.py), a whole run is one task. The
# workers look for such tasks every tenth of the timeout (at most every minute).
CITYTWIN_VISIBILITY_TIMEOUT_S = float(os.environ.get("CITYTWIN_VISIBILITY_TIMEOUT_S", "7200"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CITYTWIN_VISIBILITY_TIMEOUT_S,
    "unacked_restore_interval": max(1.0, min(60.0, CITYTWIN_VISIBILITY_TIMEOUT_S / 10)),
    "unacked_restore_throttle": 1,
}

# Jobs whose worker died: a running job with no heartbeat for CITYTWIN_HEARTBEAT_STALE_S seconds
# (and not active on its worker) is marked failed by the reaper, which Celery beat (started by
# `bin/citytwin up`) sends every CITYTWIN_REAP_INTERVAL_S seconds. See jobs/reaper.py.
CITYTWIN_HEARTBEAT_STALE_S = float(os.environ.get("CITYTWIN_HEARTBEAT_STALE_S", "30"))
CITYTWIN_REAP_INTERVAL_S = float(os.environ.get("CITYTWIN_REAP_INTERVAL_S", "10"))
CELERY_BEAT_SCHEDULE = {
    "reap-lost-jobs": {
        "task": "jobs.reap_lost_jobs",
        "schedule": CITYTWIN_REAP_INTERVAL_S,
        # the staleness is beat's setting, so one beat process decides it for every worker
        "kwargs": {"stale_s": CITYTWIN_HEARTBEAT_STALE_S},
        # a worker busy with a long job takes it later: never let copies pile up meanwhile
        "options": {"expires": CITYTWIN_REAP_INTERVAL_S},
    }
}
# Sensors: retention and hourly/daily aggregates (sensors.tasks), on the maintenance queue
CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S = float(
    os.environ.get("CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S", "300")
)
CITYTWIN_SENSORS_AGGREGATE_LOOKBACK_H = float(
    os.environ.get("CITYTWIN_SENSORS_AGGREGATE_LOOKBACK_H", "48")
)
CELERY_BEAT_SCHEDULE["sensors-maintain-storage"] = {
    "task": "sensors.maintain_storage",
    "schedule": CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S,
    "options": {"expires": CITYTWIN_SENSORS_AGGREGATE_INTERVAL_S},
}
# the reaper goes to a queue of its own, served by a small worker next to the main one
# (bin/citytwin), so it runs while the main worker is busy or dead
CELERY_TASK_ROUTES = {
    "jobs.reap_lost_jobs": {"queue": "maintenance"},
    "sensors.maintain_storage": {"queue": "maintenance"},
}
# sensors: forecasts of the active datastreams flag the hours that left their band
CITYTWIN_ANOMALY_INTERVAL_S = float(os.environ.get("CITYTWIN_ANOMALY_INTERVAL_S", "3600"))
CELERY_BEAT_SCHEDULE["sensors-flag-anomalies"] = {
    "task": "sensors.flag_anomalies",
    "schedule": CITYTWIN_ANOMALY_INTERVAL_S,
    "options": {"expires": CITYTWIN_ANOMALY_INTERVAL_S},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CITYTWIN_LOG_LEVEL", "INFO")},
    # libraries' notes at import ("NumExpr defaulting to 2 threads", pandapower's "Failed to
    # import plotly") would open every manage command and `bin/citytwin up`: warnings only
    "loggers": {name: {"level": "WARNING"} for name in ("numexpr", "pandapower")},
}

# Django's GDAL raster wrapper is never given untrusted files here (uploads are read with
# rasterio/pyogrio, whose bundled GDAL is recent), so the GDAL < 3.9 warning does not apply.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
