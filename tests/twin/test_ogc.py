"""OGC API - Features at /ogc/ with real clients on a live server.

GDAL's OAPIF driver (Debian's ogrinfo/ogr2ogr), OWSLib and plain HTTP read the twin; every
answer is checked against the database or against pyproj.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pyogrio
import pytest
import requests
import shapely
from django.contrib.gis.geos import Point, Polygon
from pyproj import Transformer

pytestmark = pytest.mark.django_db(transaction=True)

CORE = ["buildings", "roads", "road-nodes", "utilities", "utility-nodes", "facilities", "areas"]
PROPERTIES = [
    "city",
    "height_m",
    "height_source",
    "levels",
    "use",
    "use_source",
    "use_confidence",
    "building_type",
    "name",
    "footprint_area_m2",
    "floor_area_m2",
    "residents",
    "workers",
    "external_id",
    "osm_id",
]


def _layer(city, slug: str, visibility: str = "public", owner=None, n: int = 12):
    """An imported layer of ``n`` points around the city centre, with typed attributes."""
    from layers.models import Feature, Layer

    centre = city.boundary.centroid
    layer = Layer.objects.create(
        city=city,
        name=slug.replace("-", " ").title(),
        slug=slug,
        owner=owner,
        visibility=visibility,
        geometry_type="Point",
        attribute_schema={"kind": "string", "score": "number", "rank": "integer"},
        feature_count=n,
    )
    Feature.objects.bulk_create(
        Feature(
            layer=layer,
            fid=i + 1,
            geom=Point(centre.x + 0.001 * i, centre.y, srid=4326),
            properties={"kind": "tree" if i % 3 else "bench", "score": i * 1.5, "rank": i},
        )
        for i in range(n)
    )
    return layer


@pytest.fixture
def ogc(live_server) -> str:
    return live_server.url + "/ogc"


@pytest.mark.slow
def test_gdal_lists_collections_and_copies_helsinki_buildings(committed_city, ogc, tmp_path):
    from layers.models import Building

    assert shutil.which("ogr2ogr"), "gdal-bin is needed"
    helsinki = committed_city("Helsinki")
    _layer(helsinki, "street-trees")
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{ogc}/"], capture_output=True, text=True, check=True
    ).stdout
    for collection in [*CORE, "street-trees"]:
        assert f": {collection} (title:" in listing, listing

    out = tmp_path / "helsinki.gpkg"
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "GPKG",
            str(out),
            f"OAPIF:{ogc}/",
            "buildings",
            "-where",
            f"city = {helsinki.id}",
            "-oo",
            "PAGE_SIZE=200",  # several pages: the copy follows the next links
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    copied = pyogrio.read_dataframe(out, layer="buildings")
    rows = Building.objects.filter(city=helsinki).order_by("id")
    assert len(copied) == rows.count() > 200
    assert set(PROPERTIES) <= set(copied.columns)
    by_ext = copied.set_index("external_id")
    for building in rows.exclude(external_id="")[:50]:
        got = by_ext.loc[building.external_id]
        assert got["height_m"] == pytest.approx(building.height_m)
        assert got["use"] == building.use
        assert got["floor_area_m2"] == pytest.approx(building.floor_area_m2)
        assert got["city"] == helsinki.id
    # the geometries are those of the database (CRS84, 1e-7 degree precision)
    first = rows.exclude(external_id="").first()
    assert (
        copied.set_index("external_id")
        .loc[first.external_id]
        .geometry.equals_exact(shapely.from_wkb(bytes(first.footprint.wkb)), 1e-6)
    )


@pytest.mark.slow
def test_owslib_bbox_and_cql2_filters(committed_city, ogc):
    from owslib.ogcapi.features import Features

    from layers.models import Building

    helsinki = committed_city("Helsinki")
    api = Features(ogc + "/")
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert {c["id"] for c in api.collections()["collections"]} >= set(CORE)

    xmin, ymin, xmax, ymax = helsinki.boundary.extent
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    bbox = [cx - 0.01, cy - 0.005, cx + 0.01, cy + 0.005]
    box = Polygon.from_bbox(bbox)
    in_box = Building.objects.filter(footprint__intersects=box)
    tall = in_box.filter(height_m__gt=15)
    assert 0 < tall.count() < in_box.count()

    found = api.collection_items("buildings", bbox=bbox, limit=1000)
    assert found["numberMatched"] == in_box.count()
    assert sorted(f["id"] for f in found["features"]) == sorted(in_box.values_list("id", flat=True))

    found = api.collection_items("buildings", bbox=bbox, filter="height_m > 15", limit=1000)
    assert sorted(f["id"] for f in found["features"]) == sorted(tall.values_list("id", flat=True))
    assert all(f["properties"]["height_m"] > 15 for f in found["features"])

    # CQL2 JSON, spatial function and IN on the same data
    cql = {
        "op": "and",
        "args": [
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": bbox}]},
            {"op": "in", "args": [{"property": "use"}, ["residential", "commercial"]]},
        ],
    }
    found = api.collection_items(
        "buildings", filter=json.dumps(cql), limit=1000, **{"filter-lang": "cql2-json"}
    )
    expected = in_box.filter(use__in=["residential", "commercial"])
    assert sorted(f["id"] for f in found["features"]) == sorted(
        expected.values_list("id", flat=True)
    )

    # an imported layer: queryables from its attribute schema, numbers compared as numbers
    _layer(helsinki, "benches-and-trees")
    queryables = api.collection_queryables("benches-and-trees")
    assert queryables["properties"]["score"]["type"] == "number"
    found = api.collection_items(
        "benches-and-trees", filter="score >= 9 AND kind = 'tree'", limit=100
    )
    assert sorted(f["id"] for f in found["features"]) == [8, 9, 11, 12]
    assert found["numberMatched"] == 4


@pytest.mark.slow
def test_crs_and_bbox_crs_give_coordinates_in_that_crs(committed_city, ogc):
    from layers.models import Building

    helsinki = committed_city("Helsinki")
    building = Building.objects.filter(city=helsinki).order_by("id").first()
    lon, lat = building.footprint[0][0][0]
    epsg = helsinki.local_epsg
    uri = "http://www.opengis.net/def/crs/EPSG/0/{}".format
    url = f"{ogc}/collections/buildings/items/{building.id}"

    for code in (3857, epsg):
        response = requests.get(url, params={"crs": uri(code)}, timeout=30)
        assert response.status_code == 200
        assert response.headers["Content-Crs"] == f"<{uri(code)}>"
        x, y = response.json()["geometry"]["coordinates"][0][0][0]
        ex, ey = Transformer.from_crs(4326, code, always_xy=True).transform(lon, lat)
        assert (x, y) == pytest.approx((ex, ey), abs=0.002)  # metres
    # EPSG:4326 is latitude first
    response = requests.get(url, params={"crs": uri(4326)}, timeout=30)
    assert response.json()["geometry"]["coordinates"][0][0][0] == pytest.approx(
        [lat, lon], abs=1e-7
    )
    response = requests.get(url, timeout=30)
    assert response.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    assert response.json()["geometry"]["coordinates"][0][0][0] == pytest.approx(
        [lon, lat], abs=1e-7
    )

    # a 400 m box in the city's UTM zone, answered in UTM (as QGIS asks in a projected project)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    ex, ey = to_utm.transform(lon, lat)
    utm_box = (ex - 200, ey - 200, ex + 200, ey + 200)
    response = requests.get(
        f"{ogc}/collections/buildings/items",
        params={
            "bbox": ",".join(map(str, utm_box)),
            "bbox-crs": uri(epsg),
            "crs": uri(epsg),
            "limit": 1000,
        },
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()
    box = Polygon.from_bbox(utm_box)
    box.srid = epsg
    expected = Building.objects.filter(footprint__intersects=box)
    assert body["numberMatched"] == expected.count() > 0
    assert sorted(f["id"] for f in body["features"]) == sorted(
        expected.values_list("id", flat=True)
    )
    for feature in body["features"]:
        x, y = feature["geometry"]["coordinates"][0][0][0]
        assert utm_box[0] - 500 < x < utm_box[2] + 500 and utm_box[1] - 500 < y < utm_box[3] + 500

    # the same box in EPSG:4326 (lat,lon order) selects features around the same place
    w, s, e, n = building.footprint.extent
    response = requests.get(
        f"{ogc}/collections/buildings/items",
        params={"bbox": f"{s},{w},{n},{e}", "bbox-crs": uri(4326), "limit": 1000},
        timeout=30,
    )
    assert building.id in [f["id"] for f in response.json()["features"]]


@pytest.mark.slow
def test_paging_and_bad_requests(committed_city, ogc):
    from layers.models import Building

    committed_city("Helsinki")
    items = f"{ogc}/collections/buildings/items"
    first = requests.get(items, params={"limit": 7}, timeout=30).json()
    assert first["numberReturned"] == 7
    assert first["numberMatched"] == Building.objects.count()
    next_url = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = requests.get(next_url, timeout=30).json()
    prev_url = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    ids = list(Building.objects.order_by("id").values_list("id", flat=True)[:14])
    assert [f["id"] for f in first["features"] + second["features"]] == ids
    assert [f["id"] for f in requests.get(prev_url, timeout=30).json()["features"]] == ids[:7]

    bad = {
        "unknown parameter": ({"ooga": "booga"}, "ooga"),
        "limit not a number": ({"limit": "unlimited"}, "limit"),
        "bbox of three numbers": ({"bbox": "24,60,25"}, "bbox"),
        "bbox upside down": ({"bbox": "25,61,24,60"}, "bbox"),
        "bbox not numbers": ({"bbox": "a,b,c,d"}, "bbox"),
        "unknown crs": ({"crs": "http://www.opengis.net/def/crs/EPSG/0/99999"}, "crs"),
        "unknown bbox-crs": ({"bbox": "0,0,1,1", "bbox-crs": "EPSG:2154"}, "bbox-crs"),
        "cql2 syntax error": ({"filter": "height_m >"}, "filter"),
        "cql2 unknown property": ({"filter": "colour = 'red'"}, "filter"),
        "cql2-json not json": ({"filter": "{", "filter-lang": "cql2-json"}, "filter"),
        "unknown filter-lang": ({"filter": "x", "filter-lang": "sql"}, "filter-lang"),
        "bad datetime": ({"datetime": "yesterday"}, "datetime"),
        "wrong type for a queryable": ({"levels": "many"}, "levels"),
        # far outside the projection: refused before PROJ sees it (it could loop or wrap)
        "bbox outside web mercator": (
            {"bbox": "0,0,1e300,1e300", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"},
            "bbox",
        ),
        "bbox wrapping web mercator": (
            {"bbox": "0,0,1e12,1e12", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"},
            "bbox",
        ),
        "offset beyond bigint": ({"offset": "99999999999999999999"}, "offset"),
        "LIKE without a text pattern": ({"filter": "name LIKE 1"}, "filter"),
    }
    for case, (params, field) in bad.items():
        response = requests.get(items, params=params, timeout=30)
        assert response.status_code == 400, case
        body = response.json()
        assert body["field"] == field, case
        assert body["code"] == "InvalidParameterValue" and field in body["description"], case
    assert requests.get(f"{ogc}/collections/nothing/items", timeout=30).status_code == 404
    assert requests.get(f"{items}/999999999", timeout=30).status_code == 404
    # HTML for browsers
    page = requests.get(items, headers={"Accept": "text/html"}, timeout=30)
    assert page.headers["Content-Type"].startswith("text/html") and "<table>" in page.text


@pytest.mark.slow
def test_private_layer_is_invisible_to_anonymous_users(committed_city, ogc, django_user_model):
    from rest_framework.authtoken.models import Token

    helsinki = committed_city("Helsinki")
    owner = django_user_model.objects.create_user(username="gis-owner", password="x")
    _layer(helsinki, "private-sensors", visibility="private", owner=owner, n=5)
    _layer(helsinki, "public-benches", n=3)
    token = Token.objects.create(user=owner)
    auth = {"Authorization": f"Token {token.key}"}

    anonymous = requests.get(f"{ogc}/collections", timeout=30).json()
    ids = {c["id"] for c in anonymous["collections"]}
    assert "public-benches" in ids and "private-sensors" not in ids
    for path in ("", "/items", "/items/1", "/queryables", "/export?format=geojson"):
        response = requests.get(f"{ogc}/collections/private-sensors{path}", timeout=30)
        assert response.status_code == 404, path
    assert "private-sensors" not in requests.get(f"{ogc}/api", timeout=30).text

    mine = requests.get(f"{ogc}/collections", headers=auth, timeout=30).json()
    assert "private-sensors" in {c["id"] for c in mine["collections"]}
    items = requests.get(f"{ogc}/collections/private-sensors/items", headers=auth, timeout=30)
    assert items.status_code == 200 and items.json()["numberMatched"] == 5
    # GDAL without the token does not see it either
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{ogc}/"], capture_output=True, text=True, check=True
    ).stdout
    assert "public-benches" in listing and "private-sensors" not in listing


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "csv"])
def test_exports_read_back_with_the_right_count(committed_city, ogc, tmp_path, fmt):
    from layers.models import Building

    helsinki = committed_city("Helsinki")
    response = requests.get(
        f"{ogc}/collections/buildings/export",
        params={"format": fmt, "city": helsinki.id},
        timeout=120,
    )
    assert response.status_code == 200, response.text[:300]
    assert f"buildings.{fmt}" in response.headers["Content-Disposition"]
    path = tmp_path / f"buildings.{fmt}"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path)
    expected = Building.objects.filter(city=helsinki)
    assert len(frame) == expected.count() > 0
    assert set(PROPERTIES) - {"city"} <= set(frame.columns)
    if fmt == "csv":
        assert frame.loc[0, "WKT"].startswith("MULTIPOLYGON")
    else:
        assert frame.crs.to_epsg() == 4326
        assert float(frame["height_m"].astype(float).sum()) == pytest.approx(
            sum(expected.values_list("height_m", flat=True))
        )

    # a layer, filtered with CQL2 and written in the city's UTM zone
    _layer(helsinki, f"export-{fmt}", n=20)
    response = requests.get(
        f"{ogc}/collections/export-{fmt}/export",
        params={
            "format": fmt,
            "filter": "rank < 15",
            "crs": f"http://www.opengis.net/def/crs/EPSG/0/{helsinki.local_epsg}",
        },
        timeout=120,
    )
    assert response.status_code == 200
    layer_path = tmp_path / f"layer.{fmt}"
    layer_path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(layer_path)
    assert len(frame) == 15
    assert {"kind", "score", "rank"} <= set(frame.columns)
    if fmt != "csv":
        assert frame.crs.to_epsg() == helsinki.local_epsg
        assert frame.geometry.x.min() > 100_000  # metres, not degrees


@pytest.mark.slow
def test_cql2_like_follows_the_standard_and_big_integers_filter(committed_city, ogc):
    """% any run, _ one character, \\ escapes, the order of the parts kept; a JSON integer
    beyond 32 bits compares as a number."""
    from layers.models import Feature

    city = committed_city("Helsinki")
    layer = _layer(city, "like-test", n=4)
    names = ["AxB", "A_B", "Lasipalatsi", "Lasi-tsi"]
    for feature, name in zip(
        Feature.objects.filter(layer=layer).order_by("fid"), names, strict=True
    ):
        feature.properties = {
            **feature.properties,
            "kind": name,
            "rank": 3_000_000_000 + feature.fid,
        }
        feature.save()
    items = f"{ogc}/collections/like-test/items"

    def kinds(cql: str) -> list[str]:
        response = requests.get(items, params={"filter": cql}, timeout=30)
        assert response.status_code == 200, response.text
        return sorted(f["properties"]["kind"] for f in response.json()["features"])

    assert kinds("kind LIKE 'A_B'") == ["A_B", "AxB"]
    assert kinds("kind LIKE 'A\\_B'") == ["A_B"]
    assert kinds("kind LIKE 'Lasipalatsi%tsi'") == []
    assert kinds("kind LIKE 'Lasi%tsi'") == ["Lasi-tsi", "Lasipalatsi"]
    assert kinds("kind NOT LIKE 'Lasi%'") == ["A_B", "AxB"]
    assert kinds("rank > 3000000002") == ["Lasi-tsi", "Lasipalatsi"]
    # the CQL2 bbox literal of basic spatial functions
    c = city.boundary.centroid
    box = f"BBOX({c.x - 0.0005},{c.y - 0.0005},{c.x + 0.0015},{c.y + 0.0005})"
    assert kinds(f"S_INTERSECTS(geometry, {box})") == ["A_B", "AxB"]  # the first two points
    bad = requests.get(items, params={"filter": "S_INTERSECTS(geometry, FOO(1))"}, timeout=30)
    assert bad.status_code == 400


@pytest.mark.slow
def test_export_too_large_is_refused_with_a_hint(committed_city, ogc, monkeypatch):
    from ogc import views

    committed_city("Helsinki")
    monkeypatch.setattr(views, "MAX_EXPORT_FEATURES", 10)
    refused = requests.get(
        f"{ogc}/collections/buildings/export", params={"format": "csv"}, timeout=30
    )
    assert refused.status_code == 413 and "narrow the export" in refused.json()["description"]
