from django.urls import path, re_path

from . import api
from .sta.views import sta_view

urlpatterns = [
    path("sta/v1.1", sta_view, name="sta-root-noslash"),
    re_path(r"^sta/v1\.1/(?P<path>.*)$", sta_view, name="sta"),
    path("api/sensors/latest/", api.latest, name="sensors-latest"),
    path(
        "api/sensors/datastreams/<int:datastream_id>/aggregates/",
        api.aggregates,
        name="sensors-aggregates",
    ),
]
