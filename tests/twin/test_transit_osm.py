"""Transit lines from OSM route relations (Helsinki's demo extract): tram lines with their
stops in order, default headways and speeds marked per line, into the engine's input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import shapely
from django.core.management import call_command

from layers.importers.osm import demo_pbf
from layers.models import City
from transit.engine_input import transit_supply
from transit.models import Feed, Pattern, Route, Stop
from transit.modes import DEFAULTS
from transit.osm_lines import chain_ways, parse_interval

pytestmark = pytest.mark.django_db


def test_helsinki_tram_lines_from_osm():
    out = io.StringIO()
    call_command("import_osm_transit", "Helsinki", "--json", stdout=out)
    report = json.loads(out.getvalue())
    feed = Feed.objects.get(pk=report["feed_id"])
    assert feed.source == "osm" and feed.city.name == "Helsinki"
    # the extract holds 20 tram route relations (lines 1-10, 6T, both directions)
    trams = Pattern.objects.filter(feed=feed, route__mode="tram").select_related("route", "shape")
    assert report["lines_per_mode"]["tram"] == trams.count() == 20
    assert {p.route.short_name for p in trams} >= {"1", "2", "3", "4", "5", "6", "7", "9", "10"}
    assert Route.objects.get(feed=feed, osm_id=52918).long_name == "1 Eira–Töölö–Käpylä"
    local = feed.city.local_epsg
    for pattern in trams:
        assert len(pattern.stop_ids) >= 3
        assert not pattern.shape.derived  # drawn along the relation's tracks
        # stops in order: each stop's own nearest point on the track lies further along
        # than the one before (the relation's member order agrees with the geometry)
        track = shapely.from_wkb(bytes(pattern.shape.geom.transform(local, clone=True).wkb))
        stops = {s.stop_id: s for s in Stop.objects.filter(feed=feed, stop_id__in=pattern.stop_ids)}
        points = [
            shapely.from_wkb(bytes(stops[s].geom.transform(local, clone=True).wkb))
            for s in pattern.stop_ids
        ]
        along = np.array([track.project(p) for p in points])
        assert np.all(np.diff(along) > 0), (pattern.route.short_name, along)
        assert max(track.distance(p) for p in points) < 100  # platforms beside the track, m
        assert sum(pattern.segment_m) == pytest.approx(pattern.length_m)
        assert 100 < min(pattern.segment_m) and max(pattern.segment_m) < 1000  # tram stop spacing
        # no timetable in OSM: the documented defaults, said on the line
        assert pattern.default_headway_s == DEFAULTS["tram"].headway_s
        assert pattern.default_speed_kph == DEFAULTS["tram"].speed_kph
        assert "default for the mode" in pattern.defaults_source
    assert report["lines_per_mode"].get("bus", 0) > 0

    supply = transit_supply(feed.city, 7, 9, "tuesday")
    line = next(ln for ln in supply.lines if ln.line_id == f"{feed.slug}/r52918")
    assert line.mode == "tram" and line.headway_s == 600
    speed_ms = DEFAULTS["tram"].speed_kph / 3.6
    assert line.segment_time_s == pytest.approx([m / speed_ms for m in line.route_m])
    assert line.capacity_per_h == pytest.approx(6 * DEFAULTS["tram"].vehicle_capacity)


def test_import_option_and_helpers(tmp_path):
    """The same import as a target of import_file (and POST /api/imports/)."""
    path = tmp_path / "helsinki.osm.pbf"
    path.write_bytes(open(demo_pbf("helsinki"), "rb").read())
    out = io.StringIO()
    call_command(
        "import_file", str(path), "--target", "transit_osm", "--city", "Helsinki", "--json",
        stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert report["target"] == "transit_osm" and report["lines_per_mode"]["tram"] == 20
    assert City.objects.get(name="Helsinki").transit_feeds.count() == 1
    # an interval tag gives the headway; a way given backwards is turned
    assert parse_interval("10") == 600 and parse_interval("00:07:30") == 450
    assert parse_interval("often") is None
    a, b = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[2.0, 0.0], [1.0, 0.0]])
    assert chain_ways([a, b]).tolist() == [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]


def test_city_source_pbf_found_in_the_data_folder(tmp_path, monkeypatch):
    """A city imported from a file elsewhere (Andorra from $CITYTWIN_DATA/osm/) finds it again
    by name and SHA-256: the city keeps only the name. A same-named file with other bytes does
    not count, and a city whose file is nowhere is told where it was looked for."""
    from django.core.management.base import CommandError

    from layers.geo import sha256_file
    from transit.management.commands.import_osm_transit import city_pbf

    demo = demo_pbf("kotka")
    city = City.objects.create(
        name="Elsewhere", local_epsg=32635, source_file="elsewhere-latest.osm.pbf",
        source_sha256=sha256_file(demo),
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITYTWIN_DATA", str(tmp_path / "data"))
    with pytest.raises(CommandError, match=r"elsewhere-latest.osm.pbf.*data/osm.*--pbf"):
        city_pbf(city)
    (tmp_path / "data" / "osm").mkdir(parents=True)
    (tmp_path / "elsewhere-latest.osm.pbf").write_bytes(b"not this one")
    with pytest.raises(CommandError):
        city_pbf(city)
    kept = tmp_path / "data" / "osm" / "elsewhere-latest.osm.pbf"
    kept.write_bytes(open(demo, "rb").read())
    assert city_pbf(city) == kept
