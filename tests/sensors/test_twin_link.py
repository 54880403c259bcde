"""Linking sensors to the twin by id and by the nearest feature (within a distance)."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon

from layers.models import Building, City, RoadEdge, RoadNode, UtilityNode
from sensors.twin import LinkError, link


@pytest.fixture
def town(db):
    city = City.objects.create(name="Linkton", local_epsg=32635)
    a = RoadNode.objects.create(city=city, osm_id=1, geom=Point(24.9400, 60.1700, srid=4326))
    b = RoadNode.objects.create(city=city, osm_id=2, geom=Point(24.9500, 60.1700, srid=4326))
    c = RoadNode.objects.create(city=city, osm_id=3, geom=Point(24.9400, 60.1800, srid=4326))
    common = dict(highway="primary", lanes=1, speed_kph=50, capacity_veh_h=900, oneway=True)
    east = RoadEdge.objects.create(
        city=city, u=a, v=b, geom=LineString(a.geom, b.geom), length_m=555, **common
    )
    north = RoadEdge.objects.create(
        city=city, u=a, v=c, geom=LineString(a.geom, c.geom), length_m=1113, **common
    )
    box = Polygon.from_bbox((24.9440, 60.1702, 24.9446, 60.1706))
    box.srid = 4326
    house = Building.objects.create(
        city=city, footprint=MultiPolygon(box, srid=4326), height_m=9, height_source="osm_height",
        footprint_area_m2=100, floor_area_m2=300,
    )  # fmt: skip
    valve = UtilityNode.objects.create(
        city=city, network="water", kind="valve", geom=Point(24.9443, 60.1701, srid=4326)
    )
    return city, east, north, house, valve


def test_nearest_features(town, datastream):
    city, east, north, house, valve = town
    thing = datastream.thing
    thing.city = city
    thing.save()
    thing.locations.update(geom=Point(24.9443, 60.17008, srid=4326))  # 9 m north of the east road
    feature, distance = link(thing, "road_edge")
    assert feature == east and 8 < distance < 10
    thing.refresh_from_db()
    assert thing.road_edge_id == east.pk
    assert link(datastream, "building")[0] == house
    assert link(datastream, "utility_node")[0] == valve
    datastream.refresh_from_db()
    assert datastream.utility_ref == f"node:{valve.pk}"
    # too far: nothing is linked, the error names the limit
    thing.locations.update(geom=Point(24.9443, 60.1760, srid=4326))
    with pytest.raises(LinkError) as err:
        link(thing, "road_edge", max_distance_m=50)
    assert err.value.field == "max_distance_m"


def test_link_by_id(town, datastream):
    _, _, north, _, _ = town
    feature, distance = link(datastream, "road_edge", target_id=north.pk)
    assert feature == north and distance is None
    with pytest.raises(LinkError) as err:
        link(datastream, "road_edge", target_id=10**9)
    assert err.value.field == "target_id"
    with pytest.raises(LinkError) as err:
        link(datastream, "river")
    assert err.value.field == "kind"
