"""GTFS import: the Cairns feed against gtfs_kit's trip statistics, the validation report,
bad input (4xx at once or a failed job, nothing half-written), and the import through the
same API, job and worker as every other import."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import shapely

from layers.geo import to_geos
from layers.importers import ImportRejected
from layers.models import City
from tests.conftest import data_dir
from transit.importer import run_gtfs_import
from transit.models import Calendar, CalendarDate, Feed, Pattern, Route, Shape, Stop, StopTime, Trip

CAIRNS_ZIP = data_dir() / "gtfs" / "cairns_gtfs.zip"
CAIRNS_STATS = data_dir() / "gtfs" / "cairns_trip_stats.csv"
#: the Cairns urban area (Palm Cove to Gordonvale), lon/lat; UTM zone 55 south
CAIRNS_BOX = (145.60, -17.15, 145.85, -16.70)


#: five stops (an orphan, one in Brisbane), a trip without stop times, 25:10:00, no shapes
SMALL_FEED = {
    "agency.txt": "agency_name,agency_url,agency_timezone\nTest,http://x,Australia/Brisbane\n",
    "stops.txt": (
        "stop_id,stop_name,stop_lat,stop_lon\n"
        "A,Alpha,-16.92,145.77\nB,Beta,-16.93,145.76\nC,Gamma,-16.95,145.75\n"
        "O,Orphan,-16.94,145.74\nFAR,Brisbane,-27.47,153.02\n"
    ),
    "routes.txt": "route_id,route_short_name,route_type\nR1,1,3\nR2,2,0\n",
    "trips.txt": (
        "route_id,service_id,trip_id,direction_id\n"
        "R1,WK,T1,0\nR1,WK,T2,0\nR2,WK,EMPTY,0\nR2,WK,LONG,1\n"
    ),
    "stop_times.txt": (
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        "T1,25:00:00,25:00:00,A,1\nT1,,,B,2\nT1,25:10:00,25:10:00,C,3\n"
        "T2,08:00:00,08:00:00,A,1\nT2,08:05:00,08:05:00,B,2\nT2,08:10:00,08:10:00,C,3\n"
        "LONG,09:00:00,09:00:00,C,1\nLONG,18:00:00,18:00:00,FAR,2\n"
    ),
    "calendar.txt": (
        "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
        "start_date,end_date\nWK,1,1,1,1,1,0,0,20240101,20241231\n"
    ),
}


def make_cairns() -> City:
    boundary = shapely.MultiPolygon([shapely.box(*CAIRNS_BOX)])
    return City.objects.create(name="Cairns", local_epsg=32755, boundary=to_geos(boundary))


def feed_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def cairns_files(**changes) -> dict[str, str]:
    """The Cairns feed's files as text, with some replaced (None removes a file)."""
    with zipfile.ZipFile(CAIRNS_ZIP) as archive:
        files = {n: archive.read(n).decode("utf-8-sig") for n in archive.namelist()}
    for name, text in changes.items():
        name = name.replace("_txt", ".txt")
        if text is None:
            files.pop(name)
        else:
            files[name] = text
    return files


@pytest.fixture
def cairns(db):
    return make_cairns()


@pytest.fixture
def cairns_feed(cairns, tmp_path):
    path = tmp_path / "cairns_gtfs.zip"
    path.write_bytes(CAIRNS_ZIP.read_bytes())
    report = run_gtfs_import(path, {"city": "Cairns"}, None)
    return Feed.objects.get(pk=report["feed_id"]), report


def test_cairns_trips_match_gtfs_kit(cairns_feed):
    """Every trip's distance and duration within 1 % of gtfs_kit's statistics (outside truth)."""
    feed, report = cairns_feed
    ref = pd.read_csv(CAIRNS_STATS, dtype={"trip_id": str, "route_id": str})
    ours = pd.DataFrame(
        Trip.objects.filter(feed=feed).values("trip_id", "start_s", "end_s", "distance_m")
    )
    both = ref.merge(ours, on="trip_id", how="outer", indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"].head()
    assert len(both) == len(ref) == 1339
    dist_km = both["distance_m"] / 1000.0
    assert ((dist_km - both["distance"]).abs() / both["distance"]).max() < 0.01
    hours = (both["end_s"] - both["start_s"]) / 3600.0
    assert ((hours - both["duration"]).abs() / both["duration"]).max() < 0.01
    # start times are the reference's HH:MM:SS, past midnight included
    start = pd.to_timedelta(both["start_time"]).dt.total_seconds()
    assert (start == both["start_s"]).all()
    assert (both["start_s"] >= 24 * 3600).sum() == (start >= 24 * 3600).sum() > 0

    counts = report["counts"]
    assert counts["routes"] == Route.objects.filter(feed=feed).count() == 22
    assert counts["stops"] == Stop.objects.filter(feed=feed).count() == 416
    assert StopTime.objects.filter(trip__feed=feed).count() == counts["stop_times"] == 37_790
    assert Calendar.objects.filter(feed=feed).count() == 4
    assert CalendarDate.objects.filter(feed=feed).count() == 9
    assert counts["shapes_derived"] == 0
    # the Sunday service of calendar.txt runs to 28 December (the README's "26" is weekdays)
    assert str(feed.service_start) == "2014-05-26" and str(feed.service_end) == "2014-12-28"
    assert feed.timezone == "Australia/Brisbane"
    assert any("past midnight" in note for note in report["notes"])
    # every route has a line on the map; patterns' segments add up to their length
    assert not Route.objects.filter(feed=feed, geom__isnull=True).exists()
    for pattern in Pattern.objects.filter(feed=feed):
        assert len(pattern.segment_m) == len(pattern.stop_ids) - 1
        assert sum(pattern.segment_m) == pytest.approx(pattern.length_m, rel=1e-9)
    assert feed.report["summary"].startswith("22 routes, 416 stops, 1339 trips")


def test_validation_report_of_a_small_broken_feed(cairns, tmp_path):
    """Orphan stops, a trip without stop times, 25:10:00, no shapes, a stop far away."""
    report = run_gtfs_import(feed_zip(tmp_path / "small.zip", SMALL_FEED), {"city": "Cairns"}, None)
    codes = {w["code"]: w["message"] for w in report["warnings"]}
    assert "EMPTY" in codes["trips_without_stop_times"]
    assert "O" in codes["orphan_stops"] and "FAR" not in codes["orphan_stops"]
    assert "FAR (1,36" in codes["stops_far_outside"]  # Brisbane: ~1,360 km beyond the box
    assert "drawn through the stops" in codes["shapes_derived"]
    assert any("calendar_dates.txt is not in the feed" in n for n in report["notes"])
    feed = Feed.objects.get(pk=report["feed_id"])
    t1 = Trip.objects.get(feed=feed, trip_id="T1")
    assert (t1.start_s, t1.end_s) == (25 * 3600, 25 * 3600 + 600)
    middle = StopTime.objects.get(trip=t1, stop_sequence=2)
    assert middle.interpolated and t1.start_s < middle.arrival_s < t1.end_s
    assert not Trip.objects.filter(feed=feed, trip_id="EMPTY").exists()
    assert Stop.objects.get(feed=feed, stop_id="O").served is False
    assert Stop.objects.get(feed=feed, stop_id="FAR").outside_city_km > 1000
    assert Stop.objects.get(feed=feed, stop_id="A").outside_city_km is None
    # T1 and T2 share a pattern (A, B, C); LONG is the other one
    assert Shape.objects.filter(feed=feed, derived=True).count() == 2
    pattern = Pattern.objects.get(feed=feed, trip_count=2)
    assert pattern.stop_ids == ["A", "B", "C"]
    # a derived shape runs through the stops: its length is the two straight legs (~1.5 km each)
    assert (
        pattern.length_m == pytest.approx(pattern.shape.length_m) and 2000 < pattern.length_m < 4000
    )
    assert Route.objects.get(feed=feed, route_id="R2").mode == "tram"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"stop_times_txt": None}, "stop_times.txt", "no stop_times.txt"),
        ({"calendar_txt": None, "calendar_dates_txt": None}, "calendar.txt", "neither"),
        (
            {"routes_txt": "route_id,route_short_name,route_type\n110-423,110,42\n"},
            "routes.txt route_type",
            "unknown route_type for route 110-423 ('42')",
        ),
        ({"trips_txt": "route_id,trip_id\nx,y\n"}, "trips.txt service_id", "no service_id"),
    ],
)
def test_rejected_at_once(cairns, tmp_path, changes, field, words):
    from transit.importer import inspect_gtfs_upload

    path = feed_zip(tmp_path / "bad.zip", cairns_files(**changes))
    with pytest.raises(ImportRejected) as caught:
        inspect_gtfs_upload(path, {"city": "Cairns"})
    assert caught.value.field == field and words in caught.value.message


def test_errors_found_in_the_job_write_nothing(cairns, tmp_path):
    text = cairns_files()["stop_times.txt"]
    broken = text.replace("05:50:00,05:50:00,750337", "5h50,05:50:00,750337", 1)
    path = feed_zip(tmp_path / "times.zip", cairns_files(stop_times_txt=broken))
    with pytest.raises(ImportRejected) as caught:
        run_gtfs_import(path, {"city": "Cairns"}, None)
    assert caught.value.field == "stop_times.txt arrival_time"
    assert "line 2: '5h50' is not a time of day" in caught.value.message
    unknown = text.replace(",750337,", ",NOSUCH,", 1)
    path = feed_zip(tmp_path / "stops.zip", cairns_files(stop_times_txt=unknown))
    with pytest.raises(ImportRejected, match="NOSUCH"):
        run_gtfs_import(path, {"city": "Cairns"}, None)
    assert not Feed.objects.exists() and not Stop.objects.exists() and not Trip.objects.exists()


def test_transit_supply_of_cairns_morning_peak(cairns_feed):
    """Departures per route and in-vehicle times equal the feed's own trips (gtfs_kit's
    statistics plus trips.txt's services) on a Tuesday, 07:00-09:00."""
    from simulators.transit.network import TransitSupply
    from transit.engine_input import transit_supply

    feed, _ = cairns_feed
    supply = transit_supply(feed.city, 7, 9, dt.date(2014, 6, 10))
    assert isinstance(supply, TransitSupply) and supply.period == "2014-06-10 07:00-09:00"
    with zipfile.ZipFile(CAIRNS_ZIP) as archive:
        trips = pd.read_csv(archive.open("trips.txt"), dtype=str)
    ref = pd.read_csv(CAIRNS_STATS, dtype={"trip_id": str, "route_id": str}).merge(
        trips[["trip_id", "service_id"]]
    )
    start = pd.to_timedelta(ref["start_time"]).dt.total_seconds()
    peak = ref[
        (ref["service_id"] == "CNS2014-CNS_MUL-Weekday-00")
        & (start >= 7 * 3600)
        & (start < 9 * 3600)
    ]
    assert len(peak) > 20
    departures = {}
    for line in supply.lines:
        route = line.line_id.split("/")[1].split(":")[0]
        departures[route] = departures.get(route, 0) + 7200 / line.headway_s
        assert line.mode == "bus" and line.capacity_per_h == pytest.approx(
            3600 / line.headway_s * 70
        )
    expected = peak.groupby("route_id").size()
    assert {r: round(n, 6) for r, n in departures.items()} == expected.to_dict()
    # a line's in-vehicle times add up to the mean duration of its trips, its segments to
    # their distance (gtfs_kit's, within 1 %)
    by_line = {line.line_id: line for line in supply.lines}
    pattern_of = dict(Trip.objects.filter(feed=feed).values_list("trip_id", "pattern__pattern_id"))
    peak = peak.assign(line_id=feed.slug + "/" + peak["trip_id"].map(pattern_of))
    assert set(by_line) == set(peak["line_id"])
    for line_id, trips_of_line in peak.groupby("line_id"):
        line = by_line[line_id]
        assert sum(line.segment_time_s) == pytest.approx(trips_of_line["duration"].mean() * 3600)
        assert sum(line.route_m) / 1000 == pytest.approx(trips_of_line["distance"].mean(), rel=0.01)
    xs = [s.x_m for s in supply.stops]
    assert 330_000 < min(xs) and max(xs) < 380_000  # UTM 55 south, metres

    # 9 June 2014 (a public holiday): the weekday service is removed and Sunday's added
    holiday = transit_supply(feed.city, 10, 14, dt.date(2014, 6, 9))
    sunday = transit_supply(feed.city, 10, 14, "sunday")
    monday = transit_supply(feed.city, 10, 14, "monday")
    assert holiday.lines and [ln.headway_s for ln in holiday.lines] == [
        ln.headway_s for ln in sunday.lines
    ]
    assert len(monday.lines) > 0 and sum(3600 / ln.headway_s for ln in monday.lines) > sum(
        3600 / ln.headway_s for ln in holiday.lines
    )
    with pytest.raises(ValueError, match="period"):
        transit_supply(feed.city, 9, 7, "monday")
