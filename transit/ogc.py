"""Stops and lines of the transit feeds as OGC API - Features collections.

``transit-stops`` and ``transit-lines`` (one feature per route, its patterns' lines), with
the rows of the feeds the user may see (public feeds, and the user's own private ones): the
same rule as the vector tiles (``/tiles/transit-stops/...``, ``/tiles/transit-lines/...``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from layers.services import visible_to
from ogc.registry import Collection, Property, model_properties, register

from .models import Feed, Route, Stop


def visible_feeds(user: Any) -> QuerySet:
    return visible_to(Feed.objects.all(), user)


STOPS = register(
    Collection(
        listed_when_empty=False,
        id="transit-stops",
        title="Transit stops",
        description="Stops and stations of the city's transit feeds (GTFS and OSM lines)",
        rows=lambda user: Stop.objects.filter(feed__in=visible_feeds(user)),
        geometry_field="geom",
        properties=(
            *model_properties(
                Stop,
                ["feed", "stop_id", "code", "name", "location_type", "served", "outside_city_km"],
            ),
            Property("city", "integer", "feed__city_id", title="city"),
        ),
        geometry_type="Point",
        keywords=("transit", "GTFS"),
    )
)

LINES = register(
    Collection(
        listed_when_empty=False,
        id="transit-lines",
        title="Transit lines",
        description="Routes of the city's transit feeds, drawn along their shapes",
        rows=lambda user: Route.objects.filter(feed__in=visible_feeds(user), geom__isnull=False),
        geometry_field="geom",
        properties=(
            *model_properties(
                Route,
                ["feed", "route_id", "short_name", "long_name", "route_type", "mode", "color"],
            ),
            Property("city", "integer", "feed__city_id", title="city"),
        ),
        geometry_type="MultiLineString",
        keywords=("transit", "GTFS"),
    )
)
