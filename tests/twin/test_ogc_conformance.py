"""The OGC API - Features Core conformance tests of ``ogctests`` pass against /ogc/.

``ogctests`` runs in its own virtualenv (``.run/venv-ogctests``, made by
``bench/ogc_conformance.py`` on first use) because it pins ``httpx<0.28``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "ogc_conformance", REPO_ROOT / "bench" / "ogc_conformance.py"
)
ogc_conformance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ogc_conformance)

#: abstract tests that need the internet, with the reason; none of Features Core does (every
#: request goes to the server under test, the schemas ship with the package)
NEEDS_INTERNET: dict[str, str] = ogc_conformance.NEEDS_INTERNET
#: the abstract tests of OGC API - Features - Part 1: Core in ogctests 0.1.x
CORE_TESTS = {f"test_ast{n}" for n in range(1, 30)}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_ogctests_features_core_passes_in_full(committed_city, live_server):
    from django.core.management import call_command

    from layers.models import Feature, Layer

    helsinki = committed_city("Helsinki")
    # an imported layer too, so that the suite walks a JSONB-backed collection
    layer = Layer.objects.create(
        city=helsinki,
        name="Conformance points",
        slug="conformance-points",
        geometry_type="Point",
        attribute_schema={"label": "string"},
        feature_count=3,
    )
    centre = helsinki.boundary.centroid
    Feature.objects.bulk_create(
        Feature(layer=layer, fid=i, geom=centre, properties={"label": f"p{i}"}) for i in (1, 2, 3)
    )
    # run results too, so that the edge-results and building-results collections have rows
    call_command("run_scenario", "baseline:Helsinki", "traffic", "--inline")
    call_command(
        "run_scenario", "baseline:Helsinki", "solar", "step_min=120", "cell_m=4", "--inline"
    )
    result = ogc_conformance.run(live_server.url + "/ogc")
    outcomes = result["tests"]
    assert set(outcomes) == CORE_TESTS, result["output"]
    not_passed = {
        name: (outcome, result["messages"].get(name, ""))
        for name, outcome in outcomes.items()
        if outcome != "passed" and name not in NEEDS_INTERNET
    }
    assert not not_passed, not_passed
    assert result["returncode"] == 0, result["output"]
