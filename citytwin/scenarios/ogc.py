"""Run results as OGC API - Features collections (``/ogc/collections/edge-results`` ...).

One collection per result table; ``run`` is a queryable (``?run=<uuid>`` or CQL2), so QGIS and
GDAL read one run's results, and the exports (GeoPackage, FlatGeobuf, CSV) come with it.
Rows follow the scenario's visibility: the owner's runs, and every baseline run.
"""

from __future__ import annotations

from django.db.models import Q

from ogc.registry import Collection, model_properties, register

from .models import BuildingResult, EdgeResult


def _visible(model):
    def rows(user):
        queryset = model.objects.all()
        if user is not None and user.is_authenticated:
            if user.is_staff:
                return queryset
            return queryset.filter(
                Q(run__scenario__is_baseline=True) | Q(run__scenario__owner=user)
            )
        return queryset.filter(run__scenario__is_baseline=True)

    return rows


def register_result_collections() -> None:
    register(
        Collection(
            id="edge-results",
            title="Simulation results per road edge",
            description="Traffic (volume, v/c, speed, delay) and evacuation (queues) results "
            "of the scenario runs; filter with run=<run id>.",
            rows=_visible(EdgeResult),
            geometry_field="geom",
            properties=model_properties(
                EdgeResult,
                [
                    "run",
                    "edge",
                    "highway",
                    "closed",
                    "volume_veh_h",
                    "capacity_veh_h",
                    "vc_ratio",
                    "speed_kph",
                    "congested_time_s",
                    "delay_s",
                    "max_queue_veh",
                    "queue_duration_s",
                ],
            ),  # fmt: skip
            geometry_type="LineString",
        )
    )
    register(
        Collection(
            id="building-results",
            title="Simulation results per building",
            description="Solar (roof sun hours, PV yield) and evacuation (evacuation time) "
            "results of the scenario runs; filter with run=<run id>.",
            rows=_visible(BuildingResult),
            geometry_field="geom",
            properties=model_properties(
                BuildingResult,
                [
                    "run",
                    "building",
                    "added",
                    "height_m",
                    "sun_hours",
                    "pv_kwh_year",
                    "residents",
                    "evacuees",
                    "evacuation_time_s",
                ],
            ),  # fmt: skip
            geometry_type="MultiPolygon",
        )
    )
