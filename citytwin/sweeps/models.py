"""Sweeps: one base scenario, one simulator, many variants, one result per variant.

A :class:`Sweep` pins the base scenario's edits as they were when it started (``base_edits``)
and the simulator's parameters; a :class:`Variant` holds only its own edits and parameter
overrides on top of them (compact: a 1,000-variant sweep stores 1,000 small edit lists, not
1,000 copies of the base), its label in words, and the input checksum of base + variant (an
identical run or variant result is reused). A :class:`VariantResult` holds the KPIs of the
variant's run, its metric value and the difference from the base run; it is unique per
(sweep, variant), and written with ``ON CONFLICT DO NOTHING``, so a chunk of variants
delivered twice writes nothing twice. Status and progress live in the sweep's ``job``.
"""

from __future__ import annotations

from django.contrib.gis.db import models

from citytwin.scenarios.models import Run, Scenario
from jobs.models import Job


class Sweep(models.Model):
    """What-ifs on one base scenario: a generator of variants run with one simulator."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="sweeps")
    name = models.CharField(max_length=200)
    simulator = models.CharField(max_length=32, help_text="a name in the simulator registry")
    params = models.JSONField(default=dict, help_text="run parameters, defaults filled in")
    generator = models.JSONField(help_text='{"kind": <generator name>, ...its own fields}')
    base_edits = models.JSONField(default=list, help_text="the scenario's edits at the start")
    scenario_version = models.PositiveIntegerField()
    base_run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.OneToOneField(
        Job,
        on_delete=models.PROTECT,
        related_name="sweep",
        help_text="status and progress; a resume gives the sweep a new job",
    )
    variants_total = models.PositiveIntegerField(default=0)
    chunk_size = models.PositiveIntegerField(default=10, help_text="variants per Celery task")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sweep {self.pk} {self.name!r} ({self.simulator}, {self.variants_total} variants)"

    @property
    def owner(self):
        return self.scenario.owner


class Variant(models.Model):
    """One variant: its own edits and parameter overrides on top of the sweep's base."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="variants")
    index = models.PositiveIntegerField()
    label = models.CharField(max_length=300, help_text="what the variant changes, in words")
    edits = models.JSONField(default=list, help_text="validated edits added to the base's")
    params = models.JSONField(default=dict, help_text="parameters overriding the sweep's")
    feature_kind = models.CharField(
        max_length=20, blank=True, default="", help_text="road_edge, shelter, water_link, ..."
    )
    feature_ids = models.JSONField(default=list, blank=True)
    geom = models.GeometryField(srid=4326, null=True, blank=True, help_text="what it changes")
    input_checksum = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["sweep_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "index"], name="one_variant_per_index")
        ]


class VariantResult(models.Model):
    """The KPIs of one variant's run (once per sweep and variant)."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="results")
    variant = models.OneToOneField(Variant, on_delete=models.CASCADE, related_name="result")
    kpis = models.JSONField(default=dict)
    value = models.FloatField(null=True, help_text="the simulator's sweep metric, its unit")
    delta = models.FloatField(null=True, help_text="value minus the base run's, same unit")
    error = models.TextField(null=True, blank=True, help_text="why the variant has no result")
    warnings = models.JSONField(default=list, blank=True)
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="an identical earlier run whose KPIs were reused",
    )
    reused = models.BooleanField(default=False)
    geom = models.GeometryField(srid=4326, null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="", help_text="host/pid")
    seconds = models.FloatField(default=0.0, help_text="time to compute it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sweep", "variant"], name="one_result_per_variant")
        ]
