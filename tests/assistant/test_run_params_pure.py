"""Run parameters read off a simulator's parameter spec (names, titles, units), and times of
day said in words: pure functions of folded text, no Django."""

from __future__ import annotations

from citytwin.assistant import quantities as q
from citytwin.assistant.normalise import fold
from citytwin.assistant.runparams import params_from_spec

#: the shape ``GET /api/simulators/`` serves (JSON Schema properties with title and x-unit)
WATER = {
    "properties": {
        "duration_h": {"title": "Period", "type": "number", "x-unit": "h"},
        "timestep_min": {"title": "Hydraulic time step", "type": "number", "x-unit": "min"},
        "required_pressure_m": {
            "title": "Pressure for full service",
            "type": "number",
            "x-unit": "m",
        },  # fmt: skip
        "demand_model": {"type": "string", "enum": ["PDD", "DDA"]},
    }
}
POWER = {
    "properties": {
        "overload_percent": {"title": "Overload threshold", "type": "number", "x-unit": "%"},
        "max_iteration": {"title": "Iterations at most", "type": "integer", "x-unit": "1"},
    }
}
EVACUATION = {
    "properties": {
        "mobilisation_scale_min": {
            "title": "Mobilisation scale",
            "type": "number",
            "x-unit": "min",
        },  # fmt: skip
        "horizon_min": {"title": "Horizon", "type": "number", "x-unit": "min"},
        "time_step_s": {"title": "Time step", "type": "number", "x-unit": "s"},
    }
}


def _read(spec, text):
    return params_from_spec(spec, fold(text))


def test_a_number_with_its_unit_goes_to_the_parameter_its_words_name():
    assert _read(WATER, "hydraulic simulation over 72 hours") == {"duration_h": 72}
    assert _read(WATER, "water network simulation with a 15 minute time step") == {
        "timestep_min": 15
    }
    assert _read(WATER, "water run over 3 days in 30 min steps") == {
        "duration_h": 72,
        "timestep_min": 30,
    }
    assert _read(POWER, "power flow with lines over 80 % counted as overloaded") == {
        "overload_percent": 80
    }
    # units convert to the parameter's own: hours to a horizon in minutes, min to s
    assert _read(EVACUATION, "evacuation over 2 hours with a mobilisation scale of 20 min") == {
        "horizon_min": 120,
        "mobilisation_scale_min": 20,
    }
    assert _read(EVACUATION, "a 0.5 min time step") == {"time_step_s": 30}


def test_a_number_no_parameter_word_names_is_left_alone():
    # "after 10 minutes" is an order to leave (an edit), not a run parameter
    assert _read(EVACUATION, "order to leave after 10 minutes") == {}
    assert _read(WATER, "a 500 m zone around the station") == {}
    assert _read(POWER, "grow demand by 20 %") == {}
    # a time of day is no duration
    assert _read(WATER, "water at 14:00") == {}


def test_times_of_day_in_words():
    for text, hours in (
        ("simulate traffic at half past four in the afternoon", 16.5),
        ("evacuation tonight at 22:00", 22.0),
        ("at 3 am", 3.0),
        ("at 08:30", 8.5),
        ("quarter to eight", 7.75),
        ("at 10 tonight", 22.0),
        ("at 4 in the afternoon", 16.0),
        ("five o'clock in the evening", 17.0),
        ("at noon", 12.0),
    ):
        assert q.clock_h(fold(text)).value == hours, text
    assert q.clock_h(fold("500 m around Kiasma")) is None


def test_a_period_after_a_weekday():
    assert q.period_h(fold("run transit for saturday 10-16"))[:2] == (10.0, 16.0)
    assert q.period_h(fold("klo 7-9"))[:2] == (7.0, 9.0)
    assert q.period_h(fold("saturday 16-10")) is None
