"""The twin's data model.

Geometries are stored in EPSG:4326 (what every client and the tiles need); lengths and areas
are measured in the city's local metric CRS (the UTM zone of its centroid, ``City.local_epsg``)
at import time and stored in ``*_m`` / ``*_m2`` fields.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q


class City(models.Model):
    name = models.CharField(max_length=120, unique=True)
    boundary = models.MultiPolygonField(srid=4326, null=True, blank=True)
    local_epsg = models.PositiveIntegerField(help_text="local metric CRS: UTM zone of the centroid")
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="IANA time zone of the city (from its centroid): the clock of every time shown "
        "and of the hours modelled (solar day, peak hour, sensor profiles)",
    )
    source_file = models.CharField(max_length=500, blank=True, default="")
    source_sha256 = models.CharField(max_length=64, blank=True, default="")
    osm_timestamp = models.DateTimeField(null=True, blank=True, help_text="newest OSM object")
    imported_at = models.DateTimeField(null=True, blank=True)
    import_report = models.JSONField(default=dict, blank=True)
    population_source = models.CharField(
        max_length=16,
        default="default_rates",
        help_text="default_rates (floor area / documented rates), city_total or census",
    )
    population_reference = models.JSONField(
        default=dict, blank=True, help_text="the official figures given: total or census layer"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    class HeightSource(models.TextChoices):
        OSM_HEIGHT = "osm_height", "OSM height tag"
        OSM_LEVELS = "osm_levels", "OSM building:levels x storey height"
        TYPE_DEFAULT = "type_default", "default for the building type"
        IMPORTED = "imported", "imported attribute"
        RASTER = "raster", "height raster (nDSM/DSM) over the footprint"
        ESTIMATE = "estimate", "estimated from type, use, size and known heights nearby"

    class UseSource(models.TextChoices):
        OSM_TAG = "osm_tag", "OSM tags of the building"
        POI = "poi", "POIs inside or on the building"
        LANDUSE = "landuse", "land-use polygon it stands in"
        NEIGHBOURS = "neighbours", "uses of the tagged buildings nearby"
        SIZE = "size", "footprint size"
        DEFAULT = "default", "default (residential)"
        IMPORTED = "imported", "imported attribute"

    class Use(models.TextChoices):
        RESIDENTIAL = "residential"
        COMMERCIAL = "commercial"
        INDUSTRIAL = "industrial"
        PUBLIC = "public"
        OTHER = "other"

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="buildings")
    footprint = models.MultiPolygonField(srid=4326)
    height_m = models.FloatField()
    height_source = models.CharField(max_length=16, choices=HeightSource.choices)
    levels = models.PositiveSmallIntegerField(null=True, blank=True)
    use = models.CharField(max_length=16, choices=Use.choices, default=Use.OTHER)
    use_source = models.CharField(
        max_length=12, choices=UseSource.choices, default=UseSource.OSM_TAG
    )
    use_confidence = models.FloatField(default=1.0, help_text="0-1; 1 when tagged")
    building_type = models.CharField(
        max_length=60, blank=True, default="", help_text="OSM building=*"
    )
    name = models.CharField(max_length=200, blank=True, default="")
    footprint_area_m2 = models.FloatField()
    floor_area_m2 = models.FloatField()
    residents = models.FloatField(default=0.0)
    workers = models.FloatField(default=0.0)
    external_id = models.CharField(max_length=64, blank=True, default="", help_text="e.g. way/123")
    osm_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["city", "use"]), models.Index(fields=["external_id"])]


class RoadNode(models.Model):
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="road_nodes")
    osm_id = models.BigIntegerField()
    geom = models.PointField(srid=4326)
    in_largest_scc = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["city", "osm_id"], name="uniq_node_osm")]


class RoadEdge(models.Model):
    """A directed road link (OSMnx convention: a two-way street is two edges u->v, v->u)."""

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="road_edges")
    u = models.ForeignKey(RoadNode, on_delete=models.CASCADE, related_name="out_edges")
    v = models.ForeignKey(RoadNode, on_delete=models.CASCADE, related_name="in_edges")
    key = models.PositiveSmallIntegerField(default=0)
    geom = models.LineStringField(srid=4326)
    highway = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True, default="")
    lanes = models.PositiveSmallIntegerField(help_text="lanes in this direction")
    speed_kph = models.FloatField()
    capacity_veh_h = models.FloatField()
    oneway = models.BooleanField()
    length_m = models.FloatField()
    osm_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    speed_source = models.CharField(max_length=10, default="default", help_text="osm or default")
    lanes_source = models.CharField(max_length=10, default="default", help_text="osm or default")
    in_largest_scc = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["city", "u", "v", "key"], name="uniq_edge_uvk"),
            models.CheckConstraint(condition=Q(capacity_veh_h__gte=0), name="edge_cap_nonneg"),
        ]


class UtilityNode(models.Model):
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="utility_nodes")
    network = models.CharField(max_length=20, help_text="power, water, gas, pipeline, ...")
    kind = models.CharField(max_length=40, help_text="substation, transformer, tower, hydrant, ...")
    geom = models.PointField(srid=4326)
    name = models.CharField(max_length=200, blank=True, default="")
    osm_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)


class UtilityLink(models.Model):
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="utility_links")
    network = models.CharField(max_length=20)
    kind = models.CharField(max_length=40, help_text="line, minor_line, cable, pipeline, ...")
    substance = models.CharField(max_length=40, blank=True, default="")
    voltage = models.CharField(max_length=60, blank=True, default="")
    geom = models.LineStringField(srid=4326)
    length_m = models.FloatField(default=0.0)
    start_node = models.ForeignKey(
        UtilityNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_node = models.ForeignKey(
        UtilityNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    osm_id = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=dict, blank=True)


class AreaFeature(models.Model):
    """Water, parks and land use polygons: water features for utilities, and the basemap."""

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="areas")
    kind = models.CharField(max_length=20, help_text="water, park, landuse")
    subtype = models.CharField(max_length=60, blank=True, default="")
    name = models.CharField(max_length=200, blank=True, default="")
    geom = models.MultiPolygonField(srid=4326)
    osm_id = models.BigIntegerField(null=True, blank=True)


class Facility(models.Model):
    class Kind(models.TextChoices):
        HOSPITAL = "hospital"
        CLINIC = "clinic"
        SCHOOL = "school"
        KINDERGARTEN = "kindergarten"
        UNIVERSITY = "university"
        FIRE_STATION = "fire_station"
        POLICE = "police"
        SHELTER = "shelter"
        ASSEMBLY_POINT = "assembly_point"

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="facilities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, default="")
    geom = models.PointField(srid=4326)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    osm_id = models.BigIntegerField(null=True, blank=True)
    osm_type = models.CharField(max_length=10, blank=True, default="")
    tags = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "facilities"


class Visibility(models.TextChoices):
    PUBLIC = "public"
    PRIVATE = "private"


class Layer(models.Model):
    """A generic vector layer imported by a user."""

    city = models.ForeignKey(City, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="public")
    geometry_type = models.CharField(max_length=30, blank=True, default="")
    attribute_schema = models.JSONField(default=dict, blank=True, help_text="name -> type")
    source_file = models.CharField(max_length=500, blank=True, default="")
    source_crs = models.CharField(max_length=200, blank=True, default="")
    feature_count = models.PositiveIntegerField(default=0)
    extent = models.PolygonField(srid=4326, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]


class Feature(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="features")
    fid = models.PositiveIntegerField(help_text="row number in the source file (1-based)")
    geom = models.GeometryField(srid=4326)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["layer", "fid"])]


class RasterLayer(models.Model):
    """A GeoTIFF (DEM/DSM, results) stored as a Cloud-Optimized GeoTIFF file."""

    city = models.ForeignKey(City, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="public")
    file_path = models.CharField(max_length=500, help_text="COG, relative to MEDIA_ROOT")
    crs = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    band_count = models.PositiveSmallIntegerField()
    dtype = models.CharField(max_length=20)
    nodata = models.FloatField(null=True, blank=True)
    resolution = models.JSONField(default=list, help_text="[x, y] pixel size in CRS units")
    extent = models.PolygonField(srid=4326)
    statistics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class CityRole(models.Model):
    """A user's role in one city. Anyone signed in reads and keeps personal layers; an editor
    of a city may import into its base data (buildings, roads, utilities, OSM) and replace it;
    staff (``User.is_staff``) may do so in every city and create cities. Given with
    ``manage.py city_role`` or in the admin (see docs/operations.md)."""

    class Role(models.TextChoices):
        EDITOR = "editor", "editor: may import into and replace the city's base data"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="city_roles"
    )
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.EDITOR)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "city", "role"], name="one_role_per_city")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.city}"
