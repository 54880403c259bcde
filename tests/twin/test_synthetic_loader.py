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


def test_import_file_cli_and_its_errors(tmp_path):
    import geopandas as gpd
    import shapely

    from layers.models import Layer

    path = tmp_path / "parks.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["a", "b"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)],
        crs=3067,
    ).to_file(path)
    call_command("import_file", str(path), "--name", "parks")
    layer = Layer.objects.get(name="parks")
    assert layer.feature_count == 2 and layer.source_crs == "EPSG:3067"
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    with pytest.raises(CommandError, match="file: the file is empty"):
        call_command("import_file", str(empty))
    with pytest.raises(CommandError, match="mapping: not valid JSON"):
        call_command("import_file", str(path), "--mapping", "{oops")
    assert Layer.objects.filter(name="empty").count() == 0


def test_utility_multiline_parts_keep_their_own_lengths(tmp_path):
    import geopandas as gpd
    import shapely

    from layers.models import UtilityLink

    City.objects.create(name="Testville", local_epsg=3067)
    x, y = 385_000.0, 6_672_000.0
    cable = shapely.MultiLineString([[(x, y), (x + 100, y)], [(x, y + 10), (x + 50, y + 10)]])
    path = tmp_path / "cables.gpkg"
    gpd.GeoDataFrame({"net": ["power"]}, geometry=[cable], crs=3067).to_file(path)
    call_command("import_file", str(path), "--target", "utilities", "--city", "Testville")
    lengths = sorted(
        UtilityLink.objects.filter(city__name="Testville").values_list("length_m", flat=True)
    )
    assert lengths == pytest.approx([50.0, 100.0], rel=1e-6)
