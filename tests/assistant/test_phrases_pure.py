"""The assistant's pure parts on planners' wording: Catalan and Finnish spellings, who walks,
capacities in vehicles per hour, fractions of a change, actions it does not take."""

from __future__ import annotations

from citytwin.assistant import quantities as q
from citytwin.assistant.normalise import fold, stem_key, tokens, unsupported


def test_catalan_and_finnish_spellings_fold_to_the_same_words():
    assert tokens("Carrer de l'Església") == ["carrer", "de", "l", "esglesia"]
    assert tokens("d’Andorra la Vella") == ["d", "andorra", "la", "vella"]
    assert fold("Col·legi") == fold("Col.legi") == "collegi"
    assert fold("Plaça del Poble") == "placa del poble"
    assert tokens("Stockmann's roof") == ["stockmann", "roof"]
    # Finnish inflection: the place name and its inessive share a key
    assert stem_key(tokens("Karhulassa")) == stem_key(tokens("Karhula"))


def test_quantities_of_walking_and_capacity():
    assert q.walking_share("30% on foot") == 0.3
    assert q.walking_share("half of them walk") == 0.5
    assert q.walking_share("everyone walks") == 1.0
    assert q.walking_share("at 14:00") is None
    assert q.capacity_veh_h("to 1,200 veh/h").value == 1200
    assert q.capacity_veh_h("capacity to 900").value == 900
    assert q.capacity_veh_h("capacity by 20%") is None


def test_a_change_by_a_fraction_keeps_its_direction():
    assert q.percent_change("cut car trips by a quarter").value == 0.75
    assert q.percent_change("grow trips by a third").value == round(1 + 1 / 3, 6)
    assert q.percent_change("increase demand by half").value == 1.5
    assert q.percent_change("reduce demand by half").value == 0.5


def test_sending_and_deleting_are_not_the_assistants_actions():
    assert unsupported("email the results to boss@example.com")
    assert unsupported("send the report to the mayor")
    assert unsupported("delete all scenarios")
    assert unsupported("close Mannerheimintie and send traffic along Bulevardi") is None
    assert unsupported("remove Sanomatalo") is None


def test_a_shelters_capacity_written_after_its_place():
    assert q.capacity_of(fold("shelter in Kansalliskirjasto, capacity 1 200")).value == 1200
    assert q.capacity_of(fold("evacuation centre at the school holding 700")).value == 700
    assert q.capacity_of(fold("Emergency shelter in the sports hall for 1500")).value == 1500
    assert q.capacity_of(fold("a shelter at the hall for 2,000")).value == 2000
    # a bare number that is a time, a distance or a duration is no capacity
    assert q.capacity_of(fold("a shelter at the hall for 15 minutes")) is None
    assert q.capacity_of(fold("a shelter 500 m from the hall")) is None


def test_catalan_avenue_abbreviations_and_speeds_with_spaces():
    assert fold("close av. carlemany") == "close avinguda carlemany"
    assert fold("Av. Meritxell") == "avinguda meritxell"
    # a bare lower-case "av" is Swedish "of", not an avenue
    assert fold("avstängning av Mannerheimintie") == "avstangning av mannerheimintie"
    assert q.speed_kph(fold("Kaserngatan 20 km / h")).value == 20


def test_a_factor_said_as_scale_by_and_a_finnish_radius():
    assert q.percent_change(fold("scale all trips by 0.8")).value == 0.8
    assert q.percent_change(fold("multiply traffic by 50")).value == 50
    assert q.percent_change(fold("scale trips by 20%")).value == 1.2
    assert q.radius_m(fold("vaaravyöhyke 1,5 km säteellä Musiikkitalosta")).value == 1500
    assert q.radius_m(fold("vaaravyöhyke 250 m Pääesikunnan ympärille")).value == 250
