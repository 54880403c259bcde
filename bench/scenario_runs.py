"""Scenario runs through the real service: time from POST to result, and worker throughput.

Needs the service up (``bin/citytwin up``: gunicorn on :8000, one Celery worker, Helsinki).
Prints markdown tables; docs/scenarios.md quotes them.

1. For each simulator on Helsinki: seconds from ``POST /api/scenarios/<id>/runs/`` to the run
   reading ``succeeded`` (polling every 0.1 s), next to the worker's own compute time.
2. Throughput of N small runs (one-day solar, reuse off) with the one worker, then with a second
   worker process started by this script against the same broker and database.

Usage: ``.venv/bin/python bench/scenario_runs.py [--base http://127.0.0.1:8000] [--runs 8]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")


def _django_setup():
    import django

    django.setup()


def _token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="bench")
    return Token.objects.get_or_create(user=user)[0].key


def _scenarios(session: requests.Session, base: str, city_id: int) -> dict[str, int]:
    baseline = session.get(f"{base}/api/cities/{city_id}/baseline/").json()["id"]
    nodes = session.get(f"{base}/api/road-nodes/", params={"city": city_id, "page_size": 1000})
    coords = [f["geometry"]["coordinates"] for f in nodes.json()["features"]]
    lons, lats = zip(*coords, strict=True)
    cx, cy = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    d = 0.003
    zone = {
        "type": "Polygon",
        "coordinates": [[[cx - d, cy - d], [cx + d, cy - d], [cx + d, cy + d], [cx - d, cy + d], [cx - d, cy - d]]],
    }  # fmt: skip
    evac = session.post(
        f"{base}/api/scenarios/",
        json={"city": city_id, "name": "bench evacuation", "edits": [{"type": "hazard_zone", "polygon": zone}]},
    )  # fmt: skip
    evac.raise_for_status()
    return {"baseline": baseline, "evacuation": evac.json()["id"]}


def _run(session, base, scenario_id, simulator, params) -> tuple[float, dict]:
    started = time.perf_counter()
    response = session.post(
        f"{base}/api/scenarios/{scenario_id}/runs/",
        json={"simulator": simulator, "params": params, "reuse": False},
    )
    response.raise_for_status()
    run_id = response.json()["id"]
    while True:
        body = session.get(f"{base}/api/runs/{run_id}/").json()
        if body["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if body["status"] != "succeeded":
        raise RuntimeError(f"{simulator} run {run_id} {body['status']}: {body['error']}")
    return elapsed, body


def _throughput(session, base, scenario_id, n: int) -> float:
    """Runs per minute for n one-day solar runs (2 m cells, 30 min steps) submitted at once."""
    started = time.perf_counter()
    ids = []
    for i in range(n):
        response = session.post(
            f"{base}/api/scenarios/{scenario_id}/runs/",
            json={
                "simulator": "solar",
                "params": {"cell_m": 2.0, "step_min": 30, "date": f"2026-06-{1 + i:02d}"},
                "reuse": False,
            },
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    pending = set(ids)
    while pending:
        for run_id in list(pending):
            status = session.get(f"{base}/api/runs/{run_id}/").json()["status"]
            if status in ("succeeded", "failed", "cancelled"):
                if status != "succeeded":
                    raise RuntimeError(f"run {run_id} {status}")
                pending.discard(run_id)
        time.sleep(0.1)
    return 60.0 * n / (time.perf_counter() - started)


def _start_worker() -> subprocess.Popen:
    log = open(ROOT / ".run" / "bench-worker.log", "w")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "citytwin", "worker", "--concurrency", "1", "--loglevel", "INFO",
         "--hostname", "bench2@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in (ROOT / ".run" / "bench-worker.log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the second worker did not start")
        time.sleep(0.2)
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--city", default="Helsinki")
    args = parser.parse_args(argv)
    _django_setup()
    from layers.models import City

    city = City.objects.get(name=args.city)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {_token()}"
    scenarios = _scenarios(session, args.base, city.id)
    cases = [
        ("traffic", scenarios["baseline"], {"gap": 1e-5}),
        ("solar", scenarios["baseline"], {"cell_m": 2.0, "step_min": 30}),
        ("solar + annual PV", scenarios["baseline"], {"cell_m": 2.0, "step_min": 30, "pv": True}),
        ("evacuation", scenarios["evacuation"], {"time_of_day_h": 12}),
    ]
    print(f"## POST to result on {args.city} (one worker, warm)\n")
    print("| simulator | POST to result (s) | worker compute (s) | overhead (s) | KPI |")
    print("|---|---|---|---|---|")
    for label, scenario_id, params in cases:
        simulator = label.split(" ")[0]
        _run(session, args.base, scenario_id, simulator, params)  # warm the worker (JIT caches)
        elapsed, body = _run(session, args.base, scenario_id, simulator, params)
        kpi = {
            "traffic": ("vehicle_hours", "veh·h"),
            "solar": ("mean_ground_sun_hours", "h ground sun"),
            "evacuation": ("t100_s", "s T100"),
        }[simulator]
        if "PV" in label:
            kpi = ("total_pv_kwh_year", "kWh/year")
        value = body["kpis"].get(kpi[0])
        print(
            f"| {label} | {elapsed:.2f} | {body['seconds']:.2f} | {elapsed - body['seconds']:.2f} "
            f"| {value:,.1f} {kpi[1]} |"
        )
    print(f"\n## Throughput: {args.runs} one-day solar runs submitted at once\n")
    one = _throughput(session, args.base, scenarios["baseline"], args.runs)
    second = _start_worker()
    try:
        _throughput(session, args.base, scenarios["baseline"], 2)  # the new worker warms up
        two = _throughput(session, args.base, scenarios["baseline"], args.runs)
    finally:
        second.terminate()
        second.wait(timeout=30)
    print("| workers | runs/min | ratio |")
    print("|---|---|---|")
    print(f"| 1 | {one:.1f} | 1.00 |")
    print(f"| 2 | {two:.1f} | {two / one:.2f} |")
    print(f"\n({os.cpu_count()} CPU cores; each worker runs one task at a time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
