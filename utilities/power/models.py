"""Power grids in the twin: what pandapower needs to rebuild a net exactly.

One :class:`Grid` per imported grid (per city; owner and visibility like ``layers.Layer``).
Each pandapower element table the twin works with has its own model (buses with a point,
lines with a line string, transformers, switches, loads, static generators, external grids):
the columns the twin reads are fields, every other column of the row is kept in ``extra``.
The grid keeps each table's column order and dtypes and the rest of the net (tables the twin
does not model: generators, shunts, cost functions, standard types, characteristics) as
pandapower JSON, so that :func:`utilities.power.convert.grid_to_net` rebuilds the same net.
Geometries are EPSG:4326 like every table of the twin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models

from layers.models import Building, City, Visibility


class Grid(models.Model):
    class Source(models.TextChoices):
        PANDAPOWER = "pandapower_json", "pandapower JSON file"
        OSM = "osm_coarse", "coarse topology built from OSM power lines and substations"

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="power_grids")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default="public")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.PANDAPOWER)
    source_file = models.CharField(max_length=500, blank=True, default="")
    f_hz = models.FloatField(default=50.0)
    sn_mva = models.FloatField(default=1.0)
    pandapower_version = models.CharField(max_length=20, blank=True, default="")
    format_version = models.CharField(max_length=20, blank=True, default="")
    tables = models.JSONField(
        default=dict, blank=True, help_text="per modelled table: column order and dtypes"
    )
    rest_json = models.TextField(
        blank=True, default="", help_text="the net without its modelled tables (pandapower JSON)"
    )
    import_report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["city_id", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.city_id})"


class Element(models.Model):
    """A row of a pandapower element table: its index in the net, name, service state."""

    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="+")
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="+")
    pp_index = models.BigIntegerField(help_text="index of the row in the pandapower table")
    name = models.CharField(max_length=200, blank=True, default="", null=True)
    in_service = models.BooleanField(default=True)
    extra = models.JSONField(default=dict, blank=True, help_text="the row's other columns")

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["grid", "pp_index"], name="%(class)s_one_index")
        ]
        ordering = ["grid_id", "pp_index"]


class Bus(Element):
    vn_kv = models.FloatField(help_text="rated voltage, kV")
    type = models.CharField(max_length=10, blank=True, default="b", null=True)
    zone = models.CharField(max_length=100, blank=True, default="", null=True)
    geom = models.PointField(srid=4326)

    class Meta(Element.Meta):
        verbose_name_plural = "buses"


class Line(Element):
    std_type = models.CharField(max_length=100, blank=True, default="", null=True)
    from_bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    to_bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    length_km = models.FloatField()
    r_ohm_per_km = models.FloatField()
    x_ohm_per_km = models.FloatField()
    c_nf_per_km = models.FloatField()
    g_us_per_km = models.FloatField(default=0.0)
    max_i_ka = models.FloatField(help_text="thermal limit, kA")
    df = models.FloatField(default=1.0)
    parallel = models.PositiveIntegerField(default=1)
    type = models.CharField(max_length=10, blank=True, default="", null=True)
    geom = models.LineStringField(srid=4326)


class Transformer(Element):
    std_type = models.CharField(max_length=100, blank=True, default="", null=True)
    hv_bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    lv_bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    sn_mva = models.FloatField()
    vn_hv_kv = models.FloatField()
    vn_lv_kv = models.FloatField()
    vk_percent = models.FloatField()
    vkr_percent = models.FloatField()
    pfe_kw = models.FloatField()
    i0_percent = models.FloatField()
    shift_degree = models.FloatField(default=0.0)
    tap_pos = models.FloatField(null=True)
    parallel = models.PositiveIntegerField(default=1)
    geom = models.PointField(srid=4326, help_text="at its low-voltage bus")


class Switch(Element):
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    element = models.BigIntegerField(help_text="pp_index of the bus, line or trafo switched")
    et = models.CharField(max_length=4, help_text="b (bus), l (line), t (trafo), t3")
    closed = models.BooleanField(default=True)
    type = models.CharField(max_length=10, blank=True, default="", null=True)
    z_ohm = models.FloatField(default=0.0)


class Load(Element):
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    p_mw = models.FloatField()
    q_mvar = models.FloatField(default=0.0)
    scaling = models.FloatField(default=1.0)
    type = models.CharField(max_length=20, blank=True, default="", null=True)


class StaticGenerator(Element):
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    p_mw = models.FloatField()
    q_mvar = models.FloatField(default=0.0)
    scaling = models.FloatField(default=1.0)
    type = models.CharField(max_length=20, blank=True, default="", null=True)


class ExternalGrid(Element):
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    vm_pu = models.FloatField(default=1.0)
    va_degree = models.FloatField(default=0.0)


class ServicePoint(models.Model):
    """A building's connection to the grid: the low-voltage bus (and load) that serves it."""

    class Source(models.TextChoices):
        NEAREST = "nearest", "nearest low-voltage bus within the tolerance"
        MAPPING = "mapping", "a mapping the user imported"

    grid = models.ForeignKey(Grid, on_delete=models.CASCADE, related_name="service_points")
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="+")
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    load = models.ForeignKey(
        Load, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    distance_m = models.FloatField(null=True, help_text="building to bus, metres")
    demand_kw = models.FloatField(help_text="peak demand from residents, jobs and use")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.NEAREST)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grid", "building"], name="one_power_service_point")
        ]


#: element tables of a net modelled by the twin: pandapower table -> model
ELEMENT_MODELS = {
    "bus": Bus,
    "line": Line,
    "trafo": Transformer,
    "switch": Switch,
    "load": Load,
    "sgen": StaticGenerator,
    "ext_grid": ExternalGrid,
}


# -- results of power-flow runs (tied to scenarios.Run) -----------------------------------------


class BusResult(models.Model):
    run = models.ForeignKey("scenarios.Run", on_delete=models.CASCADE, related_name="+")
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    geom = models.PointField(srid=4326)
    vn_kv = models.FloatField()
    supplied = models.BooleanField(help_text="connected to an external grid or generator")
    in_service = models.BooleanField(default=True)
    vm_pu = models.FloatField(null=True, help_text="voltage magnitude, per unit")
    va_degree = models.FloatField(null=True)
    p_mw = models.FloatField(null=True, help_text="net injection, MW")

    class Meta:
        indexes = [models.Index(fields=["run", "bus"])]


class LineResult(models.Model):
    run = models.ForeignKey("scenarios.Run", on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    geom = models.LineStringField(srid=4326)
    in_service = models.BooleanField()
    loading_percent = models.FloatField(null=True, help_text="current over thermal limit, %")
    i_ka = models.FloatField(null=True)
    p_from_mw = models.FloatField(null=True)
    pl_mw = models.FloatField(null=True, help_text="losses, MW")

    class Meta:
        indexes = [models.Index(fields=["run", "line"])]


class ServiceResult(models.Model):
    """A building's service in a run: served, or not (its bus cut off or out of service)."""

    run = models.ForeignKey("scenarios.Run", on_delete=models.CASCADE, related_name="+")
    building = models.ForeignKey(Building, on_delete=models.CASCADE, related_name="+")
    bus = models.ForeignKey(Bus, on_delete=models.CASCADE, related_name="+")
    geom = models.MultiPolygonField(srid=4326)
    served = models.BooleanField()
    people = models.FloatField(help_text="residents plus jobs")
    demand_kw = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["run", "building"])]


class LineCriticality(models.Model):
    """N-1 result of one line taken out (criticality runs); idempotent per (run, line)."""

    run = models.ForeignKey("scenarios.Run", on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(Line, on_delete=models.CASCADE, related_name="+")
    geom = models.LineStringField(srid=4326)
    buildings_without_service = models.IntegerField()
    people_without_service = models.FloatField()
    unsupplied_buses = models.IntegerField()
    max_loading_percent = models.FloatField(null=True, help_text="highest line loading after")
    min_vm_pu = models.FloatField(null=True, help_text="lowest bus voltage after")
    converged = models.BooleanField()
    rank = models.IntegerField(null=True, help_text="1 = most people without service")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "line"], name="one_n1_per_line")]
