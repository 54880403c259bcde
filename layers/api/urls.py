from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from . import views

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
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include(router.urls)),
]
