"""REST API and vector tiles over the imported demo cities."""

from __future__ import annotations

import gzip
import math

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
from django.contrib.gis.geos import Polygon
from rest_framework.test import APIClient

from layers.importers.files import run_import
from layers.models import Building, City, RoadEdge

pytestmark = pytest.mark.django_db


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def tile_to_lonlat(
    z: int, x: int, y: int, px: float, py: float, extent: int = 4096
) -> tuple[float, float]:
    """Tile pixel (y up, as mapbox-vector-tile decodes by default) -> lon/lat."""
    n = 2**z
    fx = x + px / extent
    fy = y + (extent - py) / extent
    lon = fx / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy / n))))
    return lon, lat


@pytest.mark.slow
def test_buildings_geojson_bbox_filter_ordering_pagination():
    client = APIClient()
    city = City.objects.get(name="Helsinki")
    response = client.get(
        "/api/buildings/", {"city": city.id, "page_size": 10, "ordering": "-height_m"}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert data["count"] == Building.objects.filter(city=city).count()
    heights = [f["properties"]["height_m"] for f in data["features"]]
    assert len(heights) == 10 and heights == sorted(heights, reverse=True)
    assert "page=2" in data["next"]
    # a small bbox returns only buildings that intersect it
    b = Building.objects.filter(city=city).order_by("id").first()
    minx, miny, maxx, maxy = b.footprint.extent
    response = client.get(
        "/api/buildings/", {"bbox": f"{minx},{miny},{maxx},{maxy}", "page_size": 1000}
    )
    features = response.json()["features"]
    assert b.id in {f["id"] for f in features}
    box = shapely.box(minx, miny, maxx, maxy)
    # bounding boxes overlap the requested box (the index test PostGIS does with &&)
    assert all(shapely.geometry.shape(f["geometry"]).envelope.intersects(box) for f in features)
    assert len(features) < Building.objects.count()


@pytest.mark.slow
def test_attribute_filters_and_bad_bbox():
    client = APIClient()
    response = client.get(
        "/api/buildings/", {"use": "residential", "height_min": 10, "page_size": 1000}
    )
    assert response.status_code == 200
    for f in response.json()["features"]:
        assert f["properties"]["use"] == "residential" and f["properties"]["height_m"] >= 10
    bad = client.get("/api/buildings/", {"bbox": "24.9,60.1,abc"})
    assert bad.status_code == 400
    assert "bbox" in bad.json()["details"]


def test_road_edges_and_openapi_schema():
    client = APIClient()
    response = client.get("/api/road-edges/", {"oneway": "true", "page_size": 5})
    assert response.status_code == 200
    assert all(f["properties"]["oneway"] for f in response.json()["features"])
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/buildings/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_writes_need_a_token():
    client = APIClient()
    response = client.post("/api/imports/", {})
    assert response.status_code in (401, 403)


def test_building_tile_decodes_with_features_at_the_right_places():
    client = APIClient()
    city = City.objects.get(name="Helsinki")
    b = Building.objects.filter(city=city).order_by("-footprint_area_m2").first()
    centroid = b.footprint.point_on_surface
    z = 16
    x, y = lonlat_to_tile(centroid.x, centroid.y, z)
    response = client.get(f"/tiles/buildings/{z}/{x}/{y}.pbf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(response.content)
    features = decoded["buildings"]["features"]
    by_id = {f["properties"]["id"]: f for f in features}
    assert b.id in by_id
    feature = by_id[b.id]
    assert feature["properties"]["height_m"] == pytest.approx(b.height_m)
    assert feature["properties"]["height_source"] == b.height_source
    # the decoded geometry, mapped back to lon/lat, lies on the building (within a pixel)
    ring = feature["geometry"]["coordinates"][0]
    if feature["geometry"]["type"] == "MultiPolygon":
        ring = ring[0]
    pts = [tile_to_lonlat(z, x, y, px, py) for px, py in ring]
    tile_poly = shapely.Polygon(pts)
    west, north = tile_to_lonlat(z, x, y, 0, 4096)
    east, south = tile_to_lonlat(z, x, y, 4096, 0)
    # the tile clips at its edge (plus a buffer): compare with the footprint clipped to the tile
    true_poly = shapely.from_wkt(b.footprint.wkt).intersection(
        shapely.box(west, south, east, north)
    )
    assert tile_poly.intersection(true_poly).area / true_poly.area > 0.95
    # ETag / conditional GET
    etag = response["ETag"]
    again = client.get(f"/tiles/buildings/{z}/{x}/{y}.pbf", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert "max-age" in response["Cache-Control"]


def _city_centre_tile(client, layer: str, centre_of: City, z: int, **params) -> list[dict]:
    """Decoded features of the ``layer`` tile at zoom ``z`` over a city's centre."""
    c = centre_of.boundary.centroid
    x, y = lonlat_to_tile(c.x, c.y, z)
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", params)
    assert response.status_code == 200
    return mapbox_vector_tile.decode(response.content).get(layer, {}).get("features", [])


@pytest.mark.parametrize("layer", ["roads", "areas", "facilities", "utilities"])
def test_core_layer_tiles_at_low_zoom(layer):
    city = City.objects.get(name="Helsinki" if layer != "utilities" else "Kotka")
    assert len(_city_centre_tile(APIClient(), layer, city, 12)) > 0


def test_road_tile_count_matches_database():
    city = City.objects.get(name="Helsinki")
    features = _city_centre_tile(APIClient(), "roads", city, 13, city=city.id)
    ids = {f["properties"]["id"] for f in features}
    assert ids <= set(RoadEdge.objects.filter(city=city).values_list("id", flat=True))
    assert len(ids) > 0.5 * RoadEdge.objects.filter(city=city).count()


def test_bad_tile_coordinates():
    client = APIClient()
    assert client.get("/tiles/buildings/3/9/0.pbf").status_code == 400
    assert client.get("/tiles/no-such-layer/3/1/1.pbf").status_code == 404


def _screen_pixel_m(z: int, lat: float) -> float:
    """Ground metres of a screen pixel (512-pixel tiles, as MapLibre draws them) at ``lat``."""
    return 40075016.68557849 / 2**z / 512 * math.cos(math.radians(lat))


def test_low_zoom_building_tiles_are_thinned():
    """z12: no footprint under a screen pixel; every larger one inside the tile is there (the
    demo city is far below the 12,000-building cap), with only the attributes the map styles
    it by and its id as the feature id."""
    city = City.objects.get(name="Helsinki")
    z = 12
    c = city.boundary.centroid
    x, y = lonlat_to_tile(c.x, c.y, z)
    response = APIClient().get(f"/tiles/buildings/{z}/{x}/{y}.pbf", {"city": city.id})
    features = mapbox_vector_tile.decode(response.content)["buildings"]["features"]
    ids = {f["id"] for f in features}  # the building id is the MVT feature id
    west, north = tile_to_lonlat(z, x, y, 0, 4096)
    east, south = tile_to_lonlat(z, x, y, 4096, 0)
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z))))
    pixel_m2 = _screen_pixel_m(z, lat) ** 2  # about 90 m2 in Helsinki
    inside = Building.objects.filter(
        city=city, footprint__within=Polygon.from_bbox((west, south, east, north))
    )
    tiny = set(inside.filter(footprint_area_m2__lt=pixel_m2).values_list("id", flat=True))
    seen = set(inside.filter(footprint_area_m2__gte=pixel_m2).values_list("id", flat=True))
    assert tiny and seen and not (ids & tiny)
    assert seen <= ids
    assert {k for f in features for k in f["properties"]} == {"city_id", "height_m", "use"}
    # from zoom 14 on, every footprint and attribute is in the tile
    x14, y14 = lonlat_to_tile(c.x, c.y, 14)
    full = mapbox_vector_tile.decode(
        APIClient().get(f"/tiles/buildings/14/{x14}/{y14}.pbf", {"city": city.id}).content
    )["buildings"]["features"]
    assert "height_source" in full[0]["properties"]


def test_cached_building_tile_is_replaced_after_an_import(tmp_path):
    """A rendered tile is served from the cache (a change that is no import is not seen) until
    an import into the city: then the tile shows the imported building and the change."""
    city = City.objects.get(name="Helsinki")
    z = 13
    c = city.boundary.centroid
    x, y = lonlat_to_tile(c.x, c.y, z)
    url = f"/tiles/buildings/{z}/{x}/{y}.pbf"

    def heights() -> dict[int, float]:
        body = APIClient().get(url, {"city": city.id}).content
        features = mapbox_vector_tile.decode(body)["buildings"]["features"]
        return {f["id"]: f["properties"]["height_m"] for f in features}

    before = heights()
    victim = max(before)
    Building.objects.filter(pk=victim).update(height_m=123.0)  # not an import
    assert heights() == before  # the cached tile
    # import one large building next to the city centre (a buildings file, like the API's)
    lon, lat = c.x, c.y
    frame = gpd.GeoDataFrame(
        {"h": [42.0]},
        geometry=[shapely.box(lon, lat, lon + 0.001, lat + 0.0005)],
        crs="EPSG:4326",
    )
    path = tmp_path / "one.geojson"
    frame.to_file(path)
    report = run_import(
        path, {"target": "buildings", "city": "Helsinki", "mapping": {"height_m": "h"}}
    )
    assert report["imported"] == 1
    after = heights()
    new = set(after) - set(before)
    assert len(new) == 1 and after[new.pop()] == pytest.approx(42.0)
    assert after[victim] == pytest.approx(123.0)


def test_tiles_are_gzipped_for_clients_that_accept_it():
    helsinki = City.objects.get(name="Helsinki")
    c = helsinki.boundary.centroid
    x, y = lonlat_to_tile(c.x, c.y, 15)
    url = f"/tiles/buildings/15/{x}/{y}.pbf"
    plain = APIClient().get(url)
    packed = APIClient().get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < 0.8 * len(plain.content)
    assert packed["ETag"] == plain["ETag"] and "Accept-Encoding" in packed["Vary"]
