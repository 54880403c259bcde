"""The city's local time zone (IANA name), for reading counts and drawing series."""

from __future__ import annotations

import functools

from django.conf import settings


@functools.lru_cache(maxsize=256)
def _zone_at(lon: float, lat: float) -> str:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder().timezone_at(lng=lon, lat=lat) or settings.TIME_ZONE


def city_time_zone(city) -> str:
    """The city's IANA time zone (``City.time_zone``; else the zone at its centre); UTC if none."""
    if city is None:
        return "UTC"
    if getattr(city, "time_zone", ""):
        return city.time_zone
    centre = None
    if city.boundary is not None:
        centre = city.boundary.point_on_surface
    else:
        from layers.models import RoadNode

        node = RoadNode.objects.filter(city=city).only("geom").first()
        centre = node.geom if node is not None else None
    if centre is None:
        return "UTC"
    return _zone_at(round(centre.x, 3), round(centre.y, 3))


def datastream_time_zone(datastream) -> str:
    """The time zone of the city the datastream's Thing or road edge belongs to."""
    city = None
    if datastream.road_edge_id is not None:
        city = datastream.road_edge.city
    elif datastream.thing_id is not None and datastream.thing.city_id is not None:
        city = datastream.thing.city
    if city is None and datastream.thing_id is not None:
        loc = datastream.thing.locations.exclude(geom=None).first()
        if loc is not None:
            centre = loc.geom.point_on_surface
            return _zone_at(round(centre.x, 3), round(centre.y, 3))
    return city_time_zone(city)
