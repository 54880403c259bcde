from django.urls import path

from . import api

urlpatterns = [
    path("grids/", api.grids, name="power-grids"),
    path("grids/<int:pk>/", api.grid_detail, name="power-grid"),
    path("grids/<int:pk>/export/", api.grid_export, name="power-grid-export"),
    path("grids/<int:pk>/relink/", api.grid_relink, name="power-grid-relink"),
    path("runs/<str:run_id>/<str:layer>/", api.run_layer, name="power-run-layer"),
]
