"""A sweep's ranking as an OGC API - Features collection (``/ogc/collections/sweep-results``):
one feature per variant result, its geometry what the variant changes (closed links, shelter
sites, the pipe or line out); ``sweep`` is a queryable (``?sweep=<id>``), so QGIS and GDAL
read one sweep's results, and the exports (GeoPackage, FlatGeobuf, CSV) come with it. Rows
follow the base scenario's visibility (``scenarios_visible_to``)."""

from __future__ import annotations

from ogc.registry import Collection, Property, model_properties, register

from .models import VariantResult


def _rows(user):
    from citytwin.scenarios.services import scenarios_visible_to

    return VariantResult.objects.filter(
        sweep__scenario__in=scenarios_visible_to(user), geom__isnull=False
    )


def register_collections() -> None:
    register(
        Collection(
            id="sweep-results",
            title="What-if sweep results per variant",
            description="Each variant of a sweep: its label, the sweep metric (value, and delta "
            "from the base run in the metric's unit) and where it changes the city; filter "
            "with sweep=<sweep id>; the ranking itself is GET /api/sweeps/<id>/ranking/.",
            rows=_rows,
            geometry_field="geom",
            properties=(
                *model_properties(VariantResult, ["sweep", "value", "delta", "error", "reused"]),
                Property("variant", "integer", "variant__index", "Variant number in the sweep"),
                Property("label", "string", "variant__label", "What the variant changes"),
                Property("feature_kind", "string", "variant__feature_kind", "What it touches"),
            ),
            listed_when_empty=False,
        )
    )
