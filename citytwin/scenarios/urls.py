from django.urls import include, path
from rest_framework.routers import SimpleRouter

from citytwin.live.views import run_events

from . import api, tables, tiles

# the slash is optional: `POST /api/scenarios/<id>/runs` (as clients write it) must not be
# redirected, since a redirect drops the body of a POST
router = SimpleRouter()
router.trailing_slash = "/?"  # DRF's constructor only takes True/False
router.register("scenarios", api.ScenarioViewSet, basename="scenario")
router.register("runs", api.RunViewSet, basename="run")

api_urlpatterns = [
    path("cities/<int:pk>/baseline/", api.city_baseline, name="city-baseline"),
    path("simulators/", api.simulators, name="simulators"),
    path("edit-types/", api.edit_types, name="edit-types"),
    # an async view (server-sent events without a thread each), before the router's routes
    path("runs/<uuid:pk>/events/", run_events, name="run-events"),
    # plain views too (DRF would take ?format= for its renderers)
    path("runs/<uuid:pk>/tables/", tables.run_tables, name="run-tables"),
    path("runs/<uuid:pk>/tables/<slug:name>/", tables.run_table, name="run-table"),
    path("", include(router.urls)),
]

tile_urlpatterns = [
    path(
        "runs/<str:run_id>/<str:kind>/<int:z>/<int:x>/<int:y>.pbf",
        tiles.run_tile,
        name="run-tile",
    ),
    path(
        "compare/<str:run_id>/<str:base_id>/<str:kind>/<int:z>/<int:x>/<int:y>.pbf",
        tiles.run_tile,
        name="compare-tile",
    ),
    path(
        "runs/<str:run_id>/rasters/<str:name>/<int:z>/<int:x>/<int:y>.png",
        tiles.raster_tile,
        name="run-raster-tile",
    ),
    path(
        "compare/<str:run_id>/<str:base_id>/rasters/<str:name>/<int:z>/<int:x>/<int:y>.png",
        tiles.raster_difference_tile,
        name="compare-raster-tile",
    ),
]
