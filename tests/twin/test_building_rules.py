"""Height parsing and derivation rules (no database)."""

import pytest

from layers.importers.building_rules import derive_height, parse_height_m, parse_levels


@pytest.mark.parametrize(
    "text,expected",
    [
        ("12", 12.0),
        ("12 m", 12.0),
        ("12,5", 12.5),
        ("3;4", 4.0),
        ("40 ft", 12.192),
        ("12'", 3.6576),
    ],
)
def test_osm_height_text_is_parsed(text, expected):
    value, problem = parse_height_m(text)
    assert problem is None
    assert value == pytest.approx(expected)


@pytest.mark.parametrize("text", ["tall", "-3", "0", "5000"])
def test_unusable_height_is_reported(text):
    value, problem = parse_height_m(text)
    assert value is None and problem


def test_levels_fallback_and_type_default():
    assert derive_height("apartments", None, "5")[:2] == (16.0, "osm_levels")
    assert derive_height("apartments", "tall", "5")[1] == "osm_levels"
    assert derive_height("house", None, None)[:2] == (7.0, "type_default")
    assert derive_height("yes", None, None)[:2] == (9.0, "type_default")
    assert parse_levels("3;4") == (4.0, None)
