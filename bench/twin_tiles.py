"""Vector-tile latency of the running CityTwin server, alone and under concurrent load.

Takes the Helsinki city boundary from ``/api/cities/``, lists every tile of zooms 12-16 that
covers its bounding box, and measures sequential latencies of ``/tiles/<layer>/<z>/<x>/<y>.pbf``
for the buildings and roads layers: each tile is requested several times (interleaved passes
over the whole list, so a slow moment hits every zoom alike). Two phases:

- ``no load``: only this process talks to the server (the baseline; skip with ``--no-baseline``);
- ``load``: a second process (multiprocessing) runs ``--clients`` threads that request random
  tiles from the same list back to back, while this process measures as before.

The server caches rendered tiles up to z15 (``layers/tiles/cache.py``) until the next import
into their city, so the first pass over the list is the cold one after an import and later
passes are cache hits (``requests`` sends no ``If-None-Match``; no cache-busting parameter is
added). Loopback only; the whole run is bounded by ``--duration`` (plus at most one request
timeout) and stops by itself. Prints a Markdown table: zoom, layer, tiles, p50/p95 ms per
phase, p50 / max ms of the first pass, mean and max body bytes (uncompressed), then the load
generator's requests/s. The server is at ``CITYTWIN_WEB_ADDR`` (default 127.0.0.1:8000).

    .venv/bin/python bench/twin_tiles.py                    # about 60 s
    .venv/bin/python bench/twin_tiles.py --duration 120 --clients 8
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

import requests

#: the server is only ever reached over loopback (CITYTWIN_WEB_ADDR: another local port)
BASE_URL = "http://" + os.environ.get("CITYTWIN_WEB_ADDR", "127.0.0.1:8000")
LAYERS = ("buildings", "roads")
ZOOMS = tuple(range(12, 17))
#: seconds before one request counts as failed; also bounds how far a phase can overrun
REQUEST_TIMEOUT_S = 10.0

Tile = tuple[str, int, int, int]  # (layer, z, x, y)


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Web-Mercator (XYZ / slippy-map) tile column and row holding a WGS84 point at zoom ``z``."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    lat_rad = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(lat_rad)) / math.pi) / 2.0 * n)
    # clamp: a bbox edge exactly on the antimeridian or a pole would give n
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_for_bbox(bbox: tuple[float, float, float, float], zooms: tuple[int, ...]) -> dict:
    """Tiles covering ``bbox`` (min lon, min lat, max lon, max lat; degrees), per zoom.

    Returns
    -------
    dict
        zoom -> list of (x, y); rows grow southwards, hence max lat gives the smallest y.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    out: dict[int, list[tuple[int, int]]] = {}
    for z in zooms:
        x0, y0 = lonlat_to_tile(min_lon, max_lat, z)
        x1, y1 = lonlat_to_tile(max_lon, min_lat, z)
        out[z] = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def city_bbox(name: str) -> tuple[int, tuple[float, float, float, float]]:
    """(id, bbox) of city ``name`` from ``/api/cities/`` (GeoJSON, lon/lat), following pages."""
    url: str | None = f"{BASE_URL}/api/cities/"
    while url:
        page = requests.get(url, timeout=REQUEST_TIMEOUT_S).json()
        for feature in page["features"]:
            if feature["properties"]["name"] != name:
                continue
            if not feature.get("geometry"):
                raise SystemExit(f"city {name!r} has no boundary")
            lons: list[float] = []
            lats: list[float] = []
            for polygon in feature["geometry"]["coordinates"]:
                for ring in polygon:
                    lons.extend(p[0] for p in ring)
                    lats.extend(p[1] for p in ring)
            return int(feature["id"]), (min(lons), min(lats), max(lons), max(lats))
        url = page.get("next")
    raise SystemExit(f"no city {name!r} at {BASE_URL}/api/cities/; run bin/citytwin up")


def tile_url(tile: Tile, query: str) -> str:
    """URL of one tile; ``query`` is '' or a '?city=<id>' filter."""
    layer, z, x, y = tile
    return f"{BASE_URL}/tiles/{layer}/{z}/{x}/{y}.pbf{query}"


# --- load generator (second process) ------------------------------------------------------


def _client_loop(
    urls: list[str], deadline: float, stop: threading.Event, seed: int, counts: list[int]
) -> None:
    """One client thread: random tiles back to back until the deadline; counts ok / errors.

    Like a browser, it says it accepts gzip (``requests`` does by default).
    """
    rng = random.Random(seed)
    with requests.Session() as session:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                response = session.get(rng.choice(urls), timeout=REQUEST_TIMEOUT_S)
                # read the body: the server's work is only done once it is sent
                ok = response.status_code == 200 and response.content is not None
            except requests.RequestException:
                ok = False
            counts[0 if ok else 1] += 1


def load_generator(
    urls: list[str], clients: int, duration_s: float, stop: mp.Event, result: mp.Queue
) -> None:
    """Process body: ``clients`` threads hammer ``urls`` for ``duration_s`` or until ``stop``.

    A separate process (not just threads in the measuring one) so the load's Python work does
    not share the measuring process's GIL and distort the latencies measured there.
    """
    deadline = time.monotonic() + duration_s
    local_stop = threading.Event()
    per_thread = [[0, 0] for _ in range(clients)]
    threads = [
        threading.Thread(target=_client_loop, args=(urls, deadline, local_stop, i, per_thread[i]))
        for i in range(clients)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    # poll the parent's stop event; the deadline ends the threads on its own otherwise
    while time.monotonic() < deadline and not stop.wait(0.2):
        pass
    local_stop.set()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S + 1)
    elapsed = time.monotonic() - start
    result.put(
        {
            "ok": sum(c[0] for c in per_thread),
            "errors": sum(c[1] for c in per_thread),
            "seconds": elapsed,
        }
    )


# --- measurement (this process) -----------------------------------------------------------


@dataclass
class Samples:
    """Latencies (ms) and body sizes (bytes) of one (zoom, layer) in one phase."""

    ms: list[float] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    errors: int = 0


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0-100) of ``values``, NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def measure(tiles: list[Tile], query: str, passes: int, budget_s: float) -> tuple[dict, int]:
    """Sequential latencies: up to ``passes`` passes over ``tiles`` within ``budget_s``.

    Always finishes the first pass (every tile at least once); further passes stop at the
    budget. Returns ((z, layer) -> Samples, complete passes).
    """
    samples: dict[tuple[int, str], Samples] = {}
    deadline = time.monotonic() + budget_s
    done = 0
    with requests.Session() as session:
        # one untimed request opens the keep-alive connection, so pass 1 is not penalised
        session.get(tile_url(tiles[0], query), timeout=REQUEST_TIMEOUT_S)
        for n in range(passes):
            if n > 0 and time.monotonic() >= deadline:
                break
            for tile in tiles:
                if n > 0 and time.monotonic() >= deadline:
                    break
                cell = samples.setdefault((tile[1], tile[0]), Samples())
                start = time.perf_counter()
                try:
                    response = session.get(tile_url(tile, query), timeout=REQUEST_TIMEOUT_S)
                    body = response.content
                    elapsed_ms = (time.perf_counter() - start) * 1000.0
                except requests.RequestException:
                    cell.errors += 1
                    continue
                if response.status_code != 200:
                    cell.errors += 1
                    continue
                cell.ms.append(elapsed_ms)
                cell.size.append(len(body))
                if n == 0:
                    cell.first_ms.append(elapsed_ms)
            else:
                done += 1
    return samples, done


def main() -> None:
    """Parse arguments, run the phases, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", default="Helsinki", help="city whose boundary bbox is tiled")
    parser.add_argument("--duration", type=float, default=60.0, help="total seconds (about)")
    parser.add_argument("--clients", type=int, default=8, help="load generator threads")
    parser.add_argument("--passes", type=int, default=10, help="max requests per tile per phase")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the no-load phase (all time to load)"
    )
    parser.add_argument(
        "--zooms", type=int, nargs="+", default=list(ZOOMS), help="zoom levels (default 12-16)"
    )
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), help="layers to request")
    parser.add_argument(
        "--city-filter",
        action="store_true",
        help="add ?city=<id> to every tile (only that city's features, as a city view asks)",
    )
    args = parser.parse_args()

    zooms, layers = tuple(args.zooms), tuple(args.layers)
    city_id, bbox = city_bbox(args.city)
    per_zoom = tiles_for_bbox(bbox, zooms)
    tiles: list[Tile] = [
        (layer, z, x, y) for z in zooms for layer in layers for (x, y) in per_zoom[z]
    ]
    query = f"?city={city_id}" if args.city_filter else ""
    urls = [tile_url(t, query) for t in tiles]

    # the no-load phase needs fewer samples to be stable; the load phase gets the larger share
    base_s = 0.0 if args.no_baseline else args.duration / 3.0
    load_s = args.duration - base_s

    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with the server, PostGIS and other work), server "
        f"{BASE_URL}, city {args.city!r} (id {city_id}), bbox "
        + ", ".join(f"{v:.4f}" for v in bbox)
    )
    print(
        f"{len(tiles)} tile URLs ({', '.join(f'z{z}: {len(per_zoom[z])}' for z in zooms)} "
        f"per layer), query {query or '(none)'}; up to {args.passes} passes per phase; "
        f"load: {args.clients} client threads in a second process"
    )

    phases: dict[str, tuple[dict, int]] = {}
    if not args.no_baseline:
        phases["no load"] = measure(tiles, query, args.passes, base_s)

    stop = mp.Event()
    result: mp.Queue = mp.Queue()
    loader = mp.Process(
        target=load_generator,
        args=(urls, args.clients, load_s + REQUEST_TIMEOUT_S, stop, result),
        daemon=True,  # never outlives this process
    )
    loader.start()
    time.sleep(1.0)  # let the clients connect and the server reach steady load
    try:
        phases["load"] = measure(tiles, query, args.passes, load_s - 1.0)
    finally:
        stop.set()
        load = result.get(timeout=2 * REQUEST_TIMEOUT_S + 5)
        loader.join(5)

    print()
    header = "| zoom | layer | tiles |"
    rule = "|---:|---|---:|"
    for name in phases:
        header += f" p50 ms ({name}) | p95 ms ({name}) |"
        rule += "---:|---:|"
    header += " first pass p50 / max ms | mean bytes | max bytes | samples/tile |"
    rule += "---:|---:|---:|---|"
    print(header)
    print(rule)
    for z in zooms:
        for layer in layers:
            row = f"| {z} | {layer} | {len(per_zoom[z])} |"
            sizes: list[int] = []
            counts = []
            for samples, _ in phases.values():
                cell = samples.get((z, layer), Samples())
                row += f" {percentile(cell.ms, 50):.1f} | {percentile(cell.ms, 95):.1f} |"
                sizes.extend(cell.size)
                per_tile = len(cell.ms) / max(len(per_zoom[z]), 1)
                counts.append(f"{per_tile:.1f}" + (f" ({cell.errors} err)" if cell.errors else ""))
            first = next(iter(phases.values()))[0].get((z, layer), Samples()).first_ms
            mean_bytes = statistics.fmean(sizes) if sizes else float("nan")
            row += (
                f" {percentile(first, 50):.0f} / {max(first, default=float('nan')):.0f} |"
                f" {mean_bytes:.0f} | {max(sizes, default=0)} | {' / '.join(counts)} |"
            )
            print(row)
    print()
    for name, (samples, done) in phases.items():
        total = sum(len(s.ms) for s in samples.values())
        errors = sum(s.errors for s in samples.values())
        print(f"{name}: {total} measured requests, {done} complete passes, {errors} errors")
    rate = load["ok"] / load["seconds"] if load["seconds"] else float("nan")
    print(
        f"load generator: {args.clients} threads, {load['ok']} ok + {load['errors']} errors "
        f"in {load['seconds']:.1f} s = {rate:.1f} requests/s"
    )


if __name__ == "__main__":
    main()
