"""Celery application: the job runner every long task uses (imports first)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")

app = Celery("citytwin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
