from django.urls import path

from . import http

urlpatterns = [path("ingest/", http.ingest, name="sensors-ingest")]
