"""GTFS through the import API, job and a real Celery worker; stops and lines as OGC
collections and vector tiles, seen only by whoever may see the feed."""

from __future__ import annotations

import gzip
import math

import mapbox_vector_tile
import pytest
from rest_framework.test import APIClient

from layers.roles import grant
from transit.importer import run_gtfs_import
from transit.models import Feed, Stop

from .conftest import wait_for_job
from .test_transit_gtfs import CAIRNS_ZIP, SMALL_FEED, cairns_files, feed_zip, make_cairns


def _upload(api, path, **params):
    with open(path, "rb") as handle:
        return api.post("/api/imports/", {"file": handle, **params}, format="multipart")


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def _tile_features(client, layer: str, z: int = 11) -> list[dict]:
    x, y = _tile_xy(145.77, -16.92, z)  # Cairns city centre
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
    assert response.status_code == 200
    body = response.content
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    decoded = mapbox_vector_tile.decode(body)
    return decoded.get(layer, {}).get("features", [])


@pytest.mark.django_db(transaction=True)
def test_gtfs_import_job_collections_and_tiles(api, user, tmp_path, celery_worker_process):
    city = make_cairns()
    # a public feed is the city's network: an editor of the city may write it
    refused = _upload(api, CAIRNS_ZIP, target="gtfs", city="Cairns")
    assert refused.status_code == 403 and refused.json()["field"] == "visibility"
    grant(user, city)
    response = _upload(api, CAIRNS_ZIP, target="gtfs", city="Cairns", name="Sunbus Cairns")
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.progress_percent == 100
    assert job.report["counts"]["trips"] == 1339 and job.report["feed"] == "sunbus-cairns"
    feed = Feed.objects.get(slug="sunbus-cairns")
    assert feed.owner == user and feed.source_file == "cairns_gtfs.zip"

    # someone else's private feed: the owner sees it, nobody else
    small = feed_zip(tmp_path / "mine.zip", SMALL_FEED)
    other = type(user).objects.create_user(username="owner-of-private", password="x")
    private = run_gtfs_import(
        small, {"city": "Cairns", "visibility": "private", "name": "Mine"}, other.id
    )
    anonymous = APIClient()
    stops = anonymous.get("/ogc/collections/transit-stops/items?limit=1&f=json").json()
    assert stops["numberMatched"] == 416
    lines = anonymous.get("/ogc/collections/transit-lines/items?limit=100&f=json").json()
    assert lines["numberMatched"] == 22
    assert {f["properties"]["mode"] for f in lines["features"]} == {"bus"}
    owner = APIClient()
    owner.force_authenticate(other)
    mine = owner.get("/ogc/collections/transit-stops/items?limit=1&f=json").json()
    assert mine["numberMatched"] == 416 + 5
    public_tile = _tile_features(anonymous, "transit-lines")
    assert public_tile and {f["properties"]["feed_id"] for f in public_tile} == {feed.id}
    assert {f["properties"]["feed_id"] for f in _tile_features(owner, "transit-stops")} == {
        feed.id,
        private["feed_id"],
    }
    assert Stop.objects.filter(feed_id=private["feed_id"]).count() == 5


def test_bad_feeds_are_4xx_at_once(api, tmp_path, db):
    make_cairns()
    not_zip = tmp_path / "feed.zip"
    not_zip.write_text("stop_id,stop_lat\n")
    checks = [
        (_upload(api, not_zip, target="gtfs", city="Cairns", visibility="private"), "file", "zip"),
        (
            _upload(
                api,
                feed_zip(tmp_path / "nost.zip", cairns_files(stop_times_txt=None)),
                target="gtfs",
                city="Cairns",
                visibility="private",
            ),
            "stop_times.txt",
            "no stop_times.txt",
        ),
        (
            _upload(api, CAIRNS_ZIP, target="gtfs", city="Atlantis", visibility="private"),
            "city",
            "no city named 'atlantis'",
        ),
        (_upload(api, CAIRNS_ZIP, target="gtfs", visibility="private"), "city", "needs the city"),
    ]
    for response, field, words in checks:
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["field"] == field and words in body["error"].lower(), body
    assert not Feed.objects.exists()
