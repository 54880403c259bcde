"""Tying sensors to the twin: link a Thing, FeatureOfInterest or Datastream to the road edge,
building or utility node it measures, by id or by the nearest feature to its position.

The position is the FeatureOfInterest's geometry, the Thing's newest Location, or for a
Datastream its Thing's (else the centre of its observed area). Nearest = PostGIS KNN
(``<->`` on the GiST index) among the features of the Thing's city (all cities when unset),
kept only within ``max_distance_m`` metres (geodesic), so a sensor is never tied to a road
across town.
"""

from __future__ import annotations

from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.contrib.gis.geos import GEOSGeometry
from django.db.models import Model

from layers.models import Building, RoadEdge, UtilityNode

from .models import Datastream, FeatureOfInterest, Location, Thing

#: kind -> (model, geometry field, the link field it sets)
TARGETS = {
    "road_edge": (RoadEdge, "geom", "road_edge"),
    "building": (Building, "footprint", "building"),
    "utility_node": (UtilityNode, "geom", "utility_ref"),
}


class LinkError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def position(obj: Thing | FeatureOfInterest | Datastream) -> GEOSGeometry | None:
    """Where the sensor is (EPSG:4326 point or geometry), or None when it has no position."""
    if isinstance(obj, FeatureOfInterest):
        return obj.geom
    if isinstance(obj, Datastream):
        pos = position(obj.thing)
        if pos is None and obj.observed_area is not None:
            pos = obj.observed_area.centroid
        return pos
    loc = Location.objects.filter(things=obj, geom__isnull=False).order_by("-pk").first()
    return loc.geom if loc is not None else None


def _city_id(obj) -> int | None:
    if isinstance(obj, Thing):
        return obj.city_id
    if isinstance(obj, Datastream):
        return obj.thing.city_id
    return None


def nearest(kind: str, point: GEOSGeometry, city_id: int | None, max_distance_m: float):
    """The nearest feature of ``kind`` within ``max_distance_m`` of ``point`` and its distance
    in metres, or (None, None)."""
    if kind not in TARGETS:
        raise LinkError("kind", f"kind: expected one of {', '.join(TARGETS)}")
    model, geo_field, _ = TARGETS[kind]
    qs = model.objects.all()
    if city_id is not None:
        qs = qs.filter(city_id=city_id)
    found = (
        qs.annotate(knn=GeometryDistance(geo_field, point))
        .order_by("knn")
        .annotate(distance=Distance(geo_field, point))  # metres (geodesic on EPSG:4326)
        .first()
    )
    if found is None or found.distance.m > max_distance_m:
        return None, None
    return found, found.distance.m


def link(obj: Model, kind: str, target_id: int | None = None, max_distance_m: float = 50.0):
    """Link ``obj`` to a twin feature: by ``target_id``, else the nearest one; saves ``obj``.
    Returns (feature, distance_m or None when linked by id); raises LinkError naming the
    field when nothing fits."""
    if kind not in TARGETS:
        raise LinkError("kind", f"kind: expected one of {', '.join(TARGETS)}")
    model, _, field = TARGETS[kind]
    distance = None
    if target_id is not None:
        feature = model.objects.filter(pk=target_id).first()
        if feature is None:
            raise LinkError("target_id", f"target_id: no {kind} {target_id}")
    else:
        point = position(obj)
        if point is None:
            raise LinkError("position", "position: the sensor has no location to link by")
        feature, distance = nearest(kind, point, _city_id(obj), max_distance_m)
        if feature is None:
            raise LinkError(
                "max_distance_m", f"no {kind} within {max_distance_m:g} m of the sensor"
            )
    if field == "utility_ref":
        obj.utility_ref = f"node:{feature.pk}"
    else:
        setattr(obj, field, feature)
    obj.save(update_fields=[field])
    return feature, distance
