"""Power grids: pandapower JSON import (API, CLI, job), exact export, bad input, and the
external truth of pandapower's own case118 and mv_oberrhein after outages."""

from __future__ import annotations

import json

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandapower.topology as top
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from pandapower.contingency import run_contingency
from pandapower.toolbox import nets_equal

from citytwin.scenarios.edits import validate_edits
from layers.importers.files import inspect_upload, run_import
from layers.models import City
from simulators.power.flow import n_minus_1, solve
from utilities.power.convert import grid_to_net
from utilities.power.models import Bus, Grid, Line, Load, Transformer
from utilities.power.runs import scenario_net


@pytest.fixture(scope="module")
def oberrhein_json():
    return pp.to_json(pn.mv_oberrhein())


@pytest.fixture(scope="module")
def case118_json():
    return pp.to_json(pn.case118())


def _city(name="Oberrhein", epsg=32632):
    return City.objects.get_or_create(name=name, defaults={"local_epsg": epsg})[0]


def _import(tmp_path, text: str, **params) -> dict:
    path = tmp_path / "grid.json"
    path.write_text(text)
    params = {"target": "power_grid", **params}
    inspect_upload(path, params)
    return run_import(path, params, None)


def _same_results(a, b) -> None:
    pp.runpp(a)
    pp.runpp(b)
    assert np.allclose(a.res_bus.vm_pu, b.res_bus.vm_pu.loc[a.res_bus.index], atol=1e-10)
    assert np.allclose(
        a.res_line.loading_percent, b.res_line.loading_percent.loc[a.res_line.index], atol=1e-8
    )


@pytest.mark.django_db
def test_mv_oberrhein_round_trip_outages_and_n_minus_1(tmp_path, oberrhein_json):
    """mv_oberrhein imported into the twin: exported again it is the same net; the same
    outages give pandapower's own unsupplied buses and voltages; N-1 gives
    pandapower.contingency's loadings and voltages."""
    city = _city()
    report = _import(tmp_path, oberrhein_json, city="Oberrhein")
    original = pp.from_json_string(oberrhein_json)
    assert report["imported"]["bus"] == len(original.bus) == 179
    assert report["imported"]["line"] == 181 and report["imported"]["trafo"] == 2
    assert report["coordinates"].startswith("geodata in lon/lat")
    grid = Grid.objects.get(pk=report["grid"])
    # the twin keeps geometry in lon/lat where the file had it
    bus = Bus.objects.get(grid=grid, pp_index=0)
    assert bus.geom.coords == pytest.approx((7.765225672614365, 48.41091584192147))
    line = Line.objects.get(grid=grid, pp_index=0)
    assert len(line.geom.coords) > 2 and line.max_i_ka == pytest.approx(0.362)
    assert Transformer.objects.get(grid=grid, pp_index=114).vn_hv_kv == 110.0
    assert Load.objects.filter(grid=grid).count() == 147
    exported = grid_to_net(grid)
    assert nets_equal(original, exported, check_without_results=True)
    # and through a JSON file again (what GET .../export/ serves)
    again = pp.from_json_string(pp.to_json(exported))
    assert nets_equal(original, again, check_without_results=True)
    _same_results(original, again)
    _check_outages(
        grid,
        city,
        pn.mv_oberrhein,
        [{"line": [0, 5, 21]}, {"trafo": [114]}, {"substation": [39]}],  # 39: LV side of 114
    )
    _check_n_minus_1(grid, city)
    _check_demand_change(grid, city)


def _check_n_minus_1(grid, city) -> None:
    """N-1 over a sample of lines (every 12th: 16 cases; the bench runs all 181) against
    pandapower.contingency.run_contingency on the same lines."""
    net = scenario_net(grid, city, []).net
    lines = net.line.index[::12].tolist()
    cases, agg = n_minus_1(net, lines)
    ref = pn.mv_oberrhein()
    ref.line["max_loading_percent"] = 100.0
    ref.trafo["max_loading_percent"] = 100.0
    res = run_contingency(ref, {"line": {"index": np.array(lines)}})
    assert len(cases) == len(lines) and all(c.converged for c in cases)
    for ours, theirs in (
        (agg["line"]["max_loading_percent"], res["line"]["max_loading_percent"]),
        (agg["line"]["min_loading_percent"], res["line"]["min_loading_percent"]),
        (agg["bus"]["max_vm_pu"], res["bus"]["max_vm_pu"]),
        (agg["bus"]["min_vm_pu"], res["bus"]["min_vm_pu"]),
    ):
        assert np.allclose(ours, theirs, atol=1e-6, equal_nan=True)
    assert sum(len(c.unsupplied) > 0 for c in cases) > 3  # radial feeders: outages cut off
    # the topology-only N-1 (no power flow): the same buses cut off in every case, and the
    # same as the buses pandapower's own power flow leaves without voltage (isolated)
    topo, topo_agg = n_minus_1(net, lines, power_flow=False)
    assert [c.unsupplied for c in topo] == [c.unsupplied for c in cases]
    assert (
        not any(c.converged for c in topo)
        and np.isnan(topo_agg["line"]["max_loading_percent"]).all()
    )
    for case in [c for c in topo if c.unsupplied][:4]:
        direct = pn.mv_oberrhein()
        direct.line.at[case.line, "in_service"] = False
        pp.runpp(direct)
        assert set(direct.res_bus.index[direct.res_bus.vm_pu.isna()]) == case.unsupplied


def _check_demand_change(grid, city) -> None:
    base = scenario_net(grid, city, []).net
    edits = validate_edits(city, [{"type": "power_demand_change", "factor": 1.5}])
    more = scenario_net(grid, city, edits).net
    assert (more.load.p_mw * more.load.scaling).sum() == pytest.approx(
        1.5 * (base.load.p_mw * base.load.scaling).sum()
    )
    with pytest.raises(Exception, match="factor: must be <= 5"):
        validate_edits(city, [{"type": "power_demand_change", "factor": 50}])


@pytest.mark.django_db
def test_case118_with_schematic_coordinates_is_placed_at_the_city(tmp_path, case118_json):
    helsinki = City.objects.get(name="Helsinki")
    report = _import(tmp_path, case118_json, city="Helsinki", coordinates="schematic")
    assert "placed at the centre of Helsinki" in report["coordinates"]
    grid = Grid.objects.get(pk=report["grid"])
    lon, lat = np.array([b.geom.coords for b in Bus.objects.filter(grid=grid)]).T
    assert 24.7 < lon.min() < lon.max() < 25.2 and 60.1 < lat.min() < lat.max() < 60.3
    assert grid.city == helsinki
    original = pp.from_json_string(case118_json)
    exported = grid_to_net(grid)  # the file's own schematic geodata come back
    assert nets_equal(original, exported, check_without_results=True)
    _same_results(original, exported)
    # lines 6, 103, 170 are bridges of the meshed grid: each cuts a bus off
    _check_outages(grid, helsinki, pn.case118, [{"line": [6, 103, 170]}, {"substation": [8, 9]}])


def _upload(api, text: str, name="grid.json", **params):
    upload = SimpleUploadedFile(name, text.encode(), content_type="application/json")
    return api.post("/api/imports/", {"file": upload, "target": "power_grid", **params})


@pytest.mark.django_db
def test_bad_grid_files_are_refused_naming_the_problem(api, oberrhein_json):
    _city()
    before = Grid.objects.count(), Bus.objects.count()
    doc = json.loads(oberrhein_json)
    newer = json.loads(oberrhein_json)
    newer["_object"]["format_version"] = "9.0.0"
    older = json.loads(oberrhein_json)
    older["_object"]["format_version"] = "1.6.0"
    no_geo = pp.from_json_string(oberrhein_json)
    no_geo.bus["geo"] = None
    geojson = {"type": "FeatureCollection", "features": []}
    cases = [
        ("{not json", "file", "not JSON"),
        (json.dumps(geojson), "file", "not a pandapower net"),
        (json.dumps(newer), "format_version", "format 9.0.0"),
        (json.dumps(older), "format_version", "format 1.6.0"),
        (pp.to_json(no_geo), "geodata", "179 of 179 buses have no coordinates"),
    ]
    for text, field, words in cases:
        response = _upload(api, text, city="Oberrhein")
        assert response.status_code == 400, (field, response.content)
        body = response.json()
        assert body["field"] == field and words in body["error"], body
    response = _upload(api, oberrhein_json, city="Atlantis")
    assert response.status_code == 400 and response.json()["field"] == "city"
    response = _upload(api, oberrhein_json, name="grid.csv", city="Oberrhein")
    assert response.status_code == 400 and response.json()["field"] == "file"
    assert (Grid.objects.count(), Bus.objects.count()) == before
    assert doc["_class"] == "pandapowerNet"


@pytest.mark.django_db
def test_cli_import_and_its_refusal(tmp_path, capsys):
    """pandapower's case9 without its geodata: a plain import is refused naming geodata, and
    coordinates=generate places a layout of its topology at the city."""
    net = pn.case9()
    net.bus["geo"] = None
    path = tmp_path / "case9.json"
    path.write_text(pp.to_json(net))
    net = pp.from_json_string(path.read_text())  # the file as pandapower reads it
    with pytest.raises(CommandError, match="geodata"):
        call_command("import_file", str(path), "--target", "power_grid", "--city", "Helsinki")
    call_command(
        "import_file", str(path), "--target", "power_grid", "--city", "Helsinki",
        "--coordinates", "generate", "--json",
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert "Kamada-Kawai" in report["coordinates"]
    assert report["imported"]["bus"] == len(net.bus)
    grid = Grid.objects.get(pk=report["grid"])
    exported = grid_to_net(grid)
    assert nets_equal(net, exported, check_without_results=True)
    # a user's mapping links a building to a bus of their choice; a bad row is refused
    from layers.models import Building
    from utilities.power.models import ServicePoint

    building = (
        Building.objects.filter(city__name="Helsinki", residents__gt=0).order_by("id").first()
    )
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(f"building,bus\n{building.id},3\n")
    call_command("power_service_mapping", str(mapping), "--grid", str(grid.pk))
    point = ServicePoint.objects.get(grid=grid, building=building)
    assert point.source == "mapping" and point.bus.pp_index == 3
    assert point.demand_kw > 0
    mapping.write_text("building,bus\n999999999,3\n")
    with pytest.raises(CommandError, match="row2.building"):
        call_command("power_service_mapping", str(mapping), "--grid", str(grid.pk))


def _check_outages(grid, city, make, outages) -> None:
    """The same outages on the imported grid and on pandapower's net directly: the same
    unsupplied buses and the same voltages."""
    for out in outages:
        edits = []
        if "line" in out:
            ids = Line.objects.filter(grid=grid, pp_index__in=out["line"])
            edits.append({"type": "line_outage", "lines": list(ids.values_list("id", flat=True))})
        if "trafo" in out:
            ids = Transformer.objects.filter(grid=grid, pp_index__in=out["trafo"])
            edits.append(
                {
                    "type": "transformer_outage",
                    "transformers": list(ids.values_list("id", flat=True)),
                }
            )
        if "substation" in out:
            ids = Bus.objects.filter(grid=grid, pp_index__in=out["substation"])
            edits.append(
                {"type": "substation_outage", "buses": list(ids.values_list("id", flat=True))}
            )
        edits = validate_edits(city, edits)
        ours = solve(scenario_net(grid, city, edits).net)
        net = make()
        if "line" in out:
            net.line.loc[out["line"], "in_service"] = False
        if "trafo" in out:
            net.trafo.loc[out["trafo"], "in_service"] = False
        for bus in out.get("substation", []):  # by hand: the bus and all on it
            net.bus.loc[bus, "in_service"] = False
            for table, a, b in (("line", "from_bus", "to_bus"), ("trafo", "hv_bus", "lv_bus")):
                hit = (net[table][a] == bus) | (net[table][b] == bus)
                net[table].loc[hit, "in_service"] = False
            for table in ("load", "sgen", "gen", "ext_grid"):
                net[table].loc[net[table].bus == bus, "in_service"] = False
        expected = set(map(int, top.unsupplied_buses(net))) | set(
            map(int, net.bus.index[~net.bus.in_service])
        )
        assert ours.unsupplied == expected, out
        assert len(expected) > 0, out  # every case cuts something off: the check can fail
        pp.runpp(net)
        vm = net.res_bus.vm_pu.reindex(ours.bus_index).to_numpy()
        assert np.allclose(ours.vm_pu, vm, atol=1e-8, equal_nan=True), out


@pytest.mark.django_db
def test_helsinki_coarse_grid_from_osm_power_lines_and_substations():
    """Helsinki's demo extract has OSM power features but no utility model: the coarse grid is
    built, says so, links buildings, and a substation outage cuts off exactly them."""
    from utilities.power.models import ServicePoint
    from utilities.power.osm_grid import build_osm_grid

    city = City.objects.get(name="Helsinki")
    report = build_osm_grid(city, tolerance_m=1000)
    assert "not a utility's model" in report["coarse_topology"]
    grid = Grid.objects.get(pk=report["grid"])
    assert grid.source == "osm_coarse"
    assert report["imported"]["bus"] >= 1 and report["imported"]["ext_grid"] >= 1
    linked = report["service_points"]["linked"]
    assert linked > 0
    base = solve(scenario_net(grid, city, []).net)
    assert base.converged and base.unsupplied == set()
    served_by = set(ServicePoint.objects.filter(grid=grid).values_list("bus_id", flat=True))
    edits = validate_edits(city, [{"type": "substation_outage", "buses": sorted(served_by)}])
    cut = solve(scenario_net(grid, city, edits).net)
    pp_of = dict(Bus.objects.filter(grid=grid).values_list("id", "pp_index"))
    assert {pp_of[b] for b in served_by} <= cut.unsupplied
