"""Bad uploads never answer 500 nor leave files behind; coordinates are range-checked; what can be
checked before the job is a 4xx at once; zips are unpacked in the job; rasters have a pixel limit.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from django.conf import settings
from rasterio.transform import from_origin

from jobs.models import Job
from layers.models import City, Feature, Layer

from .conftest import wait_for_job
from .test_file_imports import _upload

pytestmark = pytest.mark.django_db(transaction=True)


def _uploads() -> set[str]:
    root = Path(settings.MEDIA_ROOT) / "uploads"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def _rejected(response, field: str, *words: str, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["field"] == field, body
    for word in words:
        assert word in body["error"].lower(), body
    # no server path in what the client reads, and no message cut mid-word
    assert str(settings.MEDIA_ROOT) not in body["error"] and "/tmp/" not in body["error"]
    assert "/uploads/" not in body["error"]
    return body


def _shapefile_zip(
    tmp_path, name="roads.zip", extra_members=0, member_bytes=0, method=zipfile.ZIP_DEFLATED
) -> Path:
    frame = gpd.GeoDataFrame({"k": [1]}, geometry=[shapely.box(24.9, 60.1, 24.91, 60.11)], crs=4326)
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    frame.to_file(folder / "areas.shp")
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=method) as z:
        for f in sorted(folder.iterdir()):
            z.write(f, f.name)
        for i in range(extra_members):
            z.writestr(f"padding/{i}.bin", b"\x00" * member_bytes)
    return path


def test_zip_with_bad_crc_fails_the_job_with_a_message_and_leaves_nothing(
    api, tmp_path, celery_worker_process
):
    path = _shapefile_zip(tmp_path, method=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    # change one byte of the .dbf's record (stored, not compressed): the headers still read,
    # the CRC no longer matches (what unpacking checks)
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("areas.dbf")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + info.compress_size - 2] ^= 0x01
    path.write_bytes(bytes(raw))
    before = _uploads()
    response = _upload(api, path)
    assert response.status_code == 202, response.content  # unpacked in the job, not here
    job = wait_for_job(response.json()["id"])
    assert job.status == "failed"
    assert job.error["field"] == "file" and "damaged" in job.error["message"], job.error
    assert _uploads() == before
    assert Layer.objects.count() == 0


def test_csv_of_blank_lines_and_non_utf8_csv_are_400(api, tmp_path):
    blank = tmp_path / "blank.csv"
    blank.write_text("\n\n\n\n")
    before = _uploads()
    _rejected(_upload(api, blank), "file", "csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,lon,lat\nK\xe4pyl\xe4,24.95,60.2\n".encode("latin-1"))
    _rejected(_upload(api, latin), "file", "utf-8")
    assert _uploads() == before


def test_zip_is_not_unpacked_in_the_request_and_its_declared_size_is_checked(api, tmp_path):
    # 300 members of 1 MiB of zeros (a ratio a zip-bomb check per member lets through)
    path = _shapefile_zip(tmp_path, "padded.zip", extra_members=300, member_bytes=1 << 20)
    assert path.stat().st_size < 2_000_000
    response = _upload(api, path)
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    folder = Path(job.params["path"]).parent
    # no worker here: the job is queued, and nothing was unpacked by the request
    assert sorted(p.name for p in folder.iterdir()) == ["padded.zip"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "MAX_UNZIPPED_BYTES", 100 * 1024 * 1024)
        _rejected(_upload(api, path), "file", "expands to", "over the limit")


def test_raster_over_the_pixel_limit_is_refused_before_reading(api, tmp_path):
    path = tmp_path / "huge.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=50_000, height=50_000, count=1, dtype="uint8",
        crs="EPSG:3067", transform=from_origin(385000, 6672000, 1.0, 1.0),
        tiled=True, sparse_ok=True, compress="deflate",
    ) as ds:  # fmt: skip
        ds.write(np.ones((256, 256), dtype="uint8"), 1, window=((0, 256), (0, 256)))
    assert path.stat().st_size < 1_000_000
    before = _uploads()
    _rejected(_upload(api, path), "file", "pixels", "limit", status=413)
    assert _uploads() == before


def _geojson(tmp_path, name, coordinates) -> Path:
    path = tmp_path / name
    features = [
        {"type": "Feature", "properties": {"k": i}, "geometry": {"type": "Point", "coordinates": c}}
        for i, c in enumerate(coordinates)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_projected_coordinates_without_crs_are_refused_with_a_hint(api, tmp_path):
    path = _geojson(tmp_path, "etrs.geojson", [[385000, 6671000], [385100, 6671100]])
    _rejected(_upload(api, path), "crs", "projected", "crs")
    # with the CRS given, the same file imports where it belongs
    response = _upload(api, path, crs="EPSG:3067")
    assert response.status_code == 202, response.content


def test_out_of_range_lon_lat_is_refused(api, tmp_path):
    path = _geojson(tmp_path, "far.geojson", [[500, 95], [24.9, 60.1]])
    _rejected(_upload(api, path), "file", "longitude")


def test_nan_coordinates_are_rejected_rows_never_stored(api, tmp_path, celery_worker_process):
    frame = gpd.GeoDataFrame(
        {"k": [1, 2]},
        geometry=[
            shapely.box(24.9, 60.1, 24.91, 60.11),
            shapely.Polygon([(24.9, 60.1), (np.nan, 60.11), (24.91, 60.1)]),
        ],
        crs=4326,
    )
    path = tmp_path / "nan.gpkg"
    frame.to_file(path, driver="GPKG")
    job = wait_for_job(_upload(api, path).json()["id"])
    assert job.status == "succeeded", job.error
    assert [r["row"] for r in job.report["rejected"]] == [2]
    assert "finite" in job.report["rejected"][0]["reason"]
    layer = Layer.objects.get(slug=job.report["layer"])
    assert [f.geom.geom_type for f in Feature.objects.filter(layer=layer)] == ["Polygon"]


def test_checkable_problems_are_400_at_once(api, user, tmp_path):
    City.objects.create(name="Testville", local_epsg=3067)
    from layers.roles import grant

    grant(user, City.objects.get(name="Testville"), "editor")
    frame = gpd.GeoDataFrame(
        {"h": [5.0]}, geometry=[shapely.box(24.9, 60.1, 24.91, 60.11)], crs=4326
    )
    path = tmp_path / "b.gpkg"
    frame.to_file(path, driver="GPKG")
    before = _uploads()
    _rejected(
        _upload(api, path, target="buildings", city="Testville", mapping='{"height_m": "hoehe"}'),
        "mapping.height_m",
        "hoehe",
    )
    _rejected(_upload(api, path, name="x", city="Atlantis"), "city", "atlantis")
    fake = tmp_path / "fake.geojson"
    fake.write_text("name,wkt\na,POINT(24.9 60.1)\n")
    _rejected(_upload(api, fake), "file", "not geojson")
    assert _uploads() == before


def test_unreadable_file_message_names_no_server_path(api, tmp_path):
    corrupt = tmp_path / "corrupt.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 500)
    body = _rejected(_upload(api, corrupt), "file", "cannot read")
    assert body["error"].endswith((")", ".")), body  # whole words, not cut at 200 characters
