from django.urls import path

from citytwin.live.sensors import sensor_events

from . import api

urlpatterns = [
    # an async view (server-sent events without a thread each)
    path("sensors/events/", sensor_events, name="sensor-events"),
    path("sensors/map/", api.sensors_map, name="sensors-map"),
    path(
        "sensors/datastreams/<int:pk>/forecast/",
        api.datastream_forecast,
        name="datastream-forecast",
    ),
]
