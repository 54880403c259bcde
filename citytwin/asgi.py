"""ASGI entry point: what `bin/citytwin up` serves (uvicorn workers under gunicorn), so that
server-sent event streams are coroutines, not threads (see citytwin.live)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
application = get_asgi_application()
