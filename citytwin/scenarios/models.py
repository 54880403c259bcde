"""Scenarios (typed edits on the base twin), runs of the simulators, and their results.

The base tables in ``layers`` are never changed by a scenario: the edits are applied on the fly
when a run builds its engine inputs (:mod:`citytwin.scenarios.inputs`). A run's results live in
their own tables, tied to the run, so that two runs can be served and compared like any layer.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models.signals import post_delete
from django.dispatch import receiver

from jobs.models import Job
from layers.models import Building, City, RoadEdge


class Scenario(models.Model):
    """An ordered, versioned list of edits on one city; the baseline has none."""

    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    is_baseline = models.BooleanField(default=False, help_text="the city as imported; read-only")
    edits = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=0, help_text="+1 on every change of the edits")
    cloned_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    public = models.BooleanField(
        default=False, help_text="readable by everyone, signed in or not (never editable by them)"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["city_id", "-is_baseline", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["city"],
                condition=models.Q(is_baseline=True),
                name="one_baseline_per_city",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city_id}, v{self.version})"


class ScenarioShare(models.Model):
    """A scenario shared by its owner with a named user, to read (and run) or also to edit."""

    class Access(models.TextChoices):
        READ = "read", "may look and run"
        EDIT = "edit", "may also change the edits"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scenario_shares"
    )
    access = models.CharField(max_length=4, choices=Access.choices, default=Access.READ)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scenario", "user"], name="one_share_per_user")
        ]


def run_files_dir(run_id) -> Path:
    """The folder of a run's files (rasters) under MEDIA_ROOT; the one place that names it."""
    return Path(settings.MEDIA_ROOT) / "runs" / str(run_id)


class Run(models.Model):
    """One simulator on one scenario version; its status and progress live in ``job``."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="run")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="runs")
    scenario_version = models.PositiveIntegerField()
    edits = models.JSONField(default=list, help_text="the edits as they were when the run started")
    # a name in the simulator registry (capabilities), checked when a run starts
    simulator = models.CharField(max_length=32)
    params = models.JSONField(default=dict, help_text="parameters with defaults filled in")
    engine_version = models.CharField(max_length=40)
    input_checksum = models.CharField(max_length=64, db_index=True)
    kpis = models.JSONField(default=dict, blank=True)
    meta = models.JSONField(default=dict, blank=True, help_text="e.g. raster grid, series step")
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"code": "no_trips", "message": "words with numbers and units"}]: inputs '
        "empty or implausible; the run succeeded, but its result needs reading with care",
    )

    class Meta:
        ordering = ["-job__created_at"]

    def __str__(self) -> str:
        return f"{self.simulator} run {self.job_id} on {self.scenario}"


class EdgeResult(models.Model):
    """Per road edge results of a traffic or evacuation run (an added road has no ``edge``)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="edge_results")
    edge = models.ForeignKey(RoadEdge, null=True, blank=True, on_delete=models.CASCADE)
    geom = models.LineStringField(srid=4326)
    highway = models.CharField(max_length=40, blank=True, default="")
    closed = models.BooleanField(default=False)
    # traffic
    volume_veh_h = models.FloatField(null=True)
    capacity_veh_h = models.FloatField(null=True)
    vc_ratio = models.FloatField(null=True)
    speed_kph = models.FloatField(null=True, help_text="congested speed")
    congested_time_s = models.FloatField(null=True)
    delay_s = models.FloatField(null=True, help_text="congested minus free-flow time per vehicle")
    # evacuation
    max_queue_veh = models.FloatField(null=True)
    queue_duration_s = models.FloatField(null=True)
    occupancy_veh = ArrayField(
        models.IntegerField(),
        null=True,
        help_text="cars on the edge every run.meta['series_step_s'] seconds (replay)",
    )

    class Meta:
        indexes = [models.Index(fields=["run", "edge"])]


class BuildingResult(models.Model):
    """Per building results of a solar or evacuation run (an added building has no ``building``)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="building_results")
    building = models.ForeignKey(Building, null=True, blank=True, on_delete=models.CASCADE)
    geom = models.MultiPolygonField(srid=4326)
    height_m = models.FloatField()
    added = models.BooleanField(default=False, help_text="added by the scenario")
    # solar
    sun_hours = models.FloatField(null=True, help_text="mean over the roof, hours in the period")
    pv_kwh_year = models.FloatField(null=True)
    # evacuation
    residents = models.FloatField(null=True)
    evacuees = models.FloatField(null=True)
    evacuation_time_s = models.FloatField(null=True, help_text="last of its people out")
    # transit
    transit_people_reachable = models.FloatField(
        null=True, help_text="residents reachable by transit within the run's threshold"
    )
    transit_jobs_reachable = models.FloatField(
        null=True, help_text="jobs reachable by transit within the run's threshold"
    )

    class Meta:
        indexes = [models.Index(fields=["run", "building"])]


class RunRaster(models.Model):
    """A raster result (COG under MEDIA_ROOT), e.g. sun hours or the shadow mask at a time."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="rasters")
    name = models.CharField(max_length=60, help_text="sun_hours, shadow_0930, ...")
    time = models.DateTimeField(null=True, blank=True, help_text="instant of a shadow mask")
    file_path = models.CharField(max_length=500, help_text="relative to MEDIA_ROOT")
    unit = models.CharField(max_length=20, blank=True, default="")
    min_value = models.FloatField(default=0.0)
    max_value = models.FloatField(default=1.0)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="one_raster_name")]


class RunSeries(models.Model):
    """A time series of a run: evacuation curve, a shelter's load, ..."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="series")
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=20, blank=True, default="")
    t_s = ArrayField(models.FloatField(), help_text="seconds from the start")
    values = ArrayField(models.FloatField(null=True))
    capacity = models.FloatField(null=True, blank=True, help_text="e.g. a shelter's capacity")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="one_series_name")]


@receiver(post_delete, sender=Run)
def _delete_run_job_and_files(sender, instance: Run, **kwargs) -> None:
    """A deleted run (e.g. with its scenario) takes its job row and raster files along."""
    import shutil

    Job.objects.filter(pk=instance.job_id).delete()
    shutil.rmtree(run_files_dir(instance.job_id), ignore_errors=True)
