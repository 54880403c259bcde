"""Water networks and water run results as OGC API - Features collections."""

from __future__ import annotations

from django.db.models import Q

from ogc.registry import Collection, model_properties, register

from .models import BuildingService, LinkResult, NodeResult, WaterLink, WaterNode


def _network_rows(model):
    def rows(user):
        queryset = model.objects.all()
        if user is not None and user.is_authenticated:
            if user.is_staff:
                return queryset
            return queryset.filter(Q(network__visibility="public") | Q(network__owner=user))
        return queryset.filter(network__visibility="public")

    return rows


def _run_rows(model):
    def rows(user):
        # the one visibility rule of scenarios (own, shared, public, baselines; staff all)
        from citytwin.scenarios.services import scenarios_visible_to

        return model.objects.filter(run__scenario__in=scenarios_visible_to(user))

    return rows


def register_water_collections() -> None:
    register(
        Collection(
            listed_when_empty=False,
            id="water-nodes",
            title="Water network nodes",
            description="Junctions, reservoirs and tanks of the imported EPANET networks (SI).",
            rows=_network_rows(WaterNode),
            geometry_field="geom",
            properties=model_properties(
                WaterNode,
                [
                    "network",
                    "name",
                    "kind",
                    "elevation_m",
                    "base_demand_m3s",
                    "base_head_m",
                    "init_level_m",
                    "min_level_m",
                    "max_level_m",
                ],
            ),  # fmt: skip
            geometry_type="Point",
        )
    )
    register(
        Collection(
            listed_when_empty=False,
            id="water-links",
            title="Water network pipes, pumps and valves",
            description="Links of the imported EPANET networks (SI units).",
            rows=_network_rows(WaterLink),
            geometry_field="geom",
            properties=model_properties(
                WaterLink,
                [
                    "network",
                    "name",
                    "kind",
                    "length_m",
                    "diameter_m",
                    "roughness",
                    "minor_loss",
                    "initial_status",
                    "valve_type",
                    "initial_setting",
                ],
            ),  # fmt: skip
            geometry_type="LineString",
        )
    )
    register(
        Collection(
            listed_when_empty=False,
            id="water-node-results",
            title="Water run results per node",
            description="Pressures (m) and hours below the required pressure; filter run=<id>.",
            rows=_run_rows(NodeResult),
            geometry_field="geom",
            properties=model_properties(
                NodeResult,
                [
                    "run",
                    "name",
                    "min_pressure_m",
                    "mean_pressure_m",
                    "hours_below_required_h",
                    "hours_without_water_h",
                    "status",
                    "demand_delivered_share",
                ],
            ),  # fmt: skip
            geometry_type="Point",
        )
    )
    register(
        Collection(
            listed_when_empty=False,
            id="water-link-results",
            title="Water run results per pipe, pump and valve",
            description="Flows (m3/s) and velocities (m/s); filter run=<id>.",
            rows=_run_rows(LinkResult),
            geometry_field="geom",
            properties=model_properties(
                LinkResult,
                [
                    "run",
                    "name",
                    "kind",
                    "closed",
                    "max_abs_flow_m3s",
                    "mean_flow_m3s",
                    "max_velocity_ms",
                ],
            ),  # fmt: skip
            geometry_type="LineString",
        )
    )
    register(
        Collection(
            listed_when_empty=False,
            id="water-building-service",
            title="Water service per building",
            description="served / partly_served / not_served, hours without water and below "
            "the required pressure, people; filter run=<id>.",
            rows=_run_rows(BuildingService),
            geometry_field="geom",
            properties=model_properties(
                BuildingService,
                [
                    "run",
                    "building",
                    "status",
                    "hours_below_required_h",
                    "hours_without_water_h",
                    "min_pressure_m",
                    "people",
                ],
            ),  # fmt: skip
            geometry_type="MultiPolygon",
        )
    )
