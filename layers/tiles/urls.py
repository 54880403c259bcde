from django.urls import path

from . import views

urlpatterns = [
    path(
        "rasters/<slug:slug>/<int:z>/<int:x>/<int:y>.png",
        views.raster_layer_tile,
        name="raster-layer-tile",
    ),
    path("<str:layer>/<int:z>/<int:x>/<int:y>.pbf", views.tile, name="tile"),
    path("<str:layer>.json", views.tilejson, name="tilejson"),
]
