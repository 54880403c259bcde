from django.urls import path

from . import tiles

# under /tiles/, before the layers' catch-all /tiles/<layer>/...
tile_urlpatterns = [
    path(
        f"{layer}/<int:z>/<int:x>/<int:y>.pbf",
        tiles.tile,
        {"layer": layer},
        name=f"{layer}-tile",
    )
    for layer in tiles.LAYERS
]
