"""The synthetic city generator's output loads into the twin unchanged."""

import pytest
from django.core.management import CommandError, call_command

from layers.models import Building, City, RoadEdge
from simulators.synthetic import generate_city

pytestmark = pytest.mark.django_db


def test_load_synthetic_city_matches_generator_output():
    call_command("load_synthetic_city", "Synth", "--links", "600", "--seed", "3")
    expected = generate_city(n_road_links=600, seed=3)
    city = City.objects.get(name="Synth")
    assert city.local_epsg == 32635
    assert Building.objects.filter(city=city).count() == len(expected.buildings)
    assert RoadEdge.objects.filter(city=city).count() == len(expected.edges)
    # the generator keeps the network strongly connected; the twin flags all of it
    assert not RoadEdge.objects.filter(city=city, in_largest_scc=False).exists()
    total = sum(Building.objects.filter(city=city).values_list("residents", flat=True))
    assert total == pytest.approx(expected.buildings["residents"].sum())
    with pytest.raises(CommandError):
        call_command("load_synthetic_city", "Synth", "--links", "600")
