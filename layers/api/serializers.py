from __future__ import annotations

import json

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from jobs.models import Job

from ..importers.files import TARGETS
from ..models import (
    AreaFeature,
    Building,
    City,
    Facility,
    Feature,
    Layer,
    RasterLayer,
    RoadEdge,
    RoadNode,
    UtilityLink,
    UtilityNode,
)


class CitySerializer(GeoFeatureModelSerializer):
    class Meta:
        model = City
        geo_field = "boundary"
        fields = [
            "id",
            "name",
            "local_epsg",
            "time_zone",
            "source_file",
            "source_sha256",
            "osm_timestamp",
            "imported_at",
        ]


class CityDetailSerializer(CitySerializer):
    class Meta(CitySerializer.Meta):
        fields = [
            *CitySerializer.Meta.fields,
            "import_report",
            "population_source",
            "population_reference",
        ]


class BuildingSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Building
        geo_field = "footprint"
        exclude = ["tags"]


class RoadNodeSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = RoadNode
        geo_field = "geom"
        fields = "__all__"


class RoadEdgeSerializer(GeoFeatureModelSerializer):
    u_osm_id = serializers.IntegerField(source="u.osm_id", read_only=True)
    v_osm_id = serializers.IntegerField(source="v.osm_id", read_only=True)

    class Meta:
        model = RoadEdge
        geo_field = "geom"
        fields = "__all__"


class UtilityNodeSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = UtilityNode
        geo_field = "geom"
        fields = "__all__"


class UtilityLinkSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = UtilityLink
        geo_field = "geom"
        fields = "__all__"


class FacilitySerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Facility
        geo_field = "geom"
        fields = "__all__"


class AreaSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = AreaFeature
        geo_field = "geom"
        fields = "__all__"


class LayerSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    tiles = serializers.SerializerMethodField()

    class Meta:
        model = Layer
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "city",
            "owner",
            "visibility",
            "geometry_type",
            "attribute_schema",
            "source_file",
            "source_crs",
            "feature_count",
            "extent",
            "created_at",
            "tiles",
        ]
        read_only_fields = [f for f in fields if f not in ("name", "description", "visibility")]

    def get_tiles(self, obj: Layer) -> str:
        return f"/tiles/{obj.slug}/{{z}}/{{x}}/{{y}}.pbf"


class FeatureSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Feature
        geo_field = "geom"
        fields = ["id", "fid", "properties"]

    def get_properties(self, instance, fields):
        # flatten the JSONB properties into the GeoJSON properties, as GIS clients expect
        return {"fid": instance.fid, **(instance.properties or {})}


class RasterLayerSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()
    tiles = serializers.SerializerMethodField()

    class Meta:
        model = RasterLayer
        exclude = ["file_path"]

    def get_download(self, obj: RasterLayer) -> str:
        return f"/api/rasters/{obj.slug}/download/"

    def get_tiles(self, obj: RasterLayer) -> str:
        return f"/tiles/rasters/{obj.slug}/{{z}}/{{x}}/{{y}}.png"


class JobSerializer(serializers.ModelSerializer):
    seconds = serializers.FloatField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress_percent",
            "stage",
            "params",
            "report",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "seconds",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["params"] = {k: v for k, v in (data.get("params") or {}).items() if k != "path"}
        return data


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    target = serializers.CharField(
        default="layer",
        help_text=f"one of {sorted(TARGETS)} or a target of another app (water: EPANET .inp)",
    )
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    city = serializers.CharField(
        required=False, help_text="city name (needed for buildings/roads/utilities/osm)"
    )
    crs = serializers.CharField(
        required=False, help_text="CRS of a file that declares none, e.g. EPSG:3067"
    )
    visibility = serializers.ChoiceField(choices=["public", "private"], default="public")
    mapping = serializers.CharField(
        required=False,
        help_text='JSON object: twin field -> file attribute, e.g. {"height_m": "h", "use": "kaytto"}',
    )
    replace = serializers.BooleanField(required=False, default=False)
    valve_layer = serializers.CharField(
        required=False,
        help_text="water target: isolation valves: none, strategic (WNTR's N-1), all, or a "
        'JSON list of [link, node] pairs, e.g. [["P2", "J1"]]',
    )
    coordinates = serializers.ChoiceField(
        choices=["lonlat", "schematic", "generate"],
        required=False,
        help_text="power_grid: the geodata are lon/lat (or in crs), a schematic to place at the "
        "city, or missing (a layout of the topology is generated)",
    )
    tolerance_m = serializers.FloatField(
        required=False, help_text="power_grid: a building's service bus is at most this far (m)"
    )

    def validate_target(self, value: str) -> str:
        from layers.importers.files import all_targets

        if value not in all_targets():
            raise serializers.ValidationError(
                f"{value!r} is not a valid choice: choose one of {all_targets()}"
            )
        return value

    def validate_mapping(self, value: str) -> dict:
        try:
            mapping = json.loads(value) if value else {}
        except ValueError as exc:
            raise serializers.ValidationError(f"not valid JSON: {exc}") from exc
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise serializers.ValidationError("must be a JSON object of strings")
        return mapping

    def validate_crs(self, value: str) -> str:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(value)
        except CRSError as exc:
            raise serializers.ValidationError(f"unknown CRS {value!r}") from exc
        return value


class PopulationSerializer(serializers.Serializer):
    """One of: ``total`` (+ ``jobs``), ``census_layer`` + ``population_field`` (+ ``jobs_field``),
    or ``default_rates: true``."""

    total = serializers.FloatField(required=False, min_value=0, max_value=1e9)
    jobs = serializers.FloatField(required=False, min_value=0, max_value=1e9)
    census_layer = serializers.SlugField(required=False)
    population_field = serializers.CharField(required=False, max_length=200)
    jobs_field = serializers.CharField(required=False, max_length=200)
    default_rates = serializers.BooleanField(required=False)

    def validate(self, attrs):
        modes = [k for k in ("total", "census_layer", "default_rates") if attrs.get(k)]
        if "total" in attrs and "total" not in modes:
            modes.append("total")  # a total of 0 is a total
        if len(modes) != 1:
            raise serializers.ValidationError(
                {"total": "give exactly one of total, census_layer or default_rates"}
            )
        if modes[0] == "census_layer" and not attrs.get("population_field"):
            raise serializers.ValidationError(
                {"population_field": "name the census layer's population attribute"}
            )
        return attrs


class HeightRasterSerializer(serializers.Serializer):
    raster = serializers.SlugField(help_text="slug of an imported raster (GeoTIFF)")
    statistic = serializers.RegexField(
        r"^(median|max|p(100|[0-9]{1,2}))$", default="p90", help_text="median, max or pNN"
    )
    kind = serializers.ChoiceField(["ndsm", "dsm"], default="ndsm")
