from django.urls import path

from . import api

urlpatterns = [
    path(
        "sensors/datastreams/<int:pk>/forecast/",
        api.datastream_forecast,
        name="datastream-forecast",
    ),
]
