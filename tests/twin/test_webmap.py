"""The web map end to end: Debian's headless Chromium (Playwright) against a live server.

Nothing is mocked: the page is the built bundle, the tiles and the API are the real views on
the test database, runs are done by a real Celery worker. Screenshots go to artifacts/webmap/.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyogrio
import pypdf
import pytest
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from citytwin.scenarios.models import Run, Scenario
from frontend.headless import CHROMIUM, CHROMIUM_ARGS
from layers.models import Building, Layer, RoadEdge

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts" / "webmap"
PASSWORD = "a-test-password"

# every test drives a real browser (several seconds to minutes each)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop in this thread; the ORM calls of these tests
    # are still plain synchronous code between browser steps.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (bin/citytwin installs it)"
    assert (REPO_ROOT / "frontend/static/frontend/build/app.js").exists(), (
        "the web map is not built (bin/citytwin builds it: cd frontend && npm ci && npm run build)"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    # Playwright's wait_for_function evaluates its string predicates with eval, which the page's
    # Content-Security-Policy forbids; test_the_map_runs_under_its_content_security_policy
    # checks the page itself under its policy
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    # every request of every page of this context, the map's tile workers' included
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page.requests = requests
    yield page
    # the page ended without an error said on its status line
    status = page.evaluate(
        "(() => { const s = document.querySelector('#map-status');"
        " return s ? [s.className, s.textContent] : ['', '']; })()"
    )
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
    assert "status-error" not in status[0].split(), f"the page said an error: {status[1]}"


def open_map(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("document.body.dataset.mapReady === '1'", timeout=90_000)
    wait_idle(page)


def wait_idle(page) -> None:
    """Until the map has loaded every tile it wants and drawn them."""
    page.wait_for_function(
        "window.citytwinMap && window.citytwinMap.loaded() && window.citytwinMap.areTilesLoaded()",
        timeout=90_000,
    )
    page.evaluate(
        "() => new Promise(r => { const m = window.citytwinMap; m.once('idle', r); m.triggerRepaint(); })"
    )


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def rendered(page, layer: str) -> list[dict]:
    return page.evaluate(
        "(layer) => window.citytwinMap.getLayer(layer) ? "
        "window.citytwinMap.queryRenderedFeatures({layers: [layer]}).map(f => f.properties) : []",
        layer,
    )


def map_pixels(page, name: str) -> np.ndarray:
    """A screenshot of the map area (saved as an artefact) as an RGB array."""
    png = page.locator("#map").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a screenshot has no CRS
        with MemoryFile(png) as mem, mem.open() as img:
            return img.read()[:3].astype(float)


def count_colour(pixels: np.ndarray, hex_colour: str, tolerance: float = 40) -> int:
    """How many pixels are close to a colour (blending with what lies under allowed for)."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return int((np.abs(pixels - rgb[:, None, None]).max(axis=0) < tolerance).sum())


def sign_in(page, user) -> None:
    page.fill("#login input[name=username]", user.username)
    page.fill("#login input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#whoami:not([hidden])")


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user(username="planner", password=PASSWORD)


def click_lnglat(page, lon: float, lat: float) -> None:
    x, y = page.evaluate(
        "([lon, lat]) => { const p = window.citytwinMap.project([lon, lat]); return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def wait_for_result(page, simulator: str, timeout_s: float = 400) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate("document.body.dataset.result") == simulator:
            return
        status = page.inner_text("#run-status")
        assert "failed" not in status and "refused" not in status, status
        time.sleep(1)
    raise AssertionError(f"no {simulator} result shown: {page.inner_text('#run-status')}")


def create_scenario(page, name: str) -> Scenario:
    page.click("nav.tabs button[data-tab=scenario]")
    page.fill("#scenario-name", name)
    page.click("#scenario-new")
    page.wait_for_function(
        "(n) => document.querySelector('#scenario-status').textContent.includes(n)", arg=name
    )
    return Scenario.objects.get(name=name)


def test_the_map_shows_helsinki_in_3d_with_attributes_layers_and_a_link(
    committed_city, live_server, page
):
    city = committed_city("Helsinki")
    open_map(page, f"{live_server.url}/#city={city.id}")
    # buildings of Helsinki are drawn, extruded, with their attributes
    buildings = rendered(page, "buildings-3d")
    assert len(buildings) > 100
    assert {b["city_id"] for b in buildings} == {city.id}
    ids = {b["id"] for b in buildings}
    assert Building.objects.filter(city=city, id__in=ids).count() == len(ids)
    assert all("height_m" in b and b["height_source"] for b in buildings)
    assert len(rendered(page, "roads")) > 50
    assert "© OpenStreetMap contributors" in page.inner_text(".maplibregl-ctrl-attrib")
    # every request stayed on this server: no external tiles, fonts or scripts (the requests of
    # the map's workers included: the vector tiles are fetched there)
    assert any("/tiles/buildings/" in url for url in page.requests), page.requests
    outside = {
        url
        for url in page.requests
        if not url.startswith(("data:", "blob:")) and origin(url) != live_server.url
    }
    assert not outside, outside
    pixels = map_pixels(page, "helsinki-3d")
    assert pixels.std() > 20, "the map looks blank"
    assert len(np.unique(pixels.reshape(3, -1).T // 16, axis=0)) > 20  # many colours
    # click a building: its attributes, with where its height came from
    tallest = max(buildings, key=lambda b: b["height_m"])
    building = Building.objects.get(pk=tallest["id"])
    page.evaluate("window.citytwinMap.jumpTo({pitch: 0, bearing: 0})")
    wait_idle(page)
    c = building.footprint.point_on_surface
    click_lnglat(page, c.x, c.y)
    popup = page.wait_for_selector(".attr-popup")
    text = popup.inner_text()
    assert "height_source" in text and building.height_source in text
    assert re.search(r"height_m\s+" + re.escape(f"{building.height_m:g}"[:4]), text), text
    # 2D: the flat layer draws, the extruded one does not
    page.click("#btn-2d")
    wait_idle(page)
    assert rendered(page, "buildings-3d") == []
    assert len(rendered(page, "buildings-2d")) > 100
    # street names along the roads, drawn from the glyphs served with the page
    page.evaluate("window.citytwinMap.jumpTo({center: [24.9402, 60.1690], zoom: 16.5})")
    wait_idle(page)
    labels = {f["name"] for f in rendered(page, "road-labels")}
    assert len(labels) >= 3, labels
    assert RoadEdge.objects.filter(city=city, name__in=labels).values(
        "name"
    ).distinct().count() == len(labels)
    assert any("/glyphs/DejaVu%20Sans/0-255.pbf" in url for url in page.requests)
    with_labels = map_pixels(page, "helsinki-street-labels")
    page.evaluate("window.citytwinMap.setLayoutProperty('road-labels', 'visibility', 'none')")
    wait_idle(page)
    without = map_pixels(page, "helsinki-no-street-labels")
    # the labels' dark text: pixels of it drawn where the map without labels has none
    assert count_colour(with_labels, "#333333", 30) > count_colour(without, "#333333", 30) + 300
    # a layer off and a view: the link in the address bar shows the same map
    page.uncheck(".layer-row[data-layer=roads] input[type=checkbox]")
    wait_idle(page)
    assert rendered(page, "roads") == [] and rendered(page, "road-labels") == []
    page.wait_for_function("location.hash.includes('roads:0') && location.hash.includes('16.5')")
    link = page.url
    map_pixels(page, "helsinki-2d-no-roads")
    other = page.context.new_page()
    open_map(other, link)
    view = other.evaluate(
        "(() => { const m = window.citytwinMap; return [m.getCenter().lng, m.getCenter().lat, m.getZoom(), m.getPitch()]; })()"
    )
    assert view[0] == pytest.approx(24.9402, abs=1e-4) and view[1] == pytest.approx(
        60.169, abs=1e-4
    )
    assert view[2] == pytest.approx(16.5, abs=0.01) and view[3] == 0
    assert not other.is_checked(".layer-row[data-layer=roads] input[type=checkbox]")
    assert rendered(other, "roads") == [] and len(rendered(other, "buildings-2d")) > 10
    other.close()


def test_a_gis_user_uploads_a_layer_and_sees_the_report_and_the_layer(
    committed_city, live_server, page, person, celery_worker_process, tmp_path
):
    city = committed_city("Helsinki")
    points = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [24.94 + i * 0.001, 60.17]},
                "properties": {"name": f"bench {i}", "seats": i},
            }
            for i in range(5)
        ]
        + [{"type": "Feature", "geometry": None, "properties": {"name": "no place", "seats": 0}}],
    }
    path = tmp_path / "benches.geojson"
    path.write_text(json.dumps(points))
    # someone else's public layer: listed, but off until asked for
    from django.core.management import call_command

    trees = tmp_path / "trees.geojson"
    trees.write_text(json.dumps({**points, "features": points["features"][:3]}))
    call_command("import_file", str(trees), "--name", "City trees", "--city", city.name)
    others = Layer.objects.get(name="City trees")
    open_map(page, f"{live_server.url}/#city={city.id}&view=24.90,60.20,13,0,0&d=2")
    sign_in(page, person)
    page.click("nav.tabs button[data-tab=layers]")
    others_row = page.wait_for_selector(f".layer-row[data-layer='layer:{others.slug}']")
    assert not others_row.query_selector("input[type=checkbox]").is_checked()
    page.click("nav.tabs button[data-tab=upload]")
    page.set_input_files("#upload-panel input[type=file]", str(path))
    page.fill("#upload-panel input[name=name]", "Park benches")
    page.click("#upload-panel button[type=submit]")
    page.wait_for_function(
        "document.querySelector('.upload-status').textContent.includes('finished')",
        timeout=120_000,
    )
    assert page.get_attribute("#upload-panel .progress", "data-percent") == "100"
    report = page.inner_text(".import-report")
    assert "rejected" in report and "missing or empty geometry" in report, report
    # the report in words, not field names
    assert "Coordinate system found in the file" in report and "crs_detected" not in report
    layer = Layer.objects.get(name="Park benches")
    assert layer.feature_count == 5
    # the new layer is switched on and the map flew to it (the benches span 24.940-24.944 E)
    centre = page.evaluate("window.citytwinMap.getCenter()")
    assert 24.939 < centre["lng"] < 24.945 and 60.169 < centre["lat"] < 60.171, centre
    # the new layer is in the catalogue and drawn from its tiles
    page.click("nav.tabs button[data-tab=layers]")
    row = page.wait_for_selector(f".layer-row[data-layer='layer:{layer.slug}']")
    assert "Park benches" in row.inner_text() and "5 features" in row.inner_text()
    assert row.query_selector("input[type=checkbox]").is_checked()
    wait_idle(page)
    drawn = rendered(page, f"layer:{layer.slug}:circle")
    assert sorted(f["name"] for f in drawn) == [f"bench {i}" for i in range(5)]
    map_pixels(page, "upload-benches")
    # an unreadable file: the error is said in words
    bad = tmp_path / "broken.geojson"
    bad.write_text("{ not json")
    page.click("nav.tabs button[data-tab=upload]")
    page.set_input_files("#upload-panel input[type=file]", str(bad))
    page.click("#upload-panel button[type=submit]")
    page.wait_for_selector(".upload-status.status-error", timeout=120_000)
    assert len(page.inner_text(".upload-status")) > 25


def test_closing_a_road_and_running_traffic_shows_a_coloured_result(
    committed_city, live_server, page, person, celery_worker_process
):
    city = committed_city("Helsinki")
    edge = (
        RoadEdge.objects.filter(city=city, highway="primary", in_largest_scc=True)
        .order_by("-length_m")
        .first()
    )
    mid = edge.geom.interpolate_normalized(0.5)
    open_map(page, f"{live_server.url}/#city={city.id}&view={mid.x},{mid.y},16.5,0,0&d=2")
    sign_in(page, person)
    scenario = create_scenario(page, "Closure")
    # close the road by clicking it on the map
    page.click("#edit-tools button[data-tool=close_road]")
    wait_idle(page)
    click_lnglat(page, mid.x, mid.y)
    page.wait_for_selector("#edit-list li[data-type=close_road]")
    page.click("#edit-tools button[data-tool=stop]")
    scenario.refresh_from_db()
    assert [e["type"] for e in scenario.edits] == ["close_road"]
    closed_id = scenario.edits[0]["edge_ids"][0]
    assert RoadEdge.objects.get(pk=closed_id).geom.distance(mid) < 0.0002
    wait_idle(page)
    assert closed_id in {f["id"] for f in rendered(page, "edits-closed")}
    # run the traffic model with its parameters; the progress bar follows the run
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", "traffic")
    page.fill("#run-params input[name=gap]", "0.001")
    page.click("#run-start")
    wait_for_result(page, "traffic")
    # a 0.3 s run may finish before a poll sees the bar move: its end state stays shown
    page.wait_for_selector("#run-progress[data-percent='100']:not([hidden])")
    run = Run.objects.get(scenario=scenario)
    assert run.params["gap"] == 0.001 and run.job.status == "succeeded"
    assert f"run={run.pk}" in page.url
    wait_idle(page)
    coloured = rendered(page, "result:traffic-vc")
    assert len(coloured) > 20
    ratios = [f["vc_ratio"] for f in coloured if f.get("vc_ratio") is not None]
    assert max(ratios) > min(ratios) >= 0  # colours by v/c vary over the roads
    closed = rendered(page, "result:traffic-closed")
    assert closed and all(f["volume_veh_h"] == 0 for f in closed)
    assert closed_id in {f["edge_id"] for f in closed}
    # the drawn colours: the result layer's ramp colours the map
    before = map_pixels(page, "traffic-closure")
    page.click("nav.tabs button[data-tab=layers]")
    page.uncheck(".layer-row[data-layer='result:traffic'] input[type=checkbox]")
    wait_idle(page)
    after = map_pixels(page, "traffic-closure-layer-off")
    assert np.abs(before - after).sum(axis=0).astype(bool).mean() > 0.01
    page.click("nav.tabs button[data-tab=results]")
    assert "Vehicle hours travelled" in page.inner_text("#kpi-panel")
    assert page.locator("#kpi-panel svg.chart rect").count() >= 2
    assert_traffic_distributions(page, run)
    # the run's results as a file GDAL opens, and its printable report, from the page's links
    run = Run.objects.filter(scenario__name="Closure", simulator="traffic").latest(
        "job__created_at"
    )
    href = page.get_attribute("#kpi-panel a[data-download=edges-gpkg]", "href")
    gpkg = page.request.get(f"{live_server.url}{href}")
    assert gpkg.ok, gpkg.text()
    (ARTIFACTS / "traffic-results.gpkg").write_bytes(gpkg.body())
    frame = pyogrio.read_dataframe(ARTIFACTS / "traffic-results.gpkg")
    assert len(frame) == run.edge_results.count() and "vc_ratio" in frame.columns
    pdf = page.request.get(
        f"{live_server.url}{page.get_attribute('#kpi-panel a[data-download=report]', 'href')}"
    )
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    (ARTIFACTS / "traffic-report.pdf").write_bytes(pdf.body())
    reader = pypdf.PdfReader(io.BytesIO(pdf.body()))
    text = " ".join(p.extract_text() for p in reader.pages)
    assert len(reader.pages) == 2 and "Closure: Traffic" in text and "Close " in text, text
    assert_runs_side_by_side_and_a_like_for_like_swipe(page, run, person)


def assert_runs_side_by_side_and_a_like_for_like_swipe(page, run, person) -> None:
    """A traffic run of the baseline: both runs' KPIs in one table (words, units, difference
    vs the first), and the swipe draws on the baseline's side the layers the scenario's shows."""
    from citytwin.scenarios.services import baseline_of, start_run

    base, _ = start_run(baseline_of(run.scenario.city), "traffic", dict(run.params), person)
    deadline = time.monotonic() + 120
    while base.job.status not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        base.refresh_from_db()
        base.job.refresh_from_db()
    assert base.job.status == "succeeded", base.job.error
    # the link of the page (the result layer is off in it) opened again: the baseline run is
    # now among the runs to compare
    page.reload()
    page.wait_for_function("document.body.dataset.result === 'traffic'", timeout=90_000)
    page.click("nav.tabs button[data-tab=results]")
    page.click("#runs-side summary")
    page.check(f"#runs-side input[value='{base.pk}']")
    table = page.locator("#runs-side table.kpi-side")
    table.wait_for()
    assert table.locator("th[data-run]").count() == 2
    row = table.locator("tr[data-kpi=vehicle_hours]")
    assert row.locator("th").inner_text() == "Vehicle hours travelled"
    first, second = row.locator("td").all_inner_texts()
    number = r"(-?[\d,]+(?:\.\d+)?)"
    assert re.fullmatch(number + " h", first), first
    m = re.fullmatch(number + r" h \(([+−±-]?[\d,.]+) h\)", second)
    assert m, second
    assert float(m[1].replace(",", "")) == pytest.approx(base.kpis["vehicle_hours"], rel=0.01)
    delta = base.kpis["vehicle_hours"] - run.kpis["vehicle_hours"]
    shown = float(m[2].lstrip("+±").replace("−", "-").replace(",", ""))
    assert shown == pytest.approx(delta, rel=0.02, abs=0.1)  # with its sign
    assert "Closure" in table.locator("th[data-run]").first.inner_text()
    page.locator("#runs-side").screenshot(path=str(ARTIFACTS / "runs-side-by-side.png"))
    # the swipe: the result layer is off on the scenario's side, so it is off on the baseline's
    page.select_option("#base-select", str(base.pk))
    page.check("input[name=cmp][value=swipe]")
    page.wait_for_selector("#map-base")
    page.wait_for_function("document.getElementById('map-base').dataset.visibleResults === ''")
    page.click("nav.tabs button[data-tab=layers]")
    page.check(".layer-row[data-layer='result:traffic'] input[type=checkbox]")
    page.wait_for_function(
        "document.getElementById('map-base').dataset.visibleResults"
        " === 'base:traffic-vc base:traffic-closed'"
    )
    wait_idle(page)
    map_pixels(page, "traffic-swipe-like-for-like")


def bar_values(page, chart: str) -> dict[str, float]:
    """The bars of a distribution chart: label -> value (the number before its unit)."""
    texts = page.locator(f"#kpi-panel [data-chart={chart}] text.chart-tick").all_text_contents()
    return {
        label: float(value.split(" ")[0].replace(",", ""))
        for label, value in zip(texts[::2], texts[1::2], strict=True)
    }


def assert_traffic_distributions(page, run) -> None:
    """Share of vehicle-km by v/c band and vehicle-hours of delay by band, against the rows."""
    vc = bar_values(page, "vc")
    assert list(vc) == [
        "v/c under 0.5", "v/c 0.5–0.75", "v/c 0.75–0.9", "v/c 0.9–1.0", "v/c 1.0–1.3",
        "v/c 1.3 and over",
    ]  # fmt: skip
    assert "% of veh·km" in page.inner_text("#kpi-panel [data-chart=vc]")
    assert sum(vc.values()) == pytest.approx(100, abs=0.5)
    # the same shares from the stored rows (volume x the road's length)
    bands = [0, 0.5, 0.75, 0.9, 1.0, 1.3, float("inf")]
    vkm = np.zeros(6)
    for row in run.edge_results.filter(closed=False, volume_veh_h__gt=0).select_related("edge"):
        band = next(i for i in range(6) if bands[i] <= row.vc_ratio < bands[i + 1])
        vkm[band] += row.volume_veh_h * row.edge.length_m / 1000
    expected = 100 * vkm / vkm.sum()
    assert np.abs(np.array(list(vc.values())) - expected).max() < 0.5, (vc, expected)
    assert sum(v > 0 for v in vc.values()) >= 2  # the roads are spread over bands
    delay = bar_values(page, "delay")
    assert list(delay)[0] == "under 10 s" and list(delay)[-1] == "5 min and over"
    assert "veh·h" in page.inner_text("#kpi-panel [data-chart=delay]")
    assert sum(delay.values()) == pytest.approx(run.kpis["delay_vehicle_hours"], rel=0.02, abs=0.4)


def test_solar_time_slider_changes_the_shadow_layer(
    committed_city, live_server, page, person, celery_worker_process
):
    city = committed_city("Helsinki")
    centre = Building.objects.filter(city=city).order_by("-height_m").first().footprint.centroid
    open_map(page, f"{live_server.url}/#city={city.id}&view={centre.x},{centre.y},17,0,0&d=2")
    sign_in(page, person)
    create_scenario(page, "Sun")
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", "solar")
    page.fill("#run-params input[name=date]", "2026-03-20")
    step_min = 10  # short steps: a run long enough to report its progress on the way
    page.fill("#run-params input[name=step_min]", str(step_min))
    page.fill("#run-params input[name=cell_m]", "3")
    # the progress bar follows the run: record every percentage it shows
    page.evaluate(
        """() => {
          const node = document.querySelector('#run-progress');
          window.progressSeen = [];
          new MutationObserver(() => window.progressSeen.push(Number(node.dataset.percent)))
            .observe(node, {attributes: true, attributeFilter: ['data-percent']});
        }"""
    )
    page.click("#run-start")
    wait_for_result(page, "solar")
    seen = page.evaluate("window.progressSeen")
    assert any(0 < p < 100 for p in seen), seen
    assert seen == sorted(seen), f"the progress went back: {seen}"
    assert seen[-1] == 100, seen
    run = Run.objects.get(scenario__name="Sun")
    assert run.params["bbox"] and run.params["step_min"] == step_min
    page.wait_for_selector("#time-bar:not([hidden])")
    slider = page.locator("#time-slider")
    # the first daylight step on Helsinki's clock (sunrise about 06:20 EET; 04:20 in UTC)
    slider.fill("0")
    first_label = page.inner_text("#time-label")
    assert "Helsinki" in first_label and ": 06:" in first_label, first_label
    # the morning (two hours after the first daylight step): low sun, long shadows; the
    # afternoon (two hours before the last): other shadows
    two_hours = 120 // step_min
    slider.fill(str(two_hours))
    wait_idle(page)
    morning = page.evaluate("document.getElementById('map').dataset.shadow")
    label_morning = page.inner_text("#time-label")
    morning_px = map_pixels(page, "solar-morning")
    visible = [
        lid
        for lid in page.evaluate("window.citytwinMap.getStyle().layers.map(l => l.id)")
        if lid.startswith("result:shadow_")
        and page.evaluate(f"window.citytwinMap.getLayoutProperty('{lid}', 'visibility')")
        == "visible"
    ]
    assert visible == [f"result:{morning}"]
    last = int(slider.get_attribute("max"))
    slider.fill(str(last - two_hours))
    wait_idle(page)
    afternoon = page.evaluate("document.getElementById('map').dataset.shadow")
    assert afternoon != morning and afternoon.startswith("shadow_")
    assert page.inner_text("#time-label") != label_morning
    assert f"t={int(afternoon[7:9]) * 60 + int(afternoon[9:11])}" in page.url
    afternoon_px = map_pixels(page, "solar-afternoon")
    changed = np.abs(morning_px - afternoon_px).sum(axis=0) > 30
    assert changed.mean() > 0.01, "the shadows did not move"
    # KPIs and the sun-hours histogram of the roofs
    assert "Mean sun on the ground" in page.inner_text("#kpi-panel")
    assert page.locator("#kpi-panel svg.chart rect").count() >= 3


def test_an_evacuation_replay_advances(
    committed_city, live_server, page, person, celery_worker_process
):
    city = committed_city("Helsinki")
    building = Building.objects.filter(city=city, residents__gt=5).order_by("id").first()
    c = building.footprint.centroid
    open_map(page, f"{live_server.url}/#city={city.id}&view={c.x},{c.y},15.5,0,0&d=2")
    sign_in(page, person)
    scenario = create_scenario(page, "Flood")
    # draw the hazard zone: four corners around the building, Enter closes it
    page.click("#edit-tools button[data-tool=hazard_zone]")
    d = 0.0025
    for dx, dy in ((-d, -d / 2), (d, -d / 2), (d, d / 2), (-d, d / 2)):
        click_lnglat(page, c.x + dx, c.y + dy)
    page.keyboard.press("Enter")
    # the edit's form carries the server's range of the field (GET /api/edit-types/)
    served = page.evaluate("fetch('/api/edit-types/').then(r => r.json())")["edit_types"]
    props = next(k for k in served if k["type"] == "hazard_zone")["schema"]["properties"]
    maximum = float(page.get_attribute("#edit-form input[name=start_min]", "max"))
    assert maximum == props["start_min"]["maximum"]
    page.fill("#edit-form input[name=start_min]", "0")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-list li[data-type=hazard_zone]")

    def place_shelter():
        page.click("#edit-tools button[data-tool=add_shelter]")
        click_lnglat(page, c.x + 1.6 * d, c.y + d)
        page.fill("#edit-form input[name=capacity]", "300")
        page.fill("#edit-form input[name=name]", "School gym")
        page.click("#edit-form button[type=submit]")
        page.wait_for_selector("#edit-list li[data-type=add_shelter]")

    # a shelter outside the zone
    place_shelter()
    scenario.refresh_from_db()
    assert [e["type"] for e in scenario.edits] == ["hazard_zone", "add_shelter"]
    # undo and redo the shelter: the list follows
    page.click("#edit-undo")
    page.wait_for_function("!document.querySelector('#edit-list li[data-type=add_shelter]')")
    scenario.refresh_from_db()
    assert [e["type"] for e in scenario.edits] == ["hazard_zone"]
    place_shelter()
    # run and replay
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", "evacuation")
    page.fill("#run-params input[name=horizon_min]", "90")
    page.click("#run-start")
    wait_for_result(page, "evacuation")
    run = Run.objects.get(scenario=scenario)
    assert run.kpis["evacuees"] > 0
    # key figures for people: times in minutes (not seconds with decimals), whole people
    page.wait_for_selector("#kpi-panel tr[data-kpi=t50_s]")
    t50 = page.inner_text("#kpi-panel tr[data-kpi=t50_s] td")
    assert re.fullmatch(r"\d+ s|\d+ min( \d\d s)?|\d+ h \d\d min", t50), t50
    label = page.inner_text("#kpi-panel tr[data-kpi=t50_s] th")
    assert label == "Half evacuated after", label
    evacuees = page.inner_text("#kpi-panel tr[data-kpi=evacuees] td")
    assert evacuees.endswith(" persons") and re.sub(r"\D", "", evacuees) == str(
        round(run.kpis["evacuees"])
    ), evacuees
    page.wait_for_selector("#time-bar:not([hidden])")
    wait_idle(page)
    start_label = page.inner_text("#time-label")
    start_px = map_pixels(page, "evacuation-start")
    t0 = float(page.get_attribute("#time-label", "data-t"))
    page.click("#time-play")
    page.wait_for_function(
        "Number(document.getElementById('time-slider').value) >= 3", timeout=30_000
    )
    page.click("#time-play")  # pause
    t1 = float(page.get_attribute("#time-label", "data-t"))
    assert t1 > t0 and page.inner_text("#time-label") != start_label
    # at the end of the replay the evacuated buildings are drawn green: the map has changed
    slider = page.locator("#time-slider")
    slider.fill(slider.get_attribute("max"))
    wait_idle(page)
    end_px = map_pixels(page, "evacuation-end")
    # red (people inside) at the alarm, green (evacuated) at the end
    assert count_colour(start_px, "#c62828") > 500
    assert count_colour(end_px, "#2e7d32") > count_colour(start_px, "#2e7d32") + 500
    drawn = rendered(page, "result:evac-buildings")
    t_end = float(page.get_attribute("#time-label", "data-t"))
    out = [b for b in drawn if b.get("evacuation_time_s") is not None]
    assert out and sum(b["evacuation_time_s"] <= t_end for b in out) > sum(
        b["evacuation_time_s"] <= t1 for b in out
    )
    kpis = page.inner_text("#kpi-panel")
    assert "90% evacuated after" in kpis and "School gym" in kpis
    # the shelter's load as a share of its 300 places, in whole people
    load = re.search(r"School gym\n(\d+) of 300 people \((\d+) %\)", kpis)
    assert load and 0 < int(load[1]) <= 300, kpis
    assert page.locator("#kpi-panel svg.chart polyline").count() >= 1
    # ... drawn as that share of a frame for the 300 places (not a full bar)
    bar = page.locator("#kpi-panel svg.chart rect[data-share]").last
    frame = page.locator("#kpi-panel svg.chart rect[data-capacity]").last
    assert frame.get_attribute("data-capacity") == "300"
    share = float(bar.get_attribute("width")) / float(frame.get_attribute("width"))
    assert share == pytest.approx(int(load[1]) / 300, abs=0.01)
    assert_bottlenecks_and_zones(page, run)


def assert_bottlenecks_and_zones(page, run) -> None:
    """The longest queues listed by street with units, a row flies the map to it; the
    clearance of the hazard zone in minutes."""
    from citytwin.scenarios.models import EdgeResult

    top = run.edge_results.filter(max_queue_veh__gt=0).order_by(
        "-max_queue_veh", "-queue_duration_s"
    )
    assert top.exists(), "the run had no queue to list"
    rows = page.locator("#kpi-panel .bottleneck-list tr[data-edge]")
    assert rows.count() == min(10, top.count())
    first: EdgeResult = top[0]
    street = first.edge.name or f"unnamed {first.highway}"
    assert rows.first.locator("th").inner_text() == street
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[1] == f"{round(first.max_queue_veh)} veh", cells
    assert cells[2] == f"{round(first.queue_duration_s / 60)} min", cells
    # the listed bottlenecks are outlined on the map
    page.click("nav.tabs button[data-tab=results]")
    # a click on the last row flies the map to that road and marks it
    last = top[rows.count() - 1]
    rows.last.click()
    wait_idle(page)
    centre = page.evaluate("window.citytwinMap.getCenter().toArray()")
    mid = last.geom.interpolate_normalized(0.5)
    assert abs(centre[0] - mid.x) < 0.003 and abs(centre[1] - mid.y) < 0.002, (centre, mid)
    assert "picked" in rows.last.get_attribute("class")
    drawn = rendered(page, "result:evac-bottlenecks")
    assert last.edge_id in {f["edge_id"] for f in drawn}
    map_pixels(page, "evacuation-bottleneck-picked")
    # clearance of the hazard zone: 90 % and all out, in minutes
    zone = page.locator("#kpi-panel .zone-clearance tr[data-zone]")
    assert zone.count() == 1
    t90 = float(zone.locator("td[data-t90-s]").get_attribute("data-t90-s"))
    assert re.fullmatch(r"\d+ min", zone.locator("td[data-t90-s]").inner_text())
    series = run.series.get(name__startswith="zone:")
    # the first minute of the zone's curve at or over 90 %
    expected = next(t for t, v in zip(series.t_s, series.values, strict=True) if v >= 0.9 - 1e-9)
    assert t90 == expected and t90 >= run.kpis["t90_s"] - 60


def test_the_page_says_in_words_why_a_run_was_refused(
    committed_city, live_server, page, person, celery_worker_process
):
    city = committed_city("Helsinki")
    open_map(page, f"{live_server.url}/#city={city.id}")
    sign_in(page, person)
    create_scenario(page, "Bad params")
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", "solar")
    page.fill("#run-params input[name=step_min]", "500")  # out of range
    page.click("#run-start")
    page.wait_for_selector("#run-status.status-error")
    text = page.inner_text("#run-status")
    assert "refused" in text and "step_min" in text, text
    assert not Run.objects.exists()


def test_a_password_never_goes_into_the_url_and_a_mangled_link_still_starts(
    committed_city, live_server, page, person
):
    city = committed_city("Helsinki")
    # the app's script never arrives: the bare form must not send the password anywhere
    early = page.context.new_page()
    early.route("**/static/frontend/build/app.js*", lambda route: route.abort())
    early.goto(f"{live_server.url}/#city={city.id}")
    early.fill("#login input[name=username]", person.username)
    early.fill("#login input[name=password]", PASSWORD)
    early.click("#login button[type=submit]")
    early.wait_for_timeout(500)
    assert PASSWORD not in early.url
    early.close()
    # a stale token and a mangled link (a compare mode that is no mode, a bad escape): the page
    # starts, drops the token, and signing in works
    page.add_init_script("localStorage.setItem('citytwin.token', 'a-revoked-token')")
    open_map(page, f"{live_server.url}/#compare=x]&layers=abc%zz")
    assert page.eval_on_selector("#city-select", "s => s.options.length") >= 1
    assert page.is_checked("input[name=cmp][value='']")
    page.wait_for_selector("#login:not([hidden])")
    assert page.evaluate("localStorage.getItem('citytwin.token')") is None
    page.wait_for_function("document.querySelector('#scenario-select').options.length > 0")
    sign_in(page, person)
    assert PASSWORD not in page.url
    assert all(PASSWORD not in url for url in page.requests)
    # the credential is an HttpOnly session cookie, not a token in localStorage
    assert page.evaluate("localStorage.getItem('citytwin.token')") is None
    session = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    assert len(session) == 1 and session[0]["httpOnly"]
    assert "sessionid" not in page.evaluate("document.cookie")
    page.wait_for_function("document.querySelector('#map-status').textContent === 'Signed in.'")


def test_a_colleague_opens_a_shared_link_and_sees_the_run_a_stranger_is_told_why_not(
    committed_city, live_server, page, person, celery_worker_process, django_user_model
):
    from citytwin.scenarios import services

    from .conftest import wait_for_job

    city = committed_city("Helsinki")
    scenario = Scenario.objects.create(
        city=city, name="Evening peak +20%", owner=person,
        edits=[{"type": "demand_change", "factor": 1.2}],
    )  # fmt: skip
    run, _ = services.start_run(scenario, "traffic", {}, person)
    wait_for_job(run.job_id, 300)
    colleague = django_user_model.objects.create_user(username="colleague", password=PASSWORD)
    django_user_model.objects.create_user(username="stranger", password=PASSWORD)
    link = f"{live_server.url}/#city={city.id}&scenario={scenario.id}&run={run.job_id}"
    # the owner shares it with the colleague from the page
    open_map(page, link)
    sign_in(page, person)
    page.wait_for_function(f"document.querySelector('#scenario-select').value === '{scenario.id}'")
    page.click("nav.tabs button[data-tab=scenario]")
    page.click("#scenario-share")
    page.fill("#share-form input[name=user]", "colleague")
    page.click("#share-form button[type=submit]")
    page.wait_for_selector("#share-list li[data-user=colleague]")
    page.click("#share-close")
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    # a stranger gets words, not a silent baseline; the colleague sees the scenario and its run
    # (contexts closed whatever happens: a page left open would keep talking to the server)
    fresh = page.context.browser.new_context(
        viewport={"width": 1280, "height": 800}, bypass_csp=True
    )
    colleague_context = page.context.browser.new_context(
        viewport={"width": 1280, "height": 800}, bypass_csp=True
    )
    try:
        other = fresh.new_page()
        open_map(other, link)
        sign_in(other, django_user_model.objects.get(username="stranger"))
        other.wait_for_function(
            "document.querySelector('#map-status').textContent.includes('may not see')"
        )
        mate = colleague_context.new_page()
        open_map(mate, link)
        mate.wait_for_function(
            "document.querySelector('#map-status').textContent.includes('may not see')"
        )
        sign_in(mate, colleague)
        mate.wait_for_function(
            f"document.querySelector('#scenario-select').value === '{scenario.id}'"
        )
        assert "from the link" in mate.inner_text("#map-status")
        option = mate.inner_text(f"#scenario-select option[value='{scenario.id}']")
        assert "planner's, read only" in option, option
        mate.click("nav.tabs button[data-tab=results]")
        mate.wait_for_function("document.body.dataset.result === 'traffic'", timeout=60_000)
        mate.wait_for_function(
            "document.querySelector('#kpi-panel').textContent.includes('Vehicle hours travelled')"
        )
        assert "by planner" in mate.inner_text("#run-select")
        # read only: the edit tools are off for the colleague
        mate.click("nav.tabs button[data-tab=scenario]")
        assert mate.is_disabled("#edit-tools button[data-tool=close_road]")
        mate.screenshot(path=str(ARTIFACTS / "shared-link-colleague.png"))
    finally:
        fresh.close()
        colleague_context.close()


def test_a_planner_finds_a_street_by_name_and_closes_all_of_it(
    committed_city, live_server, page, person
):
    city = committed_city("Helsinki")
    open_map(page, f"{live_server.url}/#city={city.id}&view=24.90,60.20,12,0,0&d=2")
    sign_in(page, person)
    # a typo still finds it; choosing it flies the map there
    page.fill("#place-search", "mannerhemintie")
    page.wait_for_selector("#place-results li[data-kind=street]")
    page.click("#place-results li[data-kind=street]")
    wait_idle(page)
    edges = RoadEdge.objects.filter(city=city, name="Mannerheimintie")
    xs = [x for e in edges for x in (e.geom.extent[0], e.geom.extent[2])]
    ys = [y for e in edges for y in (e.geom.extent[1], e.geom.extent[3])]
    centre = page.evaluate("window.citytwinMap.getCenter()")
    assert min(xs) <= centre["lng"] <= max(xs) and min(ys) <= centre["lat"] <= max(ys)
    assert page.evaluate("window.citytwinMap.getZoom()") > 14
    scenario = create_scenario(page, "No Mannerheimintie")
    page.fill("#close-street input[name=street]", "Mannerheimintie")
    page.click("#close-street button[type=submit]")
    page.wait_for_selector("#edit-list li[data-type=close_road]")
    scenario.refresh_from_db()
    assert scenario.edits[-1]["resolved_edge_ids"] == sorted(edges.values_list("id", flat=True))
    listed = page.inner_text("#edit-list li[data-type=close_road]")
    assert f"Close Mannerheimintie ({edges.count()} segments)" in listed, listed
    map_pixels(page, "closed-street")


def test_every_edit_type_has_a_tool_in_the_page_and_undo_has_a_redo(
    committed_city, live_server, page, person
):
    city = committed_city("Helsinki")
    building = Building.objects.filter(city=city).order_by("-footprint_area_m2").first()
    c = building.footprint.point_on_surface  # inside it, courtyards or not
    open_map(page, f"{live_server.url}/#city={city.id}&view={c.x},{c.y},17.5,0,0&d=2")
    sign_in(page, person)
    scenario = create_scenario(page, "Every tool")
    served = {k["type"] for k in page.evaluate("fetch('/api/edit-types/').then(r => r.json())")[
        "edit_types"
    ]}  # fmt: skip
    tools = set(
        page.eval_on_selector_all("#edit-tools button", "bs => bs.map(b => b.dataset.tool)")
    )
    # every edit type the server knows has a tool (one type may have two: lanes and speed),
    # the utility networks' too (they pick pipes, valves, lines... on the networks' layers)
    utilities = {t for t in served if t.startswith("water_")} | {
        "line_outage", "transformer_outage", "substation_outage", "power_demand_change"
    }  # fmt: skip
    covered = {t for t in tools if t in served} | (
        {"change_road"} if "change_speed" in tools else set()
    )
    assert served <= covered, served - covered
    assert len(utilities) == 9 and utilities <= tools

    def added(kind: str) -> None:
        page.wait_for_selector(f"#edit-list li[data-type={kind}]")

    # heighten the building under the centre of the view, then remove it
    wait_idle(page)
    page.click("#edit-tools button[data-tool=heighten_building]")
    click_lnglat(page, c.x, c.y)
    page.fill("#edit-form input[name=height_m]", "60")
    page.click("#edit-form button[type=submit]")
    added("heighten_building")
    page.click("#edit-tools button[data-tool=remove_building]")
    click_lnglat(page, c.x, c.y)
    added("remove_building")
    page.click("#edit-tools button[data-tool=stop]")
    # draw a road: two clicks and Enter, then its form
    # (the two clicks on the building zoomed the map in: place the rest by screen position)
    box = page.locator("#map").bounding_box()

    def click_at(fx: float, fy: float) -> None:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_timeout(350)  # apart: not a double-click

    page.click("#edit-tools button[data-tool=add_road]")
    click_at(0.2, 0.85)
    click_at(0.8, 0.85)
    page.keyboard.press("Enter")
    page.fill("#edit-form input[name=speed_kph]", "30")
    page.click("#edit-form button[type=submit]")
    added("add_road")
    # demand in a zone, and the departure profile (a form only)
    page.click("#edit-tools button[data-tool=demand_change]")
    for fx, fy in ((0.3, 0.3), (0.7, 0.3), (0.7, 0.7)):
        click_at(fx, fy)
    page.keyboard.press("Enter")
    page.fill("#edit-form input[name=factor]", "1.5")
    page.click("#edit-form button[type=submit]")
    added("demand_change")
    page.click("#edit-tools button[data-tool=departure_profile]")
    page.click("#edit-form button[type=submit]")
    added("departure_profile")
    scenario.refresh_from_db()
    types = [e["type"] for e in scenario.edits]
    assert types == [
        "heighten_building", "remove_building", "add_road", "demand_change", "departure_profile"
    ], types  # fmt: skip
    assert scenario.edits[0]["building_ids"] == scenario.edits[1]["building_ids"]
    assert scenario.edits[0]["height_m"] == 60 and scenario.edits[2]["speed_kph"] == 30
    # undo takes the last edit back, redo puts it back
    page.click("#edit-undo")
    page.wait_for_function("!document.querySelector('#edit-list li[data-type=departure_profile]')")
    page.click("#edit-redo")
    added("departure_profile")
    scenario.refresh_from_db()
    assert [e["type"] for e in scenario.edits] == types
    assert page.is_disabled("#edit-redo")
    listed = page.inner_text("#edit-list")
    assert "60 m tall" in listed and "Trips x 1.5 in a zone" in listed, listed


def test_a_newcomer_learns_how_to_get_an_account_and_changes_the_password_in_the_page(
    committed_city, live_server, page, person
):
    city = committed_city("Helsinki")
    open_map(page, f"{live_server.url}/#city={city.id}")
    page.click("#account-help")
    help_text = page.inner_text("#account-dialog")
    assert "bin/citytwin adduser NAME" in help_text and "administrator" in help_text
    page.click("#account-close")
    sign_in(page, person)
    assert page.is_hidden("#account-help")
    page.click("#change-password")
    page.fill("#password-form input[name=old_password]", PASSWORD)
    page.fill("#password-form input[name=new_password]", "1234567890")
    page.fill("#password-form input[name=repeat]", "1234567890")
    page.click("#password-form button[type=submit]")
    page.wait_for_function("document.querySelector('#password-status').textContent !== ''")
    assert "numeric" in page.inner_text("#password-status")  # the server's reason, in words
    new_password = "tram-depot-harbour-9"
    page.fill("#password-form input[name=new_password]", new_password)
    page.fill("#password-form input[name=repeat]", new_password)
    page.click("#password-form button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#map-status').textContent === 'Password changed.'"
    )
    person.refresh_from_db()
    assert person.check_password(new_password)
    # still signed in (the page's token was rotated), then in again with the new password
    page.wait_for_function("document.querySelector('#scenario-select').options.length > 0")
    page.click("#logout")
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login input[name=username]", person.username)
    page.fill("#login input[name=password]", new_password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#whoami:not([hidden])")


def test_the_run_form_carries_the_servers_ranges_and_refuses_a_value_outside_them(
    committed_city, live_server, page, person
):
    city = committed_city("Helsinki")
    open_map(page, f"{live_server.url}/#city={city.id}")
    sign_in(page, person)
    create_scenario(page, "Ranges")
    page.click("nav.tabs button[data-tab=results]")
    served = page.evaluate("fetch('/api/simulators/').then(r => r.json())")["simulators"]
    options = page.eval_on_selector_all("#run-simulator option", "os => os.map(o => o.value)")
    assert options == [s["name"] for s in served]
    # every number of every simulator: the page's min, max and default are the server's
    checked = 0
    for sim in served:
        page.select_option("#run-simulator", sim["name"])
        for name, prop in sim["parameters"]["properties"].items():
            if "number" not in prop["type"] and "integer" not in prop["type"]:
                continue
            box = page.locator(f"#run-params input[name={name}]")
            assert box.get_attribute("type") == "number"
            for attr, key in (("min", "minimum"), ("max", "maximum")):
                assert float(box.get_attribute(attr)) == prop[key], (sim["name"], name, attr)
            if prop["default"] is None:
                assert box.get_attribute("data-default") is None
            else:
                assert float(box.get_attribute("data-default")) == prop["default"]
                assert float(box.get_attribute("placeholder")) == prop["default"]
            checked += 1
    assert checked >= 10
    # the three ranges the old hand-written form had wrong now come from the server
    props = {s["name"]: s["parameters"]["properties"] for s in served}
    page.select_option("#run-simulator", "solar")
    assert float(page.get_attribute("#run-params input[name=cell_m]", "min")) == 0.25
    page.select_option("#run-simulator", "traffic")
    assert float(page.get_attribute("#run-params input[name=gap]", "min")) == 1e-10
    phf = props["traffic"]["peak_hour_factor"]
    assert float(page.get_attribute("#run-params input[name=peak_hour_factor]", "min")) == 0.25
    # a value below the server's minimum (the old form allowed 0.01) is refused in the page,
    # naming the field and the bound, and nothing is sent
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.fill("#run-params input[name=peak_hour_factor]", "0.1")
    page.click("#run-start")
    page.wait_for_selector("#run-status.status-error")
    text = page.inner_text("#run-status")
    assert "refused" in text and "peak_hour_factor" in text and str(phf["minimum"]) in text, text
    assert page.get_attribute("#run-params input[name=peak_hour_factor]", "aria-invalid") == "true"
    page.locator(".sidebar").screenshot(path=str(ARTIFACTS / "run-form-refused.png"))
    # and above the maximum of an integer, too
    page.fill("#run-params input[name=peak_hour_factor]", "")
    max_iter = props["traffic"]["max_iter"]["maximum"]
    page.fill("#run-params input[name=max_iter]", str(max_iter + 1))
    page.click("#run-start")
    page.wait_for_function("document.querySelector('#run-status').textContent.includes('max_iter')")
    assert f"at most {max_iter}" in page.inner_text("#run-status")
    page.wait_for_timeout(300)
    assert not [url for url in posts if "/runs/" in url], posts
    assert not Run.objects.exists()


def test_a_water_pipe_clicked_on_the_map_breaks_in_the_scenario(
    committed_city, live_server, page, person, tmp_path
):
    """The city's imported water network is drawn (from its OGC collections) and its pipes
    are picked by the pipe-break tool: the edit takes the pipe's twin id and says its name."""
    from layers.importers.files import run_import
    from utilities.water.models import WaterNetwork

    from .test_water import SMALL, SMALL_VALVES

    city = committed_city("Helsinki")
    path = tmp_path / "small.inp"
    path.write_text(SMALL)
    params = {"target": "water", "city": "Helsinki", "valve_layer": json.dumps(SMALL_VALVES)}
    network = WaterNetwork.objects.get(pk=run_import(path, params)["network_id"])
    p3 = network.links.get(name="P3")
    mid = p3.geom.interpolate_normalized(0.5)
    open_map(page, f"{live_server.url}/#city={city.id}&view={mid.x},{mid.y},17,0,0&d=2")
    sign_in(page, person)
    page.wait_for_function(f"document.body.dataset.networksLoaded === '{city.id}'")
    # the network's layer is in the catalogue and its pipes in view are drawn
    page.click("nav.tabs button[data-tab=layers]")
    assert "Water network" in page.inner_text("#catalogue")
    scenario = create_scenario(page, "Main break")
    wait_idle(page)
    drawn = {f["name"] for f in rendered(page, "net-water-pipes")}
    assert "P3" in drawn and drawn <= {"P1", "P2", "P3", "P4", "P5"}, drawn
    page.click("#edit-tools button[data-tool=water_pipe_break]")
    click_lnglat(page, mid.x, mid.y)
    # the form names the pipe and asks for the leak (m), at most the pipe's width
    page.wait_for_selector("#edit-form input[name=leak_diameter_m]")
    assert "Pipe P3" in page.inner_text("#edit-form")
    page.fill("#edit-form input[name=leak_diameter_m]", "0.08")
    page.click("#edit-form button[type=submit]")
    listed = page.wait_for_selector("#edit-list li[data-type=water_pipe_break]").inner_text()
    assert "Pipe P3 breaks (opening 8 cm)" in listed, listed
    page.click("#edit-tools button[data-tool=stop]")
    scenario.refresh_from_db()
    assert [(e["type"], e["pipe"], e["leak_diameter_m"]) for e in scenario.edits] == [
        ("water_pipe_break", [p3.id], 0.08)
    ]
    assert scenario.edits[0]["isolate"] is True


def literals_naming(names: list[str], allowed) -> dict[str, list[str]]:
    """The frontend modules (outside `allowed`) with a string literal that is one of `names`."""
    src = REPO_ROOT / "frontend/src"
    alternatives = "|".join(map(re.escape, names))
    quoted = re.compile(f"[\"'`]({alternatives})[\"'`]")
    found = {}
    for path in src.rglob("*.js"):
        rel = path.relative_to(src).as_posix()
        # string literals only: comments may mention a simulator in words
        code = re.sub(r"//.*|/\*[\s\S]*?\*/", "", path.read_text())
        if not allowed(rel) and quoted.findall(code):
            found[rel] = quoted.findall(code)
    return found


def test_only_the_simulator_views_name_a_simulator(client):
    """Adding a simulator to the web map touches its view module and one line of its registry;
    adding an edit type, its entry in edits.js."""
    src = REPO_ROOT / "frontend/src"
    names = [s["name"] for s in client.get("/api/simulators/").json()["simulators"]]
    assert names
    # "water" is also the basemap's area kind (OSM natural=water): data, not a simulator
    data_words = {"water"}
    outside = literals_naming(
        [n for n in names if n not in data_words], lambda rel: rel.startswith("simulators/")
    )
    assert not outside, f"a simulator named outside frontend/src/simulators/: {outside}"
    # each simulator the server serves has its view module, registered in one line
    registry = (src / "simulators/registry.js").read_text()
    for name in names:
        assert (src / f"simulators/{name}.js").exists(), name
        assert f'import {name} from "./{name}.js";' in registry
        assert f'name: "{name}"' in (src / f"simulators/{name}.js").read_text()
    edit_types = [e["type"] for e in client.get("/api/edit-types/").json()["edit_types"]]
    assert "close_road" in edit_types
    outside = literals_naming(edit_types, lambda rel: rel == "edits.js")
    assert not outside, f"an edit type named outside frontend/src/edits.js: {outside}"


def test_a_run_with_nobody_to_evacuate_shows_its_warning(
    committed_city, live_server, page, person, celery_worker_process
):
    import shapely
    from django.contrib.gis.geos import Point

    city = committed_city("Helsinki")
    footprints = shapely.from_wkb(
        [
            bytes(g.wkb)
            for g in Building.objects.filter(city=city).values_list("footprint", flat=True)
        ]
    )
    tree = shapely.STRtree(footprints)
    x0, y0, x1, y1 = city.boundary.extent
    empty = next(
        (lon, lat)
        for lon in np.linspace(x0, x1, 40)
        for lat in np.linspace(y0, y1, 40)
        if len(tree.query(shapely.Point(lon, lat), predicate="dwithin", distance=0.0012)) == 0
        and city.boundary.contains(Point(lon, lat, srid=4326))
    )
    lon, lat = empty
    open_map(page, f"{live_server.url}/#city={city.id}&view={lon},{lat},17,0,0&d=2")
    # the city's data quality, in words, under the layers
    page.wait_for_selector("#quality-panel tr[data-key='heights estimated']")
    quality = page.inner_text("#quality-panel")
    assert "floor area x default rates" in quality and "height raster" in quality
    sign_in(page, person)
    create_scenario(page, "Empty zone")
    page.click("#edit-tools button[data-tool=hazard_zone]")
    d = 0.0004
    for dx, dy in ((-d, -d / 2), (d, -d / 2), (d, d / 2), (-d, d / 2)):
        click_lnglat(page, lon + dx, lat + dy)
    page.keyboard.press("Enter")
    page.fill("#edit-form input[name=start_min]", "0")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-list li[data-type=hazard_zone]")
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", "evacuation")
    page.fill("#run-params input[name=time_of_day_h]", "3")
    page.click("#run-start")
    wait_for_result(page, "evacuation")
    item = page.wait_for_selector(".run-warnings li[data-code=no_evacuees]")
    assert "nobody is in the hazard zone at 3 h" in item.inner_text()
    run = Run.objects.get(scenario__name="Empty zone")
    assert run.job.status == "succeeded" and run.kpis["evacuees"] == 0


def test_the_map_runs_under_its_content_security_policy(committed_city, live_server, browser):
    """No bypass here: the page, MapLibre's workers and the tiles work under the page's CSP."""
    city = committed_city("Helsinki")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    response = page.goto(f"{live_server.url}/#city={city.id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # buildings drawn means the page's script ran, MapLibre's workers fetched and decoded vector
    # tiles and the GPU program drew them, all under the policy. Not areTilesLoaded(): a source
    # that refreshes (live sensors, other layers still loading on a busy CI machine) can keep it
    # false without anything being wrong with the policy.
    drawn = (
        "document.body.dataset.mapReady === '1' && window.citytwinMap.getLayer('buildings-3d')"
        " ? window.citytwinMap.queryRenderedFeatures({layers: ['buildings-3d']}).length : 0"
    )
    deadline = time.monotonic() + 120
    while not page.evaluate(drawn) and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # polling from here: page.evaluate is not subject to the CSP
    buildings_drawn = page.evaluate(drawn)
    context.close()
    assert buildings_drawn > 0, "the map drew no building under its CSP"
    assert not problems, problems
