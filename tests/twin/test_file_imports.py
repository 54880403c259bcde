"""File imports through the API, run by a real Celery worker, on real PostGIS.

Every format round-trips (features, attributes, geometry after reprojection); every bad input
gets a 4xx naming the problem, and leaves the database unchanged.
"""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.io
import shapely
from affine import Affine
from rest_framework.test import APIClient

from layers.importers.osm import demo_pbf
from layers.models import Building, City, Feature, Layer, RasterLayer
from layers.roles import grant

from .conftest import wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sample() -> gpd.GeoDataFrame:
    """Five small polygons in Helsinki, in the Finnish national CRS (ETRS-TM35FIN)."""
    x0, y0 = 385_800.0, 6_671_800.0
    polys = [shapely.box(x0 + 30 * i, y0, x0 + 30 * i + 20, y0 + 15) for i in range(5)]
    return gpd.GeoDataFrame(
        {
            "name": [f"b{i}" for i in range(5)],
            "h": [5.0, 10.5, 20.0, 33.3, 8.0],
            "n": [1, 2, 3, 4, 5],
        },
        geometry=polys,
        crs="EPSG:3067",
    )


def _write(frame: gpd.GeoDataFrame, tmp_path, fmt: str):
    if fmt == "geojson":
        path = tmp_path / "sample.geojson"
        frame.to_crs(4326).to_file(path, driver="GeoJSON")
    elif fmt == "gpkg":
        path = tmp_path / "sample.gpkg"
        frame.to_file(path, driver="GPKG")
    elif fmt == "fgb":
        path = tmp_path / "sample.fgb"
        frame.to_file(path, driver="FlatGeobuf")
    elif fmt == "shpzip":
        shp_dir = tmp_path / "shp"
        shp_dir.mkdir()
        frame.to_file(shp_dir / "sample.shp")
        path = tmp_path / "sample.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in shp_dir.iterdir():
                z.write(f, f.name)
    elif fmt == "csv-wkt":
        path = tmp_path / "sample.csv"
        f4326 = frame.to_crs(4326)
        f4326.assign(wkt=f4326.geometry.to_wkt(rounding_precision=-1)).drop(
            columns="geometry"
        ).to_csv(path, index=False)
    elif fmt == "csv-lonlat":
        path = tmp_path / "points.csv"
        c = frame.to_crs(4326).geometry.centroid
        frame.drop(columns="geometry").assign(lon=c.x, lat=c.y).to_csv(path, index=False)
    return path


def _upload(api, path, **params):
    with open(path, "rb") as handle:
        return api.post("/api/imports/", {"file": handle, **params}, format="multipart")


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "fgb", "shpzip", "csv-wkt", "csv-lonlat"])
def test_vector_formats_round_trip(api, sample, tmp_path, fmt, celery_worker_process):
    path = _write(sample, tmp_path, fmt)
    response = _upload(api, path, name=f"sample {fmt}")
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.progress_percent == 100
    report = job.report
    assert report["read"] == 5 and report["imported"] == 5 and report["rejected"] == []
    assert report["crs_detected"]
    layer = Layer.objects.get(slug=report["layer"])
    assert layer.feature_count == 5
    assert {"name", "h", "n"} <= set(layer.attribute_schema)
    # attributes and geometries back through the API, compared with the source
    data = api.get(f"/api/layers/{layer.slug}/features/").json()
    assert data["count"] == 5
    expected = sample.to_crs(4326)
    for feature in data["features"]:
        props = feature["properties"]
        i = int(props["n"]) - 1
        assert props["name"] == f"b{i}"
        assert float(props["h"]) == pytest.approx(sample["h"][i])
        geom = shapely.geometry.shape(feature["geometry"])
        if fmt == "csv-lonlat":
            assert geom.distance(expected.geometry[i].centroid) < 1e-7
        else:
            assert (
                geom.symmetric_difference(expected.geometry[i]).area
                < 1e-6 * expected.geometry[i].area + 1e-12
            )
    if fmt == "gpkg":
        assert "EPSG:3067" in report["reprojection"]


def test_buildings_target_with_field_mapping(api, user, sample, tmp_path, celery_worker_process):
    city = City.objects.create(name="Testville", local_epsg=3067)
    grant(user, city)  # an editor of the city may import into its buildings
    path = _write(sample, tmp_path, "gpkg")
    response = _upload(
        api, path, target="buildings", city="Testville", mapping=json.dumps({"height_m": "h"})
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])
    assert job.status == "succeeded", job.error
    heights = sorted(Building.objects.filter(city=city).values_list("height_m", flat=True))
    assert heights == sorted(sample["h"])
    assert set(Building.objects.filter(city=city).values_list("height_source", flat=True)) == {
        "imported"
    }
    area = Building.objects.filter(city=city).order_by("height_m").first().footprint_area_m2
    assert area == pytest.approx(300.0, rel=1e-3)  # 20 m x 15 m, measured in the local CRS


def test_mapping_to_missing_attribute_is_400_at_once_and_writes_nothing(
    api, user, sample, tmp_path
):
    grant(user, City.objects.create(name="Testville", local_epsg=3067))
    path = _write(sample, tmp_path, "gpkg")
    response = _upload(
        api, path, target="buildings", city="Testville", mapping=json.dumps({"height_m": "hoehe"})
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "mapping.height_m" and "hoehe" in response.json()["error"]
    assert Building.objects.count() == 0


def test_rows_with_bad_geometry_are_repaired_or_rejected_with_row_numbers(
    api, tmp_path, celery_worker_process
):
    bowtie = shapely.Polygon([(24.90, 60.10), (24.91, 60.11), (24.91, 60.10), (24.90, 60.11)])
    frame = gpd.GeoDataFrame(
        {"k": [1, 2, 3]}, geometry=[shapely.box(24.9, 60.1, 24.91, 60.11), bowtie, None], crs=4326
    )
    path = tmp_path / "bad.gpkg"
    frame.to_file(path, driver="GPKG")
    job = wait_for_job(_upload(api, path).json()["id"])
    assert job.status == "succeeded"
    assert job.report["repaired"] == 1
    assert [r["row"] for r in job.report["rejected"]] == [3]
    assert Feature.objects.filter(layer__slug=job.report["layer"]).count() == 2


def test_geotiff_becomes_a_cog(api, tmp_path, celery_worker_process):
    path = tmp_path / "dem.tif"
    data = np.arange(100 * 120, dtype="float32").reshape(100, 120)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=120,
        height=100,
        count=1,
        dtype="float32",
        crs="EPSG:3067",
        transform=Affine(2.0, 0.0, 385000.0, 0.0, -2.0, 6672000.0),  # 2 m cells
    ) as ds:
        ds.write(data, 1)
    job = wait_for_job(_upload(api, path, name="dem").json()["id"])
    assert job.status == "succeeded", job.error
    raster = RasterLayer.objects.get(slug=job.report["raster"])
    assert (raster.width, raster.height, raster.crs) == (120, 100, "EPSG:3067")
    assert raster.statistics["max"] == pytest.approx(data.max())
    download = api.get(f"/api/rasters/{raster.slug}/download/")
    assert download.status_code == 200
    out = tmp_path / "back.tif"
    out.write_bytes(b"".join(download.streaming_content))
    with rasterio.open(out) as ds:
        # a plain GeoTIFF has no LAYOUT tag (too small for overviews: 120 x 100 pixels)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert np.array_equal(ds.read(1), data)
    # drawn as PNG tiles on a colour ramp: the gradient of the data shows in the pixels
    listed = api.get("/api/rasters/").json()
    entry = next(r for r in listed["results"] if r["slug"] == raster.slug)
    centre = raster.extent.centroid
    z = 17
    x = int((centre.x + 180) / 360 * 2**z)
    y = int((1 - np.arcsinh(np.tan(np.radians(centre.y))) / np.pi) / 2 * 2**z)
    tile = api.get(entry["tiles"].format(z=z, x=x, y=y))
    assert tile.status_code == 200 and tile["Content-Type"] == "image/png"
    with rasterio.io.MemoryFile(tile.content) as memory, memory.open() as png:
        pixels = png.read()
    assert len({tuple(p) for p in pixels[:3].reshape(3, -1).T}) > 10  # a ramp, not one colour
    far = api.get(f"/tiles/rasters/{raster.slug}/{z}/{x + 50}/{y}.png")
    assert far.status_code == 204  # outside the raster
    assert api.get(f"/tiles/rasters/{raster.slug}/{z}/{x}/{y}.png?colormap=nope").status_code == 400
    RasterLayer.objects.filter(pk=raster.pk).update(visibility="private")
    assert APIClient().get(f"/tiles/rasters/{raster.slug}/{z}/{x}/{y}.png").status_code == 404


def test_osm_pbf_upload(api, user, celery_worker_process, tmp_path):
    import shutil

    user.is_staff = True  # a new city: staff only
    user.save()

    path = tmp_path / "kotka.osm.pbf"
    shutil.copy(demo_pbf("kotka"), path)
    job = wait_for_job(_upload(api, path, target="osm", city="Kotka upload").json()["id"])
    assert job.status == "succeeded", job.error
    assert (
        Building.objects.filter(city__name="Kotka upload").count()
        == job.report["buildings"]["imported"]
        > 2000
    )


# --- bad input: a 4xx naming the problem, nothing written -------------------------------------


def _snapshot():
    return (
        Layer.objects.count(),
        Feature.objects.count(),
        RasterLayer.objects.count(),
        Building.objects.count(),
    )


def _assert_rejected(response, status, field, words):
    assert response.status_code == status, response.content
    body = response.json()
    assert body.get("field") == field, body
    assert words in body["error"].lower()


def test_missing_crs(api, sample, tmp_path):
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    sample.set_crs(None, allow_override=True).to_file(shp_dir / "nocrs.shp")
    path = tmp_path / "nocrs.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    before = _snapshot()
    _assert_rejected(_upload(api, path), 400, "crs", "no crs")
    assert _snapshot() == before


def test_unknown_crs_parameter(api, sample, tmp_path):
    path = _write(sample, tmp_path, "gpkg")
    response = _upload(api, path, crs="EPSG:999999")
    assert response.status_code == 400
    assert "crs" in response.json()["details"]


def test_wrong_geometry_type_for_target(api, user, tmp_path):
    grant(user, City.objects.create(name="Testville", local_epsg=3067))
    frame = gpd.GeoDataFrame({"h": [1.0]}, geometry=[shapely.Point(24.9, 60.1)], crs=4326)
    path = tmp_path / "points.gpkg"
    frame.to_file(path, driver="GPKG")
    before = _snapshot()
    _assert_rejected(
        _upload(api, path, target="buildings", city="Testville"), 400, "file", "geometry type point"
    )
    assert _snapshot() == before


def test_empty_and_corrupt_files(api, tmp_path):
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    before = _snapshot()
    _assert_rejected(_upload(api, empty), 400, "file", "empty")
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 500)
    _assert_rejected(_upload(api, corrupt), 400, "file", "cannot read")
    no_features = tmp_path / "nothing.geojson"
    no_features.write_text('{"type": "FeatureCollection", "features": []}')
    _assert_rejected(_upload(api, no_features), 400, "file", "no features")
    _assert_rejected(_upload(api, corrupt, target="nonsense"), 400, "target", "not a valid choice")
    assert _snapshot() == before


def test_zip_path_traversal(api, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../../etc/evil.shp", b"x" * 100)
    before = _snapshot()
    _assert_rejected(_upload(api, path), 400, "file", "path traversal")
    assert not (tmp_path.parent.parent / "etc" / "evil.shp").exists()
    assert _snapshot() == before


def test_zip_bomb(api, tmp_path, settings):
    settings.MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.shp", b"\x00" * (60 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    before = _snapshot()
    _assert_rejected(_upload(api, path), 400, "file", "zip bomb")
    assert _snapshot() == before


def test_upload_over_size_limit(api, sample, tmp_path, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    path = _write(sample, tmp_path, "gpkg")
    before = _snapshot()
    _assert_rejected(_upload(api, path), 413, "file", "over the limit")
    assert _snapshot() == before


def test_geotiff_without_georeferencing(api, tmp_path):
    path = tmp_path / "plain.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8"
    ) as ds:
        ds.write(np.ones((10, 10), dtype="uint8"), 1)
    before = _snapshot()
    _assert_rejected(_upload(api, path), 400, "file", "no georeferencing")
    assert _snapshot() == before


def test_unsupported_extension(api, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    _assert_rejected(_upload(api, path), 400, "file", "unsupported file type")


# --- visibility ----------------------------------------------------------------------------------


def test_private_layer_stays_private(
    api, user, sample, tmp_path, django_user_model, celery_worker_process
):
    from rest_framework.authtoken.models import Token

    path = _write(sample, tmp_path, "geojson")
    job = wait_for_job(_upload(api, path, name="secret", visibility="private").json()["id"])
    slug = job.report["layer"]
    assert api.get(f"/api/layers/{slug}/").status_code == 200
    assert api.get(f"/api/layers/{slug}/features/").json()["count"] == 5
    anonymous = APIClient()
    assert slug not in [la["slug"] for la in anonymous.get("/api/layers/").json()["results"]]
    assert anonymous.get(f"/api/layers/{slug}/").status_code == 404
    assert anonymous.get(f"/api/layers/{slug}/features/").status_code == 404
    c = sample.to_crs(4326).geometry.union_all().centroid
    from .test_api_tiles import lonlat_to_tile

    x, y = lonlat_to_tile(c.x, c.y, 15)
    tile_url = f"/tiles/{slug}/15/{x}/{y}.pbf"
    assert anonymous.get(tile_url).status_code == 404
    other = django_user_model.objects.create_user(username="other", password="x")
    other_client = APIClient()
    other_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other).key}")
    assert other_client.get(f"/api/layers/{slug}/").status_code == 404
    assert other_client.delete(f"/api/layers/{slug}/").status_code == 404
    tile = api.get(tile_url)
    assert tile.status_code == 200 and tile["Cache-Control"].startswith("private")
    import mapbox_vector_tile

    assert len(mapbox_vector_tile.decode(tile.content)[slug]["features"]) == 5


def test_api_progress_visible_on_job(api, sample, tmp_path, celery_worker_process):
    path = _write(sample, tmp_path, "fgb")
    job_id = _upload(api, path).json()["id"]
    wait_for_job(job_id)
    data = api.get(f"/api/jobs/{job_id}/").json()
    assert data["status"] == "succeeded" and data["progress_percent"] == 100
    assert "path" not in data["params"]
