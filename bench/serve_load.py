"""Latency of pages and tiles under load, with and without 50 open event streams (loopback only).

Starts the web server exactly as `bin/citytwin up` does (`bin/citytwin serve`: gunicorn with
uvicorn workers) on a free 127.0.0.1 port, against the database of `bin/citytwin up`
(DATABASE_URL, default the project cluster), with Helsinki imported. Then, side by side in one
run, for ``--seconds`` each:

1. ``--clients`` client threads (default 8) asking, one request after the other, for tiles
   (buildings, roads; z 13-16 around the city centre) and pages (/api/, /api/cities/,
   /api/buildings/?page_size=50, /ogc/collections, the web map page);
2. the same, while ``--streams`` (default 50) event streams stay open on a running run of
   Helsinki's baseline (a job row marked running for the bench; removed afterwards) and its
   progress moves every second (each change reaches every stream through NOTIFY).

Prints p50/p95/p99 of the request latency (ms), requests per second and the error count (any
status >= 400, or no answer within 10 s). Bounded: fixed duration, loopback only.

    .venv/bin/python bench/serve_load.py [--seconds 20] [--clients 8] [--streams 50]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
os.environ.setdefault(
    "DATABASE_URL",
    f"postgis://citytwin@127.0.0.1:{os.environ.get('CITYTWIN_PG_PORT', '54329')}/citytwin",
)
os.environ.setdefault(
    "CELERY_BROKER_URL", f"redis://127.0.0.1:{os.environ.get('CITYTWIN_REDIS_PORT', '63790')}/0"
)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import requests  # noqa: E402
from django.utils import timezone  # noqa: E402

from citytwin.scenarios.models import Run  # noqa: E402
from citytwin.scenarios.services import baseline_of  # noqa: E402
from jobs.models import Job  # noqa: E402
from layers.models import Building, City  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, max_streams: int) -> tuple[subprocess.Popen, str]:
    addr = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "CITYTWIN_WEB_ADDR": addr,
        "CITYTWIN_WEB_WORKERS": str(workers),
        "CITYTWIN_SSE_MAX_PER_CLIENT": str(max_streams),
    }
    log = open(ROOT / ".run" / "bench-serve.log", "w")  # noqa: SIM115 - lives with the server
    proc = subprocess.Popen(
        [str(ROOT / "bin" / "citytwin"), "serve"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://{addr}"
    for _ in range(300):
        try:
            if requests.get(url + "/api/", timeout=2).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(proc.pid, 15)
    raise SystemExit("the server did not start (see .run/bench-serve.log)")


def tile_paths(city: City) -> list[str]:
    from django.contrib.gis.db.models import Extent

    west, south, east, north = Building.objects.filter(city=city).aggregate(e=Extent("footprint"))[
        "e"
    ]
    lon, lat = (west + east) / 2, (south + north) / 2
    paths = []
    for z in (13, 14, 15, 16):
        n = 2**z
        x = int((lon + 180) / 360 * n)
        y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for layer in ("buildings", "roads"):
                    paths.append(f"/tiles/{layer}/{z}/{x + dx}/{y + dy}.pbf?city={city.pk}")
    return paths


def page_paths(city: City) -> list[str]:
    return [
        "/api/",
        "/api/cities/",
        f"/api/buildings/?city={city.pk}&page_size=50",
        "/ogc/collections",
        "/",
    ]


def load(url: str, paths: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        session = requests.Session()
        i = offset
        while time.monotonic() < stop:
            path = paths[i % len(paths)]
            i += 7
            started = time.perf_counter()
            try:
                ok = session.get(url + path, timeout=10).status_code < 400
            except requests.RequestException:
                ok = False
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)
                errors[0] += not ok

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def open_streams(url: str, run_id, count: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(f"GET /api/runs/{run_id}/events/ HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        socks.append(s)
    for s in socks:  # every stream got its first event
        data = b""
        while b"event: run" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit(f"a stream closed at once: {data[:300]!r}")
            data += chunk
        s.setblocking(False)
    return socks


def drain(socks: list[socket.socket], stop: threading.Event, received: list[int]) -> None:
    while not stop.is_set():
        for s in socks:
            try:
                received[0] += s.recv(65536).count(b"event: run")
            except BlockingIOError:
                pass
        time.sleep(0.05)


def summary(label: str, latencies: list[float], errors: int, seconds: float) -> str:
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (0, 0, 0)
    return (
        f"| {label} | {len(latencies) / seconds:.0f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | "
        f"{errors} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--workers", type=int, default=3, help="web worker processes")
    args = parser.parse_args()
    city = City.objects.filter(name="Helsinki").first()
    if city is None:
        raise SystemExit("import Helsinki first: bin/citytwin up")
    job = Job.objects.create(
        kind="bench_load",  # not run_*: the reaper of lost runs leaves it alone
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        stage="bench",
    )
    run = Run.objects.create(
        job=job,
        scenario=baseline_of(city),
        scenario_version=0,
        simulator="traffic",
        engine_version="bench",
        input_checksum=uuid.uuid4().hex,
    )
    proc, url = start_server(args.workers, max(args.streams, 1))
    rows = []
    try:
        paths = tile_paths(city) + page_paths(city) * 3
        load(url, paths, 2, 2.0)  # warm-up (connections, caches)
        lat, err = load(url, paths, args.clients, args.seconds)
        rows.append(summary(f"{args.clients} clients", lat, err, args.seconds))
        socks = open_streams(url, run.pk, args.streams)
        stop, received = threading.Event(), [0]
        drainer = threading.Thread(target=drain, args=(socks, stop, received))
        drainer.start()

        def move_progress() -> None:
            percent = 0.0
            while not stop.wait(1.0):
                percent = min(99.0, percent + 1.0)
                Job.objects.filter(pk=job.pk).update(progress_percent=percent)

        mover = threading.Thread(target=move_progress)
        mover.start()
        lat, err = load(url, paths, args.clients, args.seconds)
        stop.set()
        mover.join()
        drainer.join()
        rows.append(
            summary(f"{args.clients} clients + {args.streams} open streams", lat, err, args.seconds)
        )
        for s in socks:
            s.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        run.delete()
        job.delete()
    print(
        f"serve load, Helsinki, bin/citytwin serve ({args.workers} uvicorn workers), "
        f"{args.seconds:.0f} s per row, {len(paths)} URLs (tiles z13-16 + pages), loopback"
    )
    print()
    print("| load | requests/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(row)
    print()
    print(f"progress events received by the {args.streams} streams: {received[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
