"""Public transport of a city: GTFS feeds and OSM lines, in tables close to GTFS.

Times of day are seconds since the service day's midnight (GTFS "noon minus 12 h"), so a
trip running past midnight keeps counting (25:10:00 is 90,600 s). Geometries are EPSG:4326;
lengths are measured in the city's UTM zone at import (``*_m``).

A feed is owned and seen like an imported ``Layer``: public feeds are the city's transit
network (writing one needs an editor of the city), private ones only their owner's.
A ``Pattern`` is one ordered stop sequence of a route (what the transit engine calls a line):
from GTFS trips with the same stops, or from an OSM route relation (with default headway and
speed, marked as defaults).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField

from layers.models import City, Visibility


class Feed(models.Model):
    class Source(models.TextChoices):
        GTFS = "gtfs", "GTFS feed"
        OSM = "osm", "OpenStreetMap route relations (default headways and speeds)"

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="transit_feeds")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="public")
    source_file = models.CharField(max_length=500, blank=True, default="")
    source_sha256 = models.CharField(max_length=64, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="", help_text="agency_timezone")
    service_start = models.DateField(null=True, blank=True)
    service_end = models.DateField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="the import's validation report")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["city", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.source}, {self.city})"


class Agency(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="agencies")
    agency_id = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name_plural = "agencies"


class Route(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="routes")
    route_id = models.CharField(max_length=200)
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.SET_NULL)
    short_name = models.CharField(max_length=100, blank=True, default="")
    long_name = models.CharField(max_length=300, blank=True, default="")
    route_type = models.PositiveIntegerField(help_text="GTFS route_type (basic or extended)")
    mode = models.CharField(max_length=12, help_text="tram, bus, rail, metro, ferry, ...")
    color = models.CharField(max_length=6, blank=True, default="")
    text_color = models.CharField(max_length=6, blank=True, default="")
    geom = models.MultiLineStringField(srid=4326, null=True, blank=True, help_text="its patterns")
    osm_id = models.BigIntegerField(null=True, blank=True, help_text="OSM route relation")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "route_id"], name="transit_uniq_route")
        ]


class Stop(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="stops")
    stop_id = models.CharField(max_length=200)
    code = models.CharField(max_length=100, blank=True, default="")
    name = models.CharField(max_length=300, blank=True, default="")
    geom = models.PointField(srid=4326)
    location_type = models.PositiveSmallIntegerField(default=0)
    parent_station = models.CharField(max_length=200, blank=True, default="")
    served = models.BooleanField(default=True, help_text="false: no trip stops here (orphan)")
    outside_city_km = models.FloatField(
        null=True, blank=True, help_text="distance outside the city's boundary, km (null: inside)"
    )
    osm_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "stop_id"], name="transit_uniq_stop")
        ]


class Shape(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="shapes")
    shape_id = models.CharField(max_length=200)
    geom = models.LineStringField(srid=4326)
    length_m = models.FloatField()
    derived = models.BooleanField(
        default=False, help_text="true: not in the feed, drawn through the stops in order"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "shape_id"], name="transit_uniq_shape")
        ]


class Pattern(models.Model):
    """One ordered stop sequence of a route in one direction (a line of the transit engine)."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="patterns")
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="patterns")
    pattern_id = models.CharField(max_length=250)
    direction_id = models.SmallIntegerField(null=True, blank=True)
    headsign = models.CharField(max_length=300, blank=True, default="")
    stop_ids = ArrayField(models.CharField(max_length=200), help_text="GTFS stop ids in order")
    segment_m = ArrayField(models.FloatField(), help_text="length between stops, m")
    shape = models.ForeignKey(Shape, null=True, blank=True, on_delete=models.SET_NULL)
    geom = models.LineStringField(srid=4326)
    length_m = models.FloatField()
    trip_count = models.PositiveIntegerField(default=0)
    default_headway_s = models.FloatField(
        null=True, blank=True, help_text="OSM lines: documented default headway, s"
    )
    default_speed_kph = models.FloatField(
        null=True, blank=True, help_text="OSM lines: documented default speed, km/h"
    )
    defaults_source = models.CharField(
        max_length=300, blank=True, default="", help_text="where the defaults come from"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "pattern_id"], name="transit_uniq_pattern")
        ]

    @property
    def uses_defaults(self) -> bool:
        return self.default_headway_s is not None


class Trip(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="trips")
    trip_id = models.CharField(max_length=200)
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="trips")
    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="trips")
    service_id = models.CharField(max_length=200)
    headsign = models.CharField(max_length=300, blank=True, default="")
    direction_id = models.SmallIntegerField(null=True, blank=True)
    block_id = models.CharField(max_length=200, blank=True, default="")
    shape = models.ForeignKey(Shape, null=True, blank=True, on_delete=models.SET_NULL)
    start_s = models.IntegerField(help_text="first departure, s since service-day midnight")
    end_s = models.IntegerField(help_text="last arrival, s since service-day midnight")
    distance_m = models.FloatField(help_text="along the shape from first to last stop, m")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "trip_id"], name="transit_uniq_trip")
        ]
        indexes = [models.Index(fields=["feed", "service_id"])]

    @property
    def duration_s(self) -> int:
        return self.end_s - self.start_s


class StopTime(models.Model):
    id = models.BigAutoField(primary_key=True)
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="stop_times")
    stop = models.ForeignKey(Stop, on_delete=models.CASCADE, related_name="stop_times")
    stop_sequence = models.PositiveIntegerField()
    arrival_s = models.IntegerField(help_text="s since service-day midnight (may pass 86,400)")
    departure_s = models.IntegerField(help_text="s since service-day midnight (may pass 86,400)")
    interpolated = models.BooleanField(default=False, help_text="time not in the feed")
    shape_dist_m = models.FloatField(null=True, blank=True, help_text="along the shape, m")
    pickup_type = models.PositiveSmallIntegerField(default=0)
    drop_off_type = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trip", "stop_sequence"], name="transit_uniq_stoptime")
        ]


class Calendar(models.Model):
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendars")
    service_id = models.CharField(max_length=200)
    weekdays = ArrayField(models.BooleanField(), size=7, help_text="Monday .. Sunday")
    start_date = models.DateField()
    end_date = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "service_id"], name="transit_uniq_calendar")
        ]


class CalendarDate(models.Model):
    class Kind(models.IntegerChoices):
        ADDED = 1, "service added on this date"
        REMOVED = 2, "service removed on this date"

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="calendar_dates")
    service_id = models.CharField(max_length=200)
    date = models.DateField()
    exception_type = models.PositiveSmallIntegerField(choices=Kind.choices)


class Frequency(models.Model):
    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="frequencies")
    start_s = models.IntegerField()
    end_s = models.IntegerField()
    headway_s = models.PositiveIntegerField()
    exact_times = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "frequencies"
