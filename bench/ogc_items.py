"""Items latency of /ogc/ against pygeoapi serving the same PostGIS table.

A database of its own (``citytwin_ogc_bench`` on the project's PostGIS cluster, migrated here
on first use) holds one imported layer of ``--features`` synthetic small polygons (100,000 by
default) made in SQL, so ``layers_feature`` holds exactly that layer. Two servers run as
separate processes, each one gunicorn sync worker on loopback:

- CityTwin (``.venv``, ``citytwin.wsgi``) serving ``/ogc/collections/<slug>/items``;
- pygeoapi (``bench/.venv-ogc``, made by ``bench/setup_ogc_venv.sh``) with its PostgreSQL
  provider on the table ``layers_feature``.

The same requests go to both in interleaved order: pages of ``--limit`` (1,000) features at
offset 0, at random offsets, and inside a bbox. Prints a Markdown table of p50/p95 ms, mean
bytes and the CityTwin/pygeoapi ratio of medians; docs/ogc.md quotes that table.

    bash bench/setup_ogc_venv.sh
    .venv/bin/python bench/ogc_items.py               # about 2 minutes
    .venv/bin/python bench/ogc_items.py --repeats 50
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = REPO_ROOT / "bench" / ".venv-ogc"
PG = {"host": "127.0.0.1", "port": 54329, "user": "citytwin"}
DB_NAME = "citytwin_ogc_bench"
SLUG = "bench-synthetic"
OURS_PORT, PEER_PORT = 8781, 8782
#: a box in the middle of the synthetic data (about a quarter of it)
BBOX = (24.85, 60.13, 25.0, 60.2)


def ensure_database(features: int) -> int:
    """Create, migrate and fill the bench database when needed; return the layer id."""
    url = f"postgis://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}"
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )
    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        row = conn.execute(
            "SELECT l.id, (SELECT count(*) FROM layers_feature f WHERE f.layer_id = l.id) "
            "FROM layers_layer l WHERE l.slug = %s",
            [SLUG],
        ).fetchone()
        if row and row[1] == features:
            return row[0]
    # one transaction: a failed fill leaves no half-filled layer behind
    with psycopg.connect(dbname=DB_NAME, **PG) as conn:
        conn.execute("DELETE FROM layers_feature")
        conn.execute("DELETE FROM layers_layer")
        layer_id = conn.execute(
            """INSERT INTO layers_layer (name, slug, description, visibility, geometry_type,
                   attribute_schema, source_file, source_crs, feature_count, extent, created_at)
               VALUES ('Bench synthetic', %s, 'synthetic polygons for bench/ogc_items.py',
                   'public', 'Polygon',
                   '{"kind": "string", "score": "number", "rank": "integer"}', '', '',
                   %s, ST_MakeEnvelope(24.7, 60.1, 25.1, 60.3, 4326), now())
               RETURNING id""",
            [SLUG, features],
        ).fetchone()[0]
        # deterministic pseudo-random positions: a 10-15 m square per feature
        conn.execute(
            """INSERT INTO layers_feature (layer_id, fid, geom, properties)
               SELECT %s, g,
                      ST_Expand(ST_SetSRID(ST_MakePoint(
                          24.7 + ((g::bigint * 7919) %% 100003) / 100003.0 * 0.4,
                          60.1 + ((g::bigint * 104729) %% 100019) / 100019.0 * 0.2), 4326),
                          0.0001 + (g %% 5) * 0.00002),
                      jsonb_build_object('kind', (ARRAY['house','shop','school','park'])[g %% 4 + 1],
                                         'score', (g %% 1000) / 10.0, 'rank', g)
               FROM generate_series(1, %s) AS g""",
            [layer_id, features],
        )
    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        conn.execute("ANALYZE layers_feature")
    return layer_id


def pygeoapi_config(folder: Path) -> Path:
    """A minimal pygeoapi configuration with one PostgreSQL collection."""
    config = folder / "pygeoapi.yml"
    config.write_text(
        f"""
server:
  bind: {{host: 127.0.0.1, port: {PEER_PORT}}}
  url: http://127.0.0.1:{PEER_PORT}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  language: en-US
  pretty_print: false
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification:
    title: bench
    description: bench
    keywords: [bench]
    keywords_type: theme
    terms_of_service: none
    url: http://127.0.0.1
  license: {{name: none, url: http://127.0.0.1}}
  provider: {{name: bench, url: http://127.0.0.1}}
  contact: {{name: bench}}
resources:
  {SLUG}:
    type: collection
    title: {SLUG}
    description: the same table as CityTwin serves
    keywords: [bench]
    extents:
      spatial: {{bbox: [24.7, 60.1, 25.1, 60.3], crs: http://www.opengis.net/def/crs/OGC/1.3/CRS84}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {PG["host"]}, port: {PG["port"]}, dbname: {DB_NAME}, user: {PG["user"]},
                password: "", search_path: [public]}}
        id_field: id
        table: layers_feature
        geom_field: geom
"""
    )
    return config


def start(cmd: list[str], env: dict, log: Path, url: str) -> subprocess.Popen:
    """Start a server process and wait until ``url`` answers 200."""
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"{cmd[0]} did not start: {log.read_text()[-3000:]}")


def measure(urls: dict[str, list[str]], repeats: int) -> dict[str, dict[str, list]]:
    """Latencies (ms) and sizes per server, requests interleaved so drifts hit both."""
    found = {name: {"ms": [], "bytes": [], "features": []} for name in urls}
    names = list(urls)
    for i in range(repeats):
        for name in names if i % 2 == 0 else reversed(names):
            url = urls[name][i % len(urls[name])]
            t0 = time.perf_counter()
            response = requests.get(url, headers={"Accept": "application/geo+json"}, timeout=120)
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            found[name]["ms"].append(elapsed)
            found[name]["bytes"].append(len(response.content))
            count = len(response.json()["features"])
            if count == 0:
                raise RuntimeError(f"{name} returned no features for {url}")
            found[name]["features"].append(count)
    return found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    if not (PEER_VENV / "bin" / "pygeoapi").exists():
        print("bench/.venv-ogc is missing: run bash bench/setup_ogc_venv.sh", file=sys.stderr)
        return 2
    ensure_database(args.features)
    db_url = f"postgis://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}"
    rng = random.Random(8)
    offsets = [rng.randrange(0, args.features - args.limit) for _ in range(args.repeats)]
    bbox = ",".join(map(str, BBOX))
    bases = {
        "CityTwin": f"http://127.0.0.1:{OURS_PORT}/ogc/collections/{SLUG}/items",
        "pygeoapi": f"http://127.0.0.1:{PEER_PORT}/collections/{SLUG}/items",
    }
    cases = {
        "offset 0": lambda base: [f"{base}?limit={args.limit}&f=json"],
        "random offsets": lambda base: [
            f"{base}?limit={args.limit}&offset={o}&f=json" for o in offsets
        ],
        "bbox": lambda base: [f"{base}?limit={args.limit}&bbox={bbox}&f=json"],
    }
    procs = []
    with tempfile.TemporaryDirectory(prefix="ogc-bench-") as tmp:
        folder = Path(tmp)
        try:
            ours_env = {**os.environ, "DATABASE_URL": db_url, "CITYTWIN_DEBUG": "0"}
            procs.append(
                start(
                    [
                        str(REPO_ROOT / ".venv" / "bin" / "gunicorn"),
                        "citytwin.wsgi",
                        "-w",
                        "1",
                        "-b",
                        f"127.0.0.1:{OURS_PORT}",
                        "--timeout",
                        "120",
                    ],
                    ours_env,
                    folder / "citytwin.log",
                    f"http://127.0.0.1:{OURS_PORT}/ogc/",
                )
            )
            config = pygeoapi_config(folder)
            openapi = folder / "openapi.yml"
            peer_env = {
                "PATH": f"{PEER_VENV / 'bin'}:/usr/bin:/bin",
                "PYGEOAPI_CONFIG": str(config),
                "PYGEOAPI_OPENAPI": str(openapi),
                "HOME": os.environ.get("HOME", tmp),
            }
            subprocess.run(
                [
                    str(PEER_VENV / "bin" / "pygeoapi"),
                    "openapi",
                    "generate",
                    str(config),
                    "--output-file",
                    str(openapi),
                ],
                env=peer_env,
                check=True,
                capture_output=True,
            )
            procs.append(
                start(
                    [
                        str(PEER_VENV / "bin" / "gunicorn"),
                        "pygeoapi.flask_app:APP",
                        "-w",
                        "1",
                        "-b",
                        f"127.0.0.1:{PEER_PORT}",
                        "--timeout",
                        "120",
                    ],
                    peer_env,
                    folder / "pygeoapi.log",
                    f"http://127.0.0.1:{PEER_PORT}/collections/{SLUG}?f=json",
                )
            )
            # warm both (connections, caches, the pygeoapi table reflection)
            for base in bases.values():
                for make in cases.values():
                    requests.get(make(base)[0], timeout=120).raise_for_status()
            results = {
                case: measure({n: make(b) for n, b in bases.items()}, args.repeats)
                for case, make in cases.items()
            }
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
    peer_version = subprocess.run(
        [
            str(PEER_VENV / "bin" / "python"),
            "-c",
            "from importlib.metadata import version; print(version('pygeoapi'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"{args.features:,} synthetic polygons in one layer, pages of {args.limit}, "
        f"{args.repeats} requests per case and server; pygeoapi {peer_version}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| case | server | features | p50 ms | p95 ms | mean KB | p50 ratio CityTwin/pygeoapi |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for case, per_server in results.items():
        ratio = statistics.median(per_server["CityTwin"]["ms"]) / statistics.median(
            per_server["pygeoapi"]["ms"]
        )
        for name, data in per_server.items():
            print(
                f"| {case} | {name} | {statistics.median(data['features']):.0f} "
                f"| {statistics.median(data['ms']):.1f} | {p95(data['ms']):.1f} "
                f"| {statistics.mean(data['bytes']) / 1024:.0f} "
                f"| {f'{ratio:.2f}' if name == 'CityTwin' else ''} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
