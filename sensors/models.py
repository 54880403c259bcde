"""OGC SensorThings API v1.1 entities, stored in PostGIS (see docs/sensors.md).

The entity names and fields follow the standard (OGC 18-088): a *Thing* (a device or station)
has *Locations* (and their history), *Datastreams* each measuring one *ObservedProperty* with one
*Sensor*, and *Observations* of a *FeatureOfInterest*. Geometries are EPSG:4326; each
geometry keeps the GeoJSON the client sent (``*_geojson``) beside the PostGIS column used for
spatial filters.

What CityTwin adds: the twin link (road edge, building, utility node or link, area) on Things,
Features of interest and Datastreams, owner + visibility and retention per Datastream, the latest
value of each Datastream kept by ``sensors.ingest.store_observations`` (so "latest" never scans
history), dead letters and hourly/daily aggregates.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import DateTimeRangeField
from django.contrib.postgres.indexes import BrinIndex
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

#: observation types of O&M (the SensorThings v1.1 list, Table 11)
OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
OBSERVATION_TYPES = {
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation": "category",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation": "count",
    OM_MEASUREMENT: "measurement",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation": "any",
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation": "truth",
}
GEOJSON = "application/geo+json"
#: encodingType values accepted for Locations and FeaturesOfInterest (1.0 used vnd.geo+json)
GEO_ENCODINGS = (GEOJSON, "application/vnd.geo+json")


class Owned(models.Model):
    """Who created the entity: they (and staff) may change or delete it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class Visibility(models.TextChoices):
    PUBLIC = "public", "public: anyone may read"
    PRIVATE = "private", "private: only the owner and staff may read"


class TwinLink(models.Model):
    """Where a sensor sits in the twin: a road edge (counters, speeds), a building (meters,
    occupancy), a utility node or link (``"node:<id>"`` / ``"link:<id>"``: pressure, flow) or an
    area (air quality). Set by id or by the nearest feature (``sensors.twin``)."""

    road_edge = models.ForeignKey(
        "layers.RoadEdge", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    building = models.ForeignKey(
        "layers.Building", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    utility_ref = models.CharField(
        max_length=40, blank=True, default="", help_text='"node:<UtilityNode id>" or "link:<id>"'
    )
    area = models.GeometryField(srid=4326, null=True, blank=True)

    class Meta:
        abstract = True


class Thing(TwinLink, Owned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    properties = models.JSONField(null=True, blank=True)
    city = models.ForeignKey(
        "layers.City", null=True, blank=True, on_delete=models.SET_NULL, related_name="things"
    )
    locations = models.ManyToManyField("Location", related_name="things", blank=True)

    def __str__(self) -> str:
        return self.name


class Location(Owned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    encoding_type = models.CharField(max_length=100, default=GEOJSON)
    location = models.JSONField(help_text="the GeoJSON as sent (geometry or Feature)")
    geom = models.GeometryField(srid=4326, null=True, blank=True)
    properties = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class HistoricalLocation(Owned):
    time = models.DateTimeField()
    thing = models.ForeignKey(Thing, on_delete=models.CASCADE, related_name="historical_locations")
    locations = models.ManyToManyField(Location, related_name="historical_locations", blank=True)

    class Meta:
        indexes = [models.Index(fields=["thing", "time"])]


class Sensor(Owned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    encoding_type = models.CharField(max_length=100)
    metadata = models.TextField(help_text="a link or the description itself (e.g. SensorML)")
    properties = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ObservedProperty(Owned):
    name = models.CharField(max_length=200)
    definition = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    properties = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class FeatureOfInterest(TwinLink, Owned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    encoding_type = models.CharField(max_length=100, default=GEOJSON)
    feature = models.JSONField(help_text="the GeoJSON as sent (geometry or Feature)")
    geom = models.GeometryField(srid=4326, null=True, blank=True)
    properties = models.JSONField(null=True, blank=True)
    #: the Location this feature was generated from (SensorThings: an Observation without a
    #: FeatureOfInterest gets its Thing's Location as one); reused, never generated twice
    generated_from = models.OneToOneField(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="feature"
    )

    def __str__(self) -> str:
        return self.name


class Datastream(TwinLink):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    observation_type = models.CharField(max_length=200, default=OM_MEASUREMENT)
    unit_of_measurement = models.JSONField(
        default=dict, help_text="{name, symbol, definition} (all null for non-measurements)"
    )
    observed_area = models.GeometryField(srid=4326, null=True, blank=True)
    phenomenon_time_start = models.DateTimeField(null=True, blank=True)
    phenomenon_time_end = models.DateTimeField(null=True, blank=True)
    result_time_start = models.DateTimeField(null=True, blank=True)
    result_time_end = models.DateTimeField(null=True, blank=True)
    properties = models.JSONField(null=True, blank=True)
    thing = models.ForeignKey(Thing, on_delete=models.CASCADE, related_name="datastreams")
    sensor = models.ForeignKey(Sensor, on_delete=models.CASCADE, related_name="datastreams")
    observed_property = models.ForeignKey(
        ObservedProperty, on_delete=models.CASCADE, related_name="datastreams"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="datastreams",
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="observations older than this are deleted (null: kept)"
    )
    #: the newest observation's result and phenomenon time, kept by store_observations
    latest_value = models.JSONField(null=True, blank=True)
    latest_phenomenon_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["visibility", "owner"])]

    def __str__(self) -> str:
        return self.name


class Observation(models.Model):
    """One observation. The unique key (datastream, phenomenon time, sequence or -1) makes
    ingest idempotent: a redelivered message is stored once."""

    id = models.BigAutoField(primary_key=True)
    datastream = models.ForeignKey(
        Datastream, on_delete=models.CASCADE, related_name="observations"
    )
    phenomenon_time = models.DateTimeField(help_text="the instant, or the start of the interval")
    phenomenon_time_end = models.DateTimeField(null=True, blank=True)
    result_time = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True)
    result_quality = models.JSONField(null=True, blank=True)
    valid_time = DateTimeRangeField(null=True, blank=True)
    parameters = models.JSONField(null=True, blank=True)
    feature_of_interest = models.ForeignKey(
        FeatureOfInterest,
        null=True,
        blank=True,
        on_delete=models.CASCADE,  # SensorThings: deleting a feature deletes its observations
        related_name="observations",
    )
    sequence = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                F("datastream"),
                F("phenomenon_time"),
                Coalesce(F("sequence"), Value(-1)),
                name="sensors_observation_idempotency_key",
            )
        ]
        indexes = [
            # observations arrive in time order: a BRIN index is tiny and serves time ranges
            BrinIndex(fields=["phenomenon_time"], name="sensors_obs_time_brin"),
            models.Index(fields=["feature_of_interest"], name="sensors_obs_foi"),
        ]


class DeadLetter(models.Model):
    """A message that could not be stored, with the reason in words and the field at fault."""

    class Source(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        HTTP = "http", "HTTP ingest"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    topic = models.CharField(max_length=500, blank=True, default="", help_text="topic or path")
    payload = models.TextField(blank=True, default="")
    reason = models.TextField()
    field = models.CharField(max_length=100, blank=True, default="")
    datastream = models.ForeignKey(
        Datastream, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Aggregate(models.Model):
    """Hourly or daily count/mean/min/max of a datastream's numeric results."""

    class Period(models.TextChoices):
        HOUR = "hour", "hour"
        DAY = "day", "day"

    datastream = models.ForeignKey(Datastream, on_delete=models.CASCADE, related_name="aggregates")
    period = models.CharField(max_length=4, choices=Period.choices)
    start = models.DateTimeField()
    count = models.PositiveIntegerField()
    mean = models.FloatField(null=True)
    min = models.FloatField(null=True)
    max = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["datastream", "period", "start"], name="sensors_aggregate_unique"
            ),
            models.CheckConstraint(
                condition=Q(period__in=["hour", "day"]), name="sensors_aggregate_period"
            ),
        ]
