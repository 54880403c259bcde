from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from citytwin.scenarios import urls as scenario_urls
from layers.api.signin import throttled_admin_login
from transit import urls as transit_urls

# failed admin sign-ins are limited like the API's (per user name and per address)
admin.site.login = throttled_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include(scenario_urls.api_urlpatterns)),
    path("api/", include("layers.api.urls")),
    path("api/power/", include("utilities.power.urls")),
    path("api/", include("sensors.analysis.urls")),
    path("tiles/", include(scenario_urls.tile_urlpatterns)),
    path("tiles/", include(transit_urls.tile_urlpatterns)),
    path("tiles/", include("layers.tiles.urls")),
    path("ogc/", include("ogc.urls")),
    path("", include("sensors.urls")),
    path("api/sensors/", include("sensors.mqtt.urls")),
    path("api/", include("utilities.water.urls")),
    path("api/assistant/", include("citytwin.assistant.urls")),
    path("api/", include("citytwin.sweeps.urls")),
    path("", include("frontend.urls")),
]

# with DEBUG off (as `up` serves): JSON errors for the API, a plain page for the web
handler400 = "citytwin.errors.bad_request"
handler403 = "citytwin.errors.permission_denied"
handler404 = "citytwin.errors.page_not_found"
handler500 = "citytwin.errors.server_error"
