"""A city's water networks (EPANET models) and the results of water runs.

Every element keeps WNTR's full record of it in ``record`` (SI units: m, m3/s, s); the columns
the twin reads, filters and edits (elevation, diameter, roughness, demand, levels, status,
settings) are typed fields, and win over the record when a network is rebuilt
(:func:`utilities.water.export.network_records`). Geometries are EPSG:4326; the file's own
coordinates come back through ``WaterNetwork.source_crs`` on export.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField

from citytwin.scenarios.models import Run
from layers.models import Building, City, Visibility


class WaterNetwork(models.Model):
    """One imported EPANET network of a city, with its options."""

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="water_networks")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="public")
    source_file = models.CharField(max_length=500, blank=True, default="")
    source_crs = models.CharField(max_length=500, help_text="CRS of the file's coordinates")
    flow_units = models.CharField(max_length=8, help_text="the file's [OPTIONS] UNITS, e.g. GPM")
    headloss = models.CharField(max_length=4, help_text="H-W, D-W or C-M")
    duration_s = models.FloatField()
    hydraulic_timestep_s = models.FloatField()
    pattern_timestep_s = models.FloatField()
    demand_model = models.CharField(max_length=4, default="DDA")
    options = models.JSONField(default=dict, help_text="WNTR's options record (SI)")
    controls = models.JSONField(default=list, blank=True, help_text="controls and rules")
    sources = models.JSONField(default=list, blank=True, help_text="water quality sources")
    extra = models.JSONField(default=dict, blank=True, help_text="the rest of WNTR's record")
    import_report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["city_id", "name"]

    def __str__(self) -> str:
        return self.name


class WaterPattern(models.Model):
    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="patterns")
    name = models.CharField(max_length=64)
    multipliers = ArrayField(models.FloatField())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="water_pattern_name")
        ]


class WaterCurve(models.Model):
    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="curves")
    name = models.CharField(max_length=64)
    curve_type = models.CharField(
        max_length=12, null=True, blank=True, help_text="HEAD, VOLUME, ..."
    )
    points = models.JSONField(help_text="[[x, y], ...] in SI units")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "name"], name="water_curve_name")]


class WaterNode(models.Model):
    class Kind(models.TextChoices):
        JUNCTION = "junction"
        RESERVOIR = "reservoir"
        TANK = "tank"

    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="nodes")
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64, help_text="the node's id in the file")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    geom = models.PointField(srid=4326)
    elevation_m = models.FloatField(null=True, help_text="junction/tank elevation; reservoir: none")
    base_demand_m3s = models.FloatField(null=True, help_text="junction: sum of its base demands")
    demand_pattern = models.CharField(max_length=64, null=True, blank=True)
    base_head_m = models.FloatField(null=True, help_text="reservoir head")
    head_pattern = models.CharField(max_length=64, null=True, blank=True)
    init_level_m = models.FloatField(null=True)
    min_level_m = models.FloatField(null=True)
    max_level_m = models.FloatField(null=True)
    tank_diameter_m = models.FloatField(null=True)
    record = models.JSONField(help_text="WNTR's record of the node (SI)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "name"], name="water_node_name")]
        indexes = [models.Index(fields=["network", "kind"])]


class WaterLink(models.Model):
    class Kind(models.TextChoices):
        PIPE = "pipe"
        PUMP = "pump"
        VALVE = "valve"

    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="links")
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64, help_text="the link's id in the file")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    start = models.ForeignKey(WaterNode, on_delete=models.CASCADE, related_name="+")
    end = models.ForeignKey(WaterNode, on_delete=models.CASCADE, related_name="+")
    geom = models.LineStringField(srid=4326)
    length_m = models.FloatField(null=True, help_text="pipe length as in the file")
    diameter_m = models.FloatField(null=True)
    roughness = models.FloatField(null=True, help_text="C (H-W), mm (D-W) or n (C-M)")
    minor_loss = models.FloatField(null=True)
    initial_status = models.CharField(
        max_length=8, null=True, blank=True, help_text="Open, Closed, CV"
    )
    check_valve = models.BooleanField(default=False)
    pump_type = models.CharField(max_length=8, null=True, blank=True, help_text="HEAD or POWER")
    pump_curve = models.CharField(max_length=64, null=True, blank=True)
    power_w = models.FloatField(null=True)
    valve_type = models.CharField(max_length=4, null=True, blank=True, help_text="PRV, PSV, ...")
    initial_setting = models.FloatField(null=True, help_text="valve setting (SI) or pump speed")
    record = models.JSONField(help_text="WNTR's record of the link (SI)")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "name"], name="water_link_name")]
        indexes = [models.Index(fields=["network", "kind"])]
        verbose_name = "water link"


class IsolationValve(models.Model):
    """An isolation (shut-off) valve on ``link`` next to ``node`` (WNTR's valve layer)."""

    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="valves")
    link = models.ForeignKey(WaterLink, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(WaterNode, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=20, default="strategic", help_text="strategic or imported")


class ServicePoint(models.Model):
    """A building's connection to a junction, with its water demand (extra demand pattern)."""

    network = models.ForeignKey(
        WaterNetwork, on_delete=models.CASCADE, related_name="service_points"
    )
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(WaterNode, on_delete=models.CASCADE, related_name="service_points")
    distance_m = models.FloatField(null=True, help_text="footprint to junction; null when mapped")
    method = models.CharField(max_length=10, help_text="nearest or mapping")
    people = models.FloatField(help_text="residents + workers of the building")
    demand_m3s = models.FloatField(help_text="mean demand from residents, jobs and use")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "building"], name="one_water_service_point")
        ]


class NodeResult(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="water_nodes")
    node = models.ForeignKey(WaterNode, null=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=80)
    geom = models.PointField(srid=4326)
    min_pressure_m = models.FloatField(null=True)
    mean_pressure_m = models.FloatField(null=True)
    hours_below_required_h = models.FloatField()
    hours_without_water_h = models.FloatField()
    status = models.CharField(max_length=14)
    demand_delivered_share = models.FloatField(null=True, help_text="delivered / expected")
    pressure_m = ArrayField(models.FloatField(null=True), help_text="per step")

    class Meta:
        indexes = [models.Index(fields=["run", "node"])]


class LinkResult(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="water_links")
    link = models.ForeignKey(WaterLink, null=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=6)
    geom = models.LineStringField(srid=4326)
    closed = models.BooleanField(default=False, help_text="closed by the scenario")
    max_abs_flow_m3s = models.FloatField(null=True)
    mean_flow_m3s = models.FloatField(null=True)
    max_velocity_ms = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["run", "link"])]


class BuildingService(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="water_buildings")
    building = models.ForeignKey(Building, on_delete=models.CASCADE)
    node = models.ForeignKey(WaterNode, null=True, on_delete=models.SET_NULL)
    geom = models.MultiPolygonField(srid=4326)
    status = models.CharField(max_length=14, help_text="served, partly_served or not_served")
    hours_below_required_h = models.FloatField()
    hours_without_water_h = models.FloatField()
    min_pressure_m = models.FloatField(null=True)
    people = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["run", "building"])]


class CriticalityRun(models.Model):
    """A single-pipe-break sweep of one network, fanned out on the workers in chunks."""

    network = models.ForeignKey(WaterNetwork, on_delete=models.CASCADE, related_name="sweeps")
    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="water_sweep")
    required_pressure_m = models.FloatField()
    minimum_pressure_m = models.FloatField(default=0.0)
    chunks = models.PositiveIntegerField()
    pipes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class PipeCriticality(models.Model):
    """One pipe out of a sweep: unique per (sweep, link), so a chunk done twice writes once."""

    sweep = models.ForeignKey(CriticalityRun, on_delete=models.CASCADE, related_name="results")
    link = models.ForeignKey(WaterLink, on_delete=models.CASCADE)
    people_without_water = models.FloatField()
    people_below_required = models.FloatField()
    nodes_without_water = models.PositiveIntegerField()
    error = models.TextField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sweep", "link"], name="one_result_per_pipe")
        ]
