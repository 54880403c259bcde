"""The service-point function water and power share (layers/service_points.py), on buildings
placed by hand in metres: nearest point to the footprint (not to its centre) within the
tolerance, a tie to the lower id, buildings beyond it left out; mappings naming the bad row."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from layers.geo import to_geos, to_multipolygon
from layers.importers import ImportRejected
from layers.models import Building, City
from layers.service_points import nearest_points, read_mapping

LON0, LAT0 = 25.0, 60.2
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * np.cos(np.radians(LAT0))


def _lonlat(east_m, north_m):
    return LON0 + np.asarray(east_m) / M_PER_DEG_LON, LAT0 + np.asarray(north_m) / M_PER_DEG_LAT


def _building(city, box, external_id=""):
    square = shapely.box(*box)
    lonlat = shapely.transform(square, lambda xy: np.column_stack(_lonlat(xy[:, 0], xy[:, 1])))
    return Building.objects.create(
        city=city, footprint=to_multipolygon(to_geos(lonlat)), height_m=6.0,
        height_source="imported", use="residential", footprint_area_m2=1.0, floor_area_m2=1.0,
        residents=1.0, external_id=external_id,
    ).id  # fmt: skip


@pytest.mark.django_db
def test_nearest_point_to_the_footprint_within_the_tolerance_and_mappings():
    city = City.objects.create(name="Service Town", local_epsg=32635)
    # points 3 and 2 at the same place: a tie, which goes to the lower id
    points = [(7, *_lonlat(0, 0)), (3, *_lonlat(1000, 0)), (2, *_lonlat(1000, 0))]
    # a long building whose east end is 40 m from points 2 and 3, its centre 440 m away
    long = _building(city, (160, -10, 960, 10))
    small = _building(city, (40, -5, 50, 5))  # 40 m from point 7
    other = _building(city, (495, 60, 505, 70), external_id="way/9")
    far = _building(city, (480, 400, 520, 420))  # > 100 m from both
    links = {link.building_id: link for link in nearest_points(city, points, 100)}
    assert set(links) == {long, small}
    assert links[long].point_id == 2 and links[long].distance_m == pytest.approx(40, abs=0.5)
    assert links[small].point_id == 7 and links[small].distance_m == pytest.approx(40, abs=0.5)
    wide = {link.building_id: link.point_id for link in nearest_points(city, points, 1000)}
    assert set(wide) == {long, small, other, far}
    with pytest.raises(ImportRejected) as bad:
        nearest_points(city, points, 0)
    assert bad.value.field == "tolerance_m"
    # a mapping: twin id or external id; the point by the network's own key
    mapped = read_mapping(
        f"building,bus\n{far},B1\nway/9,B2\n", city, "bus", {"B1": 11, "B2": 12}, "grid G"
    )
    assert [(m.building_id, m.point_id, m.distance_m) for m in mapped] == [
        (far, 11, None),
        (other, 12, None),
    ]
    for text, field in (
        ("building,junction\n1,B1\n", "mapping"),
        ("building,bus\n", "mapping"),
        (f"building,bus\n{far},B1\nway/404,B1\n", "mapping.row3.building"),
        (f"building,bus\n{far},B9\n", "mapping.row2.bus"),
    ):
        with pytest.raises(ImportRejected) as bad:
            read_mapping(text, city, "bus", {"B1": 11}, "grid G")
        assert bad.value.field == field, text
