from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import signin, views

router = DefaultRouter()
router.register("cities", views.CityViewSet)
router.register("buildings", views.BuildingViewSet)
router.register("road-nodes", views.RoadNodeViewSet)
router.register("road-edges", views.RoadEdgeViewSet)
router.register("utility-nodes", views.UtilityNodeViewSet)
router.register("utility-links", views.UtilityLinkViewSet)
router.register("facilities", views.FacilityViewSet)
router.register("areas", views.AreaViewSet)
router.register("layers", views.LayerViewSet, basename="layer")
router.register("rasters", views.RasterLayerViewSet, basename="raster")
router.register("imports", views.ImportViewSet, basename="import")
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    path("auth/token/", signin.obtain_token, name="api-token"),
    path("auth/session/", signin.session, name="api-session"),
    path("auth/password/", signin.change_password, name="api-password"),
    path("", include(router.urls)),
]
