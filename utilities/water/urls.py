from django.urls import path

from . import api

urlpatterns = [
    path("water/networks/", api.networks, name="water-networks"),
    path("water/networks/<slug:slug>/", api.network, name="water-network"),
    path("water/networks/<slug:slug>/export.inp", api.export, name="water-export"),
    path(
        "water/networks/<slug:slug>/service-points/",
        api.link_service_points,
        name="water-service-points",
    ),
    path(
        "water/networks/<slug:slug>/criticality/",
        api.start_criticality,
        name="water-criticality-start",
    ),
    path("water/criticality/<int:pk>/", api.criticality, name="water-criticality"),
    path("water/runs/<uuid:run_id>/<str:layer>/", api.run_layer, name="water-run-layer"),
]
