"""Thin views: querysets, filters and serializers; logic lives in layers.services."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.http import FileResponse, Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework_gis.filters import InBBoxFilter

from jobs.models import Job
from jobs.runner import kind_of

from .. import gazetteer, population, services
from ..geo import BBoxError, parse_bbox
from ..importers import ImportRejected
from ..models import (
    AreaFeature,
    Building,
    City,
    Facility,
    Layer,
    RasterLayer,
    RoadEdge,
    RoadNode,
    UtilityLink,
    UtilityNode,
)
from . import serializers as s
from .pagination import GeoJsonPagination, PlainPagination


class BBoxFilter(InBBoxFilter):
    """``?bbox=minx,miny,maxx,maxy`` in lon/lat; a malformed bbox is a 400, not ignored."""

    bbox_param = "bbox"

    def get_filter_bbox(self, request):
        raw = request.query_params.get(self.bbox_param)
        if raw is None:
            return None
        try:
            box = parse_bbox(raw)
        except BBoxError as exc:
            raise ValidationError({"bbox": str(exc)}) from exc
        return Polygon.from_bbox(box)


GEO_BACKENDS = [filters.DjangoFilterBackend, OrderingFilter, BBoxFilter]


class CityViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = City.objects.all()
    filter_backends = [OrderingFilter]

    def get_serializer_class(self):
        return s.CityDetailSerializer if self.action == "retrieve" else s.CitySerializer

    @extend_schema(request=None, responses={200: dict})
    @action(detail=True, methods=["get"])
    def quality(self, request, pk=None):
        """Where heights, uses and people come from, with what to import to improve them."""
        return Response(population.quality(self.get_object()))

    @extend_schema(
        request=None,
        responses={200: dict},
        parameters=[
            OpenApiParameter("q", str, description="a few letters of a name"),
            OpenApiParameter("kind", str, description="street, area, facility, building, address"),
        ],
    )
    @action(detail=True, methods=["get"])
    def search(self, request, pk=None):
        """Streets, areas, facilities, named buildings and addresses of the city by name
        (case, diacritics and small typos forgiven), best first, with their extent."""
        q = request.query_params.get("q", "")
        if not q.strip():
            return Response({"error": "q: give a few letters of a name", "field": "q"}, 400)
        if len(q) > gazetteer.MAX_QUERY_CHARS:
            return Response(
                {"error": f"q: at most {gazetteer.MAX_QUERY_CHARS} characters", "field": "q"}, 400
            )
        kinds = tuple(k for k in request.query_params.get("kind", "").split(",") if k)
        unknown = [k for k in kinds if k not in gazetteer.KINDS]
        if unknown:
            return Response(
                {"error": f"kind: {unknown[0]!r} is not one of {', '.join(gazetteer.KINDS)}",
                 "field": "kind"}, 400,
            )  # fmt: skip
        found = gazetteer.for_city(self.get_object()).search(q, limit=10, kinds=kinds or None)
        return Response({"query": q, "results": [p.as_json() for p in found]})

    @extend_schema(request=s.PopulationSerializer, responses={200: dict})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAdminUser])
    def population(self, request, pk=None):
        """Calibrate residents/jobs: a city total, a census layer, or back to default rates."""
        form = s.PopulationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(
            population.set_population(self.get_object(), form.validated_data, request.user)
        )

    @extend_schema(request=s.HeightRasterSerializer, responses={200: dict})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAdminUser])
    def heights(self, request, pk=None):
        """Heights from an imported height raster (nDSM or DSM) over each footprint."""
        form = s.HeightRasterSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        raster = (
            services.visible_to(RasterLayer.objects.all(), request.user)
            .filter(slug=data["raster"])
            .first()
        )
        if raster is None:
            raise ImportRejected("raster", f"no raster {data['raster']!r}", status=404)
        return Response(
            population.apply_height_raster(
                self.get_object(), raster, data["statistic"], data["kind"]
            )
        )


class BuildingFilter(filters.FilterSet):
    height_min = filters.NumberFilter(field_name="height_m", lookup_expr="gte")
    height_max = filters.NumberFilter(field_name="height_m", lookup_expr="lte")

    class Meta:
        model = Building
        fields = ["city", "use", "height_source", "building_type", "osm_id", "external_id"]


class BuildingViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Building.objects.order_by("id")
    serializer_class = s.BuildingSerializer
    filter_backends = GEO_BACKENDS
    filterset_class = BuildingFilter
    bbox_filter_field = "footprint"
    bbox_filter_include_overlapping = True
    ordering_fields = ["id", "height_m", "floor_area_m2", "residents", "workers"]


class RoadNodeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RoadNode.objects.order_by("id")
    serializer_class = s.RoadNodeSerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "osm_id", "in_largest_scc"]
    bbox_filter_field = "geom"
    ordering_fields = ["id", "osm_id"]


class RoadEdgeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RoadEdge.objects.select_related("u", "v").order_by("id")
    serializer_class = s.RoadEdgeSerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "highway", "oneway", "lanes", "in_largest_scc"]
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True
    ordering_fields = ["id", "length_m", "capacity_veh_h", "speed_kph"]


class UtilityNodeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = UtilityNode.objects.order_by("id")
    serializer_class = s.UtilityNodeSerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "network", "kind"]
    bbox_filter_field = "geom"
    ordering_fields = ["id"]


class UtilityLinkViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = UtilityLink.objects.order_by("id")
    serializer_class = s.UtilityLinkSerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "network", "kind", "substance"]
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True
    ordering_fields = ["id", "length_m"]


class FacilityViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Facility.objects.order_by("id")
    serializer_class = s.FacilitySerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "kind"]
    bbox_filter_field = "geom"
    ordering_fields = ["id", "capacity"]


class AreaViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AreaFeature.objects.order_by("id")
    serializer_class = s.AreaSerializer
    filter_backends = GEO_BACKENDS
    filterset_fields = ["city", "kind", "subtype"]
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True
    ordering_fields = ["id"]


class IsOwnerOrReadOnly(permissions.BasePermission):
    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.is_staff or obj.owner_id == request.user.id


class LayerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.LayerSerializer
    pagination_class = PlainPagination
    lookup_field = "slug"
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["city", "visibility"]

    def get_queryset(self):
        return services.visible_to(Layer.objects.select_related("owner"), self.request.user)

    @extend_schema(responses=s.FeatureSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=s.FeatureSerializer)
    def features(self, request, slug=None):
        """Features as GeoJSON; ``bbox``, and ``property.NAME=VALUE`` attribute filters."""
        layer = self.get_object()
        queryset = layer.features.order_by("fid")
        queryset = BBoxFilter().filter_queryset(request, queryset, _BBoxView)
        for key, value in request.query_params.items():
            if key.startswith("property."):
                name = key.removeprefix("property.")
                if name not in layer.attribute_schema:
                    raise ValidationError({key: f"the layer has no attribute {name!r}"})
                kind = layer.attribute_schema[name]
                if kind in ("integer", "number"):
                    try:
                        queryset = queryset.filter(**{f"properties__{name}": float(value)})
                    except ValueError as exc:
                        raise ValidationError(
                            {key: f"{name} is numeric; {value!r} is not a number"}
                        ) from exc
                else:
                    queryset = queryset.filter(**{f"properties__{name}": value})
        paginator = GeoJsonPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(s.FeatureSerializer(page, many=True).data)


class _BBoxView:
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True


class RasterLayerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.RasterLayerSerializer
    pagination_class = PlainPagination
    lookup_field = "slug"
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["city"]

    def get_queryset(self):
        return services.visible_to(RasterLayer.objects.all(), self.request.user)

    @action(detail=True, methods=["get"])
    def download(self, request, slug=None):
        raster = self.get_object()
        path = Path(settings.MEDIA_ROOT) / raster.file_path
        if not path.is_file():
            raise Http404("raster file missing")
        return FileResponse(
            open(path, "rb"),
            as_attachment=True,
            filename=f"{raster.slug}.tif",
            content_type="image/tiff; application=geotiff; profile=cloud-optimized",
        )


class ImportViewSet(viewsets.GenericViewSet):
    """Upload a file; the import runs as a background job (poll /api/jobs/<id>/)."""

    serializer_class = s.UploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=s.UploadSerializer, responses={202: s.JobSerializer})
    def create(self, request):
        form = s.UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        upload = data.pop("file")
        job = services.start_upload_import(upload, data, request.user)
        return Response(
            s.JobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/jobs/{job.id}/"},
        )


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Your background jobs (imports, runs): status, progress, report; POST .../cancel/."""

    serializer_class = s.JobSerializer
    pagination_class = PlainPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_fields = ["kind", "status"]

    def get_queryset(self):
        user = self.request.user
        queryset = Job.objects.all()
        if user.is_authenticated and user.is_staff:
            return queryset
        if user.is_authenticated:
            return queryset.filter(owner=user)
        return queryset.none()

    @extend_schema(request=None, responses=s.JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a queued or running job of yours (an import, a run): it stops at its next
        progress report and nothing of it is kept. A finished job is left as it is."""
        job = self.get_object()
        job.cancel("cancelled by the user", field=kind_of(job.kind).field)
        job.refresh_from_db()
        return Response(s.JobSerializer(job).data)
