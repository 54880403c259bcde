from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from citytwin.scenarios import urls as scenario_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(scenario_urls.api_urlpatterns)),
    path("api/", include("layers.api.urls")),
    path("tiles/", include(scenario_urls.tile_urlpatterns)),
    path("tiles/", include("layers.tiles.urls")),
    path("ogc/", include("ogc.urls")),
    path("", include("frontend.urls")),
]
