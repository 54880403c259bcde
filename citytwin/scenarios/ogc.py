"""Run results as OGC API - Features collections (``/ogc/collections/edge-results`` ...).

One collection per result table; ``run`` is a queryable (``?run=<uuid>`` or CQL2), so QGIS and
GDAL read one run's results, and the exports (GeoPackage, FlatGeobuf, CSV) come with it.
Rows follow the scenario's visibility (``services.scenarios_visible_to``): own, shared with
the user, public, and every baseline run.
"""

from __future__ import annotations

from ogc.registry import Collection, model_properties, register

from .models import BuildingResult, EdgeResult


def _visible(model):
    def rows(user):
        # the one visibility rule of scenarios (own, shared, public, baselines; staff all)
        from .services import scenarios_visible_to

        return model.objects.filter(run__scenario__in=scenarios_visible_to(user))

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
            description="Solar (roof sun hours, PV yield), evacuation (evacuation time) and "
            "transit (people and jobs reachable) results of the scenario runs; filter with "
            "run=<run id>.",
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
                    "transit_people_reachable",
                    "transit_jobs_reachable",
                ],
            ),  # fmt: skip
            geometry_type="MultiPolygon",
        )
    )
