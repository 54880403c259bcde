"""The newer engines on a real city and a large synthetic one: wall time and peak memory.

Andorra (``$CITYTWIN_DATA/osm/andorra-latest.osm.pbf``) goes through the twin as a user takes
it: import, its OSM bus lines, a coarse power grid from its OSM power lines, a few synthetic
counters for the calibration, then ``manage.py run_scenario ... --inline`` of each engine
(transit, water, power_flow, power_criticality, traffic, calibration). A synthetic city
(``--synthetic-links``, default 100,000; docs/synthetic_city.md) runs transit (two drawn
tram lines) and the calibration. Every step is its own process: its wall time and peak
resident memory (``os.wait4``) are printed as a table, with the run's status, the
refusal's words or the key figures.

    source .wt-env   # or the ports `bin/citytwin up` uses
    export DATABASE_URL=postgis://citytwin@127.0.0.1:$CITYTWIN_PG_PORT/citytwin
    export CELERY_BROKER_URL=redis://127.0.0.1:$CITYTWIN_REDIS_PORT/0
    prlimit --as=6000000000 .venv/bin/python bench/realcity_engines.py [--skip-synthetic]
        [--skip-andorra] [--synthetic-links 100000] [--engines transit water power calibration]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
PY = sys.executable
ROWS: list[dict] = []


def measured(label: str, args: list[str], expect_refusal: bool = False) -> dict:
    """Run ``manage.py args`` in a child process; wall seconds, its peak RSS and its output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([PY, "manage.py", *args], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    row = {"step": label, "seconds": seconds, "peak_mb": usage.ru_maxrss / 1024.0,
           "rc": proc.returncode, "stdout": stdout, "stderr": stderr}  # fmt: skip
    row["simulator"] = args[2] if args[0] == "run_scenario" else ""
    row["what"] = _what(row, expect_refusal)
    ROWS.append(row)
    print(f"  {label}: {seconds:.1f} s, {row['peak_mb']:.0f} MB, {row['what']}", flush=True)
    print(f"    run JSON: {row.get('run')}", flush=True)
    return row


def _what(row: dict, expect_refusal: bool) -> str:
    lines = [ln for ln in row["stdout"].strip().splitlines() if ln.strip()]
    if row["rc"] != 0:
        error = [ln for ln in row["stderr"].splitlines() if "Error" in ln]
        words = error[-1] if error else row["stderr"].strip().splitlines()[-1:]
        return ("refused: " if expect_refusal else "FAILED: ") + str(words)[:220]
    try:
        run = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return (lines[-1] if lines else "done")[:220]
    row["run"] = run
    row["run_s"] = run.get("seconds")
    keys = KEYS.get(row["simulator"], ())
    kpis = run.get("kpis") or {}
    figures = ", ".join(f"{k}={_num(kpis[k])}" for k in keys if k in kpis)
    warns = [w["code"] for w in run.get("warnings") or []]
    return f"{run['status']}: {figures}" + (f"; warnings {warns}" if warns else "")


def _num(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


KEYS = {
    "transit": ("car_share", "transit_share", "walk_share", "transit_trips", "lines", "rounds",
                "share_gap", "relative_gap"),
    "traffic": ("trips", "vehicle_hours", "relative_gap"),
    "calibration": ("counted_links", "share_geh_below_5_prior", "share_geh_below_5",
                    "rmse_prior_veh_h", "rmse_veh_h", "assignments"),
    "power_flow": ("buildings_linked", "buildings_without_service", "load_served_mw",
                   "converged", "max_line_loading_percent"),
    "power_criticality": ("lines_tested", "lines_cutting_service", "cases_with_overload",
                          "cases_not_converged"),
}  # fmt: skip


ENGINES = ("transit", "water", "power", "calibration")


def run_json(args: list[str]) -> list[str]:
    return ["run_scenario", *args, "--inline", "--json", "--no-reuse"]


def django():
    import django as dj

    dj.setup()


def scenario_with(city_name: str, name: str, edits: list[dict]) -> int:
    """A scenario of the city with these edits (validated like the API's), made once."""
    from citytwin.scenarios.models import Scenario
    from citytwin.scenarios.services import set_edits
    from layers.models import City

    city = City.objects.get(name=city_name)
    scenario, created = Scenario.objects.get_or_create(city=city, name=name, is_baseline=False)
    if created or not scenario.edits:
        set_edits(scenario, edits)
    return scenario.pk


def add_counters(city_name: str, truth_run: str, every: int) -> int:
    """Counters on every ``every``-th loaded road edge of a traffic run (its volumes as
    five-minute counts at the model's design hour, local time, on the last five weekdays)."""
    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from citytwin.scenarios.capabilities.calibration import DESIGN_HOUR
    from citytwin.scenarios.models import EdgeResult
    from layers.models import City, RoadEdge
    from sensors.analysis.localtime import city_time_zone
    from sensors.ingest import store_observations
    from sensors.models import Datastream, Location, ObservedProperty, Sensor, Thing

    city = City.objects.get(name=city_name)
    if Datastream.objects.filter(thing__city=city, name__startswith="bench counter").exists():
        return Datastream.objects.filter(thing__city=city, name__startswith="bench counter").count()
    tz = ZoneInfo(city_time_zone(city))
    today = timezone.now().astimezone(tz).date()
    days = [d for d in (today - timedelta(days=k) for k in range(1, 15)) if d.weekday() < 5][:5]
    loaded = EdgeResult.objects.filter(run_id=truth_run, volume_veh_h__gt=100).order_by("edge_id")
    sensor = Sensor.objects.create(name="loop", description="inductive loop",
                                   encoding_type="text/html", metadata="bench")  # fmt: skip
    prop = ObservedProperty.objects.create(name="vehicle count", description="vehicles",
                                           definition="http://example.org/count")  # fmt: skip
    n = 0
    for result in loaded[::every]:
        edge = RoadEdge.objects.get(pk=result.edge_id)
        point = Point(*edge.geom.coords[0], srid=4326)
        thing = Thing.objects.create(name=f"bench counter {edge.pk}", description="bench",
                                     city=city)  # fmt: skip
        loc = Location.objects.create(name=f"bench site {edge.pk}", description="kerb",
                                      location={"type": "Point", "coordinates": list(point.coords)},
                                      geom=point)  # fmt: skip
        thing.locations.add(loc)
        ds = Datastream.objects.create(
            name=f"bench counter {edge.pk}", description="vehicles per 5 min",
            unit_of_measurement={"name": "vehicles", "symbol": "veh", "definition": "bench"},
            thing=thing, sensor=sensor, observed_property=prop, road_edge=edge,
        )  # fmt: skip
        rows = [
            {"phenomenon_time": datetime(d.year, d.month, d.day, DESIGN_HOUR, m, tzinfo=tz),
             "result": result.volume_veh_h / 12}
            for d in days for m in range(0, 60, 5)
        ]  # fmt: skip
        store_observations(ds, rows)
        n += 1
    return n


def calibration_steps(city: str, every: int) -> None:
    """A truth (30 % more trips than the model), counters from it, calibrate the baseline."""
    truth = scenario_with(city, "bench truth: 30 % more trips",
                          [{"type": "demand_change", "factor": 1.3}])  # fmt: skip
    row = measured(f"{city}: traffic (truth for the counters)",
                   run_json([str(truth), "traffic", "peak_hour_factor=1", "gap=1e-4"]))  # fmt: skip
    if "run" not in row:
        return
    n = add_counters(city, row["run"]["id"], every)
    print(f"  {city}: {n} counters", flush=True)
    measured(f"{city}: calibration ({n} counters)",
             run_json([f"baseline:{city}", "calibration", "gap=1e-4", "outer_iterations=4"]))  # fmt: skip


def andorra(pbf: Path, engines: set[str]) -> None:
    from layers.models import City
    from transit.models import Feed
    from utilities.power.models import Grid

    if not City.objects.filter(name="Andorra").exists():
        measured("Andorra: import_osm", ["import_osm", str(pbf), "--city", "Andorra"])
    if not Feed.objects.filter(city__name="Andorra").exists():
        measured("Andorra: import_osm_transit", ["import_osm_transit", "Andorra"])
    if "transit" in engines:
        measured("Andorra: transit", run_json(["baseline:Andorra", "transit"]))
    if "water" in engines:
        measured("Andorra: water", run_json(["baseline:Andorra", "water"]), expect_refusal=True)
    if "power" not in engines:
        pass
    elif not Grid.objects.filter(city__name="Andorra").exists():
        measured("Andorra: power_flow before a grid", run_json(["baseline:Andorra", "power_flow"]),
                 expect_refusal=True)  # fmt: skip
        measured("Andorra: build_power_grid_from_osm",
                 ["build_power_grid_from_osm", "--city", "Andorra"])  # fmt: skip
    if "power" in engines:
        measured("Andorra: power_flow", run_json(["baseline:Andorra", "power_flow"]))
        measured("Andorra: power_criticality", run_json(["baseline:Andorra", "power_criticality"]))
    if "calibration" in engines:
        calibration_steps("Andorra", every=10)


def synthetic(links: int, engines: set[str]) -> None:
    from layers.models import City

    name = f"Synth{links // 1000}k"
    if not City.objects.filter(name=name).exists():
        measured(f"{name}: load_synthetic_city",
                 ["load_synthetic_city", name, "--links", str(links), "--seed", "1"])  # fmt: skip
    city = City.objects.get(name=name)
    x0, y0, x1, y1 = city.boundary.extent
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    trams = [
        {"type": "add_transit_line", "name": "East-west tram", "mode": "tram", "headway_min": 5,
         "route": {"type": "LineString", "coordinates": [[x0 + 0.1 * (x1 - x0), ym],
                                                         [x1 - 0.1 * (x1 - x0), ym]]}},
        {"type": "add_transit_line", "name": "North-south tram", "mode": "tram", "headway_min": 5,
         "route": {"type": "LineString", "coordinates": [[xm, y0 + 0.1 * (y1 - y0)],
                                                         [xm, y1 - 0.1 * (y1 - y0)]]}},
    ]  # fmt: skip
    with_trams = scenario_with(name, "bench: two tram lines", trams)
    if "transit" in engines:
        measured(f"{name}: transit (2 drawn trams)", run_json([str(with_trams), "transit"]))
    if "calibration" in engines:
        calibration_steps(name, every=max(1, links // 2000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = Path(os.environ.get("CITYTWIN_DATA", ROOT.parent / "shared" / "data"))
    parser.add_argument("--pbf", type=Path, default=data / "osm" / "andorra-latest.osm.pbf")
    parser.add_argument("--synthetic-links", type=int, default=100_000)
    parser.add_argument("--skip-andorra", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    args = parser.parse_args()
    django()
    import platform

    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)  # fmt: skip
    if not args.skip_andorra:
        andorra(args.pbf, set(args.engines))
    if not args.skip_synthetic:
        synthetic(args.synthetic_links, set(args.engines))
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end\n")
    print("| step | process wall time (s) | of which the run (s) | peak memory (MB) | result |")
    print("|---|---:|---:|---:|---|")
    for r in ROWS:
        run_s = f"{r['run_s']:.1f}" if r.get("run_s") is not None else "-"
        print(f"| {r['step']} | {r['seconds']:.1f} | {run_s} | {r['peak_mb']:,.0f} | {r['what']} |")


if __name__ == "__main__":
    main()
