"""REST API of scenarios and runs (thin views; logic in services, results, capabilities)."""

from __future__ import annotations

import uuid

import django_filters
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from layers.api.pagination import PlainPagination
from layers.geo import BBoxError, parse_bbox
from layers.models import City

from . import capabilities, results, services
from . import edits as edit_registry
from .edits import validate_edits
from .models import Run, RunRaster, RunSeries, Scenario


class ScenarioSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    edits = serializers.JSONField(required=False)
    access = serializers.SerializerMethodField(
        help_text="what the asking user may do: owner, edit or read"
    )
    shares = serializers.SerializerMethodField(help_text="named users it is shared with (owner)")
    edit_labels = serializers.SerializerMethodField(
        help_text="each edit in words, with the names of what it touches"
    )

    class Meta:
        model = Scenario
        fields = [
            "id", "city", "name", "description", "owner", "is_baseline", "public", "access",
            "shares", "edits", "edit_labels", "version", "cloned_from", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = ["is_baseline", "version", "cloned_from", "created_at", "updated_at"]

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    def get_access(self, obj: Scenario) -> str:
        return services.access_of(obj, self._user())

    def get_edit_labels(self, obj: Scenario) -> list[str]:
        return [edit_registry.edit_type(e["type"]).describe(obj.city, e) for e in obj.edits]

    def get_shares(self, obj: Scenario) -> list[dict]:
        if self.get_access(obj) != "owner":
            return []
        return [
            {"user": s.user.username, "access": s.access}
            for s in obj.shares.select_related("user").order_by("user__username")
        ]

    def validate(self, attrs):
        if self.instance is not None and ("edits" in attrs or "city" in attrs):
            raise ValidationError(
                {"edits": "change edits with /edits/ (POST, PUT, DELETE); the city is fixed"}
            )
        if self.instance is None:
            attrs["edits"] = validate_edits(attrs["city"], attrs.get("edits", []))
        return attrs


class RunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="job_id", read_only=True)
    status = serializers.CharField(source="job.status", read_only=True)
    progress_percent = serializers.FloatField(source="job.progress_percent", read_only=True)
    stage = serializers.CharField(source="job.stage", read_only=True)
    error = serializers.JSONField(source="job.error", read_only=True)
    created_at = serializers.DateTimeField(source="job.created_at", read_only=True)
    started_at = serializers.DateTimeField(source="job.started_at", read_only=True)
    finished_at = serializers.DateTimeField(source="job.finished_at", read_only=True)
    seconds = serializers.FloatField(source="job.seconds", read_only=True)
    worker = serializers.CharField(source="job.worker", read_only=True)
    city = serializers.IntegerField(source="scenario.city_id", read_only=True)
    started_by = serializers.CharField(source="job.owner.username", read_only=True, default=None)

    class Meta:
        model = Run
        fields = [
            "id", "scenario", "scenario_version", "city", "simulator", "params", "status",
            "started_by",
            "progress_percent", "stage", "error", "created_at", "started_at", "finished_at",
            "seconds", "worker", "engine_version", "input_checksum", "kpis", "meta", "warnings",
        ]  # fmt: skip


class RunRequestSerializer(serializers.Serializer):
    simulator = serializers.ChoiceField(choices=capabilities.names())
    params = serializers.JSONField(required=False, default=dict)
    reuse = serializers.BooleanField(required=False, default=True)


def _edits_geojson(scenario: Scenario) -> dict:
    """The edits as features: the edit type's geometry, its other fields and a label."""
    features = []
    for index, edit in enumerate(scenario.edits):
        kind = edit_registry.edit_type(edit["type"])
        geometry = kind.geometry(edit)
        properties = {k: v for k, v in edit.items() if k not in kind.geometry_fields()}
        label = kind.describe(scenario.city, edit)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {"index": index, **properties, "label": label},
            }
        )
    return {"type": "FeatureCollection", "features": features}


class ScenarioViewSet(viewsets.ModelViewSet):
    """Scenarios: ordered, versioned edits on a city (see docs/scenarios.md)."""

    serializer_class = ScenarioSerializer
    pagination_class = PlainPagination
    filterset_fields = ["city", "is_baseline"]

    def get_queryset(self):
        return services.scenarios_visible_to(self.request.user).select_related("owner")

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

    def _own(self, scenario: Scenario, need: tuple[str, ...] = ("owner", "edit")) -> None:
        """Refuse a change the user may not make: the baseline is read-only; a scenario shared
        for reading (or public) can be looked at and run, not changed (403 in words)."""
        if scenario.is_baseline and self.action in ("destroy", "partial_update", "update"):
            raise ValidationError({"scenario": "the baseline is read-only; clone it"})
        if scenario.is_baseline:
            return
        access = services.access_of(scenario, self.request.user)
        if access not in need:
            owner = scenario.owner.username if scenario.owner else "nobody"
            raise PermissionDenied(
                f"this scenario is {owner}'s; you may {'read' if access == 'read' else access} "
                f"it, not {'share, rename or delete' if need == ('owner',) else 'change'} it"
            )

    def perform_update(self, serializer):
        self._own(serializer.instance, ("owner",))
        serializer.save()

    def perform_destroy(self, instance):
        self._own(instance, ("owner",))
        instance.delete()

    @extend_schema(
        methods=["POST"],
        request={
            "application/json": {
                "type": "object",
                "properties": {"user": {"type": "string"}, "access": {"enum": ["read", "edit"]}},
                "required": ["user"],
            }
        },
        description="Share the scenario with a named user (owner only); GET lists the shares.",
    )
    @action(detail=True, methods=["get", "post"])
    def shares(self, request, pk=None):
        scenario = self.get_object()
        if request.method == "POST":
            try:
                services.share(
                    scenario,
                    request.user,
                    str(request.data.get("user", "")),
                    str(request.data.get("access", "read")),
                )
            except services.ShareRejected as exc:
                return Response(
                    {"error": f"{exc.field}: {exc.message}", "field": exc.field}, status=exc.status
                )
        return Response(ScenarioSerializer(scenario, context={"request": request}).data["shares"])

    @action(detail=True, methods=["delete"], url_path=r"shares/(?P<username>[^/]+)")
    def unshare(self, request, pk=None, username=None):
        scenario = self.get_object()
        try:
            removed = services.unshare(scenario, request.user, username)
        except services.ShareRejected as exc:
            return Response(
                {"error": f"{exc.field}: {exc.message}", "field": exc.field}, status=exc.status
            )
        if not removed:
            raise NotFound(f"the scenario is not shared with {username!r}")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        copy = services.clone(self.get_object(), request.user, request.data.get("name"))
        return Response(
            ScenarioSerializer(copy, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        methods=["POST"],
        request={"application/json": edit_registry.union_schema()},
        description="Append one edit (types: GET /api/edit-types/).",
    )
    @extend_schema(
        methods=["PUT"],
        request={
            "application/json": {
                "type": "array",
                "items": edit_registry.union_schema(),
                "maxItems": edit_registry.MAX_EDITS_PER_SCENARIO,
            }
        },
        description="Replace the whole edit list atomically.",
    )
    @action(detail=True, methods=["post", "put"])
    def edits(self, request, pk=None):
        scenario = self.get_object()
        self._own(scenario)
        if request.method == "PUT":
            scenario = services.set_edits(scenario, request.data)
            return Response(ScenarioSerializer(scenario, context={"request": request}).data)
        scenario = services.append_edit(scenario, request.data)
        return Response(
            ScenarioSerializer(scenario, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["delete"], url_path=r"edits/(?P<index>\d+)")
    def remove_edit(self, request, pk=None, index=None):
        scenario = self.get_object()
        self._own(scenario)
        scenario = services.remove_edit(scenario, int(index))
        return Response(ScenarioSerializer(scenario, context={"request": request}).data)

    @action(detail=True, methods=["get"], url_path=r"edits\.geojson")
    def edits_geojson(self, request, pk=None):
        return Response(_edits_geojson(self.get_object()))

    @extend_schema(request=RunRequestSerializer, responses=RunSerializer)
    @action(detail=True, methods=["get", "post"])
    def runs(self, request, pk=None):
        scenario = self.get_object()
        if request.method == "GET":
            queryset = scenario.runs.select_related("job", "job__owner", "scenario")
            return Response(RunSerializer(queryset, many=True).data)
        if not request.user.is_authenticated:
            raise NotFound()
        body = RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        run, reused = services.start_run(
            scenario,
            body.validated_data["simulator"],
            body.validated_data["params"],
            request.user,
            reuse=body.validated_data["reuse"],
        )
        data = {**RunSerializer(run).data, "reused": reused}
        return Response(data, status=status.HTTP_200_OK if reused else status.HTTP_202_ACCEPTED)


@extend_schema(
    responses={200: dict},
    description="The registered edit types: each one's JSON Schema with physical bounds and "
    "units (the same schemas as the discriminated union of the edits endpoints).",
)
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def edit_types(request):
    return Response(
        {
            "edit_types": [
                {"type": kind.type, "label": kind.label, "schema": kind.schema()}
                for kind in edit_registry.all_edit_types()
            ],
            "max_edits_per_scenario": edit_registry.MAX_EDITS_PER_SCENARIO,
        }
    )


@extend_schema(
    responses={200: dict},
    description="The registered simulators: parameters as JSON Schema with units and "
    "defaults, key figures with units, result kinds (the web map builds its run form from it).",
)
@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def simulators(request):
    return Response({"simulators": [spec.describe() for spec in capabilities.all_simulators()]})


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
def city_baseline(request, pk: int):
    """The city's baseline scenario (created on first use)."""
    city = get_object_or_404(City, pk=pk)
    return Response(ScenarioSerializer(services.baseline_of(city)).data)


def _bbox(request):
    raw = request.query_params.get("bbox")
    if raw is None:
        return None
    try:
        return list(parse_bbox(raw))
    except BBoxError as exc:
        raise ValidationError({"bbox": str(exc)}) from exc


def _geojson_response(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="application/geo+json")


class RunFilter(django_filters.FilterSet):
    """``?simulator=``, ``?scenario=``, ``?city=`` (the runs of every scenario of a city the
    user may see: the page's table of several runs side by side)."""

    city = django_filters.NumberFilter(field_name="scenario__city")

    class Meta:
        model = Run
        fields = ["simulator", "scenario", "city"]


class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Simulation runs: status, progress, results, comparison (see docs/scenarios.md)."""

    serializer_class = RunSerializer
    pagination_class = PlainPagination
    filterset_class = RunFilter

    def get_queryset(self):
        scenarios = services.scenarios_visible_to(self.request.user)
        return Run.objects.filter(scenario__in=scenarios).select_related(
            "job", "job__owner", "scenario"
        )

    def _other(self, base_pk) -> Run:
        try:
            return self.get_queryset().get(pk=uuid.UUID(base_pk))
        except (ValueError, Run.DoesNotExist):
            raise NotFound(f"no run {base_pk}") from None

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        user = request.user
        if not user.is_authenticated:
            raise NotFound()
        if run.job.owner_id != user.id and not user.is_staff:
            raise PermissionDenied("only the user who started a run can cancel it")
        services.cancel_run(run)
        return Response(RunSerializer(run).data)

    @action(detail=True, methods=["get"])
    def edges(self, request, pk=None):
        return _geojson_response(results.geojson("edges", self.get_object(), bbox=_bbox(request)))

    @action(detail=True, methods=["get"])
    def buildings(self, request, pk=None):
        run = self.get_object()
        return _geojson_response(results.geojson("buildings", run, bbox=_bbox(request)))

    @action(detail=True, methods=["get"])
    def series(self, request, pk=None):
        rows = RunSeries.objects.filter(run=self.get_object())
        return Response(
            {
                r.name: {"t_s": r.t_s, "values": r.values, "unit": r.unit, "capacity": r.capacity}
                for r in rows
            }
        )

    @action(detail=True, methods=["get"])
    def rasters(self, request, pk=None):
        run = self.get_object()
        return Response(
            [
                {
                    "name": r.name,
                    "time": r.time,
                    "unit": r.unit,
                    "min": r.min_value,
                    "max": r.max_value,
                    "tiles": f"/tiles/runs/{run.pk}/rasters/{r.name}/{{z}}/{{x}}/{{y}}.png",
                }
                for r in RunRaster.objects.filter(run=run)
            ]
        )

    @action(detail=True, methods=["get"], url_path=r"compare/(?P<base_pk>[0-9a-f-]+)")
    def compare(self, request, pk=None, base_pk=None):
        run, base = self.get_object(), self._other(base_pk)
        results.check_comparable(run, base)
        return Response(
            {"run": str(run.pk), "base": str(base.pk), "kpis": results.kpi_deltas(run, base)}
        )

    @extend_schema(
        responses={(200, "application/pdf"): bytes},
        description="A printable report of the run (PDF): edits in words, key figures, a map "
        "and a distribution; against a baseline run with ?base=<run id>.",
    )
    @action(detail=True, methods=["get"], url_path=r"report\.pdf")
    def report(self, request, pk=None):
        from .report import run_report_pdf

        run = self.get_object()
        if run.job.status != "succeeded":
            raise ValidationError({"run": f"the run has not succeeded (it is {run.job.status})"})
        base = None
        if request.query_params.get("base"):
            base = self._other(request.query_params["base"])
            results.check_comparable(run, base)
        response = HttpResponse(run_report_pdf(run, base), content_type="application/pdf")
        name = f"citytwin-{run.simulator}-{str(run.pk)[:8]}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @action(
        detail=True,
        methods=["get"],
        url_path=r"compare/(?P<base_pk>[0-9a-f-]+)/(?P<kind>edges|buildings)",
    )
    def compare_layer(self, request, pk=None, base_pk=None, kind=None):
        run, base = self.get_object(), self._other(base_pk)
        results.check_comparable(run, base)
        return _geojson_response(results.geojson(kind, run, base, bbox=_bbox(request)))
