"""The latest value of 400 datastreams in one request, over a few million observations.

A database of its own (``citytwin_sensors_bench`` on the project's PostGIS cluster, port
``CITYTWIN_PG_PORT``, migrated here on first use) holds ``--datastreams`` (400) datastreams
with ``--per-datastream`` (5,000) observations each, made in SQL (2,000,000 rows by default;
kept between runs, rebuilt when the sizes change). Then, interleaved, ``--repeats`` times:

- ``api``: ``GET /api/sensors/latest/?datastreams=<400 ids>`` through Django's test client
  (view, permission filter, one query on the datastream table, JSON);
- ``sql kept``: that one query alone (the latest value kept by store_observations);
- ``sql lateral``: the newest observation per datastream by an index probe each (LATERAL ...
  ORDER BY phenomenon_time DESC LIMIT 1 on the idempotency key's index), what a table
  without a kept value would need at best;
- ``sql scan``: DISTINCT ON over the observations of those datastreams (scans history).

Prints p50/p95 ms per way and the ratios to ``api``; docs/sensors.md quotes the table.

    .venv/bin/python bench/sensors_latest.py                 # a few minutes the first time
    .venv/bin/python bench/sensors_latest.py --per-datastream 2000 --repeats 30
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
PG = {
    "host": "127.0.0.1",
    "port": int(os.environ.get("CITYTWIN_PG_PORT", "54329")),
    "user": "citytwin",
}
DB_NAME = "citytwin_sensors_bench"
BENCH_THING = "bench sensors_latest"


def ensure_database() -> str:
    url = f"postgis://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}"
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    with psycopg.connect(dbname=DB_NAME, autocommit=True, **PG) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO_ROOT, env=env, check=True,
    )  # fmt: skip
    return url


def fill(n_ds: int, per_ds: int) -> list[int]:
    """The bench datastreams (made when missing or of another size); returns their ids."""
    from django.db import connection, transaction

    from sensors.models import Datastream, ObservedProperty, Sensor, Thing

    thing = Thing.objects.filter(name=BENCH_THING).first()
    if thing is not None:
        ids = list(
            Datastream.objects.filter(thing=thing).order_by("pk").values_list("pk", flat=True)
        )
        n_obs = (thing.properties or {}).get("per_datastream")
        if len(ids) == n_ds and n_obs == per_ds:
            return ids
        print("sizes changed: rebuilding the bench data", flush=True)
        thing.delete()
    t0 = time.perf_counter()
    with transaction.atomic():
        thing = Thing.objects.create(
            name=BENCH_THING, description="bench", properties={"per_datastream": per_ds}
        )
        sensor = Sensor.objects.create(
            name="s", description="s", encoding_type="text/html", metadata="m"
        )
        prop = ObservedProperty.objects.create(name="p", definition="d", description="p")
        Datastream.objects.bulk_create(
            [
                Datastream(
                    name=f"bench {i}",
                    description="bench",
                    thing=thing,
                    sensor=sensor,
                    observed_property=prop,
                    unit_of_measurement={"symbol": "veh/h"},
                    visibility="public" if i % 10 else "private",
                )  # fmt: skip
                for i in range(n_ds)
            ]
        )
        ids = list(
            Datastream.objects.filter(thing=thing).order_by("pk").values_list("pk", flat=True)
        )
    with connection.cursor() as cur:
        # one datastream at a time in time order (as devices send): the BRIN index stays tight
        for k, ds in enumerate(ids):
            cur.execute(
                """
                INSERT INTO sensors_observation (datastream_id, phenomenon_time, result)
                SELECT %s, timestamptz '2026-01-01 00:00+00' + g * interval '5 minutes',
                       to_jsonb(round((100 + 50 * sin(g / 12.0) + random() * 10)::numeric, 1))
                FROM generate_series(0, %s - 1) g
                """,
                [ds, per_ds],
            )
            if k % 50 == 0:
                print(f"  filled {k}/{len(ids)} datastreams", flush=True)
        cur.execute(
            """
            UPDATE sensors_datastream d SET latest_value = o.result,
                latest_phenomenon_time = o.phenomenon_time
            FROM (SELECT DISTINCT ON (datastream_id) datastream_id, result, phenomenon_time
                  FROM sensors_observation WHERE datastream_id = ANY(%s)
                  ORDER BY datastream_id, phenomenon_time DESC) o
            WHERE d.id = o.datastream_id
            """,
            [ids],
        )
        cur.execute("ANALYZE sensors_observation; ANALYZE sensors_datastream")
    print(f"made {n_ds * per_ds:,} observations in {time.perf_counter() - t0:.0f} s", flush=True)
    return ids


SQL = {
    "sql kept": """SELECT id, name, unit_of_measurement, latest_value, latest_phenomenon_time
                   FROM sensors_datastream WHERE id = ANY(%s) ORDER BY id""",
    "sql lateral": """SELECT d.id, o.result, o.phenomenon_time FROM unnest(%s::bigint[]) d(id)
                      CROSS JOIN LATERAL (SELECT result, phenomenon_time FROM sensors_observation
                          WHERE datastream_id = d.id
                          ORDER BY phenomenon_time DESC, COALESCE(sequence, -1) DESC LIMIT 1) o""",
    "sql scan": """SELECT DISTINCT ON (datastream_id) datastream_id, result, phenomenon_time
                   FROM sensors_observation WHERE datastream_id = ANY(%s)
                   ORDER BY datastream_id, phenomenon_time DESC""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datastreams", type=int, default=400)
    parser.add_argument("--per-datastream", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--scan-repeats", type=int, default=5, help="the slow history scan")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = ensure_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    ids = fill(args.datastreams, args.per_datastream)
    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    client = Client()
    client.force_login(staff)  # staff: every datastream, private ones included
    query = ",".join(map(str, ids))
    client.get("/api/sensors/latest/", {"datastreams": query})  # warm-up: URL conf, imports
    times: dict[str, list[float]] = {"api": [], **{k: [] for k in SQL}}
    for r in range(args.repeats):
        t = time.perf_counter()
        resp = client.get("/api/sensors/latest/", {"datastreams": query})
        times["api"].append(time.perf_counter() - t)
        assert resp.status_code == 200 and len(resp.json()["datastreams"]) == len(ids), (
            resp.content[:300]
        )
        with connection.cursor() as cur:
            for name, sql in SQL.items():
                if name == "sql scan" and r >= args.scan_repeats:
                    continue
                t = time.perf_counter()
                cur.execute(sql, [ids])
                rows = cur.fetchall()
                times[name].append(time.perf_counter() - t)
                assert len(rows) == len(ids), (name, len(rows))

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] * 1000

    total = args.datastreams * args.per_datastream
    print(
        f"\nlatest value of {len(ids)} datastreams over {total:,} observations "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"PostgreSQL on loopback)\n"
    )
    print("| way | runs | p50 ms | p95 ms | p50 / api p50 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    api_p50 = pct(times["api"], 0.5)
    for name, xs in times.items():
        print(
            f"| {name} | {len(xs)} | {pct(xs, 0.5):.1f} | {pct(xs, 0.95):.1f} | "
            f"{pct(xs, 0.5) / api_p50:.2f} |"
        )


if __name__ == "__main__":
    main()
