"""Calibrated traffic demands and the anomalies the forecasts flag."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class CalibratedDemand(models.Model):
    """A peak-hour OD matrix estimated from a city's counters (a ``calibration`` run).

    Zones are road nodes (``layers.RoadNode`` ids, the graph node ids of the traffic model), so
    a later traffic run of the city maps them onto its own network; ``flow_veh_h`` is per pair.
    """

    city = models.ForeignKey("layers.City", on_delete=models.CASCADE, related_name="+")
    run = models.OneToOneField(
        "scenarios.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    hour_local = models.FloatField(help_text="local hour of the day the counts are from")
    origin_nodes = ArrayField(models.BigIntegerField())
    destination_nodes = ArrayField(models.BigIntegerField())
    flow_veh_h = ArrayField(models.FloatField())
    prior_total_veh_h = models.FloatField()
    total_veh_h = models.FloatField()
    counted_links = models.PositiveIntegerField()
    fit = models.JSONField(default=dict, help_text="fit before and after (GEH share, RMSE)")

    class Meta:
        indexes = [models.Index(fields=["city", "-created_at"], name="sensors_caldemand_latest")]


class Anomaly(models.Model):
    """An hourly value of a datastream outside its forecast band (kept by a beat task)."""

    datastream = models.ForeignKey(
        "sensors.Datastream", on_delete=models.CASCADE, related_name="anomalies"
    )
    start = models.DateTimeField(help_text="start of the hour")
    observed = models.FloatField()
    expected = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    flagged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["datastream", "start"], name="sensors_anomaly_once")
        ]
        ordering = ["datastream", "start"]
