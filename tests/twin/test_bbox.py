"""One bbox parser for the whole service: non-finite numbers are a 400 naming bbox, never a 500
and never accepted (``nan`` answered 500, ``-inf,-inf,inf,inf`` was taken)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from layers.geo import BBoxError, bbox_numbers, parse_bbox
from layers.models import Feature, Layer

BAD = ["nan,60,25,61", "-inf,-inf,inf,inf", "24,60,inf,61", "24,nan,25,nan", "1e999,0,0,0"]


@pytest.mark.parametrize("raw", BAD)
def test_parser_refuses_non_finite(raw):
    with pytest.raises(BBoxError, match="finite"):
        parse_bbox(raw)
    with pytest.raises(BBoxError, match="finite"):
        bbox_numbers(raw, allow_heights=True)


def test_parser_accepts_a_box_and_refuses_the_rest():
    assert parse_bbox("24.9, 60.1,25,60.2") == (24.9, 60.1, 25.0, 60.2)
    assert bbox_numbers("1,2,3,4,5,6", allow_heights=True) == (1.0, 2.0, 4.0, 5.0)
    for raw, words in [
        ("1,2,3", "4 comma-separated"),
        ("a,b,c,d", "4 comma-separated"),
        ("25,60,24,61", "min <= max"),
        ("-200,0,0,10", "outside longitude"),
    ]:
        with pytest.raises(BBoxError, match=words):
            parse_bbox(raw)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", BAD)
def test_every_endpoint_answers_400_naming_bbox(raw):
    from citytwin.scenarios.services import baseline_of
    from layers.models import City

    layer = Layer.objects.create(name="bbox test", slug="bbox-test", visibility="public")
    Feature.objects.create(layer=layer, fid=1, geom="POINT(24.95 60.17)", properties={})
    city = City.objects.get(name="Helsinki")
    baseline_of(city)
    client = APIClient()
    for path in [
        "/api/buildings/",
        "/api/road-edges/",
        "/api/road-nodes/",
        "/api/facilities/",
        f"/api/layers/{layer.slug}/features/",
    ]:
        answer = client.get(path, {"bbox": raw})
        assert answer.status_code == 400, (path, answer.status_code)
        assert answer.json()["field"] == "bbox" and "finite" in answer.json()["error"], path
    ogc = client.get("/ogc/collections/buildings/items", {"bbox": raw})
    assert ogc.status_code == 400 and "finite" in ogc.content.decode()
