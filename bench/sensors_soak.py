"""Soak of the sensors' ingest on loopback: a steady 2,000 observations per second over MQTT
(QoS 1) for ``--seconds`` (default 600), with a broker restart at one third and a kill -9 of
the consumer at two thirds (a new one started at once, as a supervisor would).

Starts its own Mosquitto (a free 127.0.0.1 port, files written by ``sensors.mqtt.broker`` in a
temporary folder) and its own consumer (``manage.py sensors_consumer``) against the database
of ``bin/citytwin up`` (DATABASE_URL, default the project cluster); creates ``--datastreams``
bench Datastreams (default 20) on as many Things with one device login each, removed at the end.

Each message carries ``--per-message`` observations (default 10, the dataArray form on the
batch topic). Latency, ingest to API: from the publish of an observation to the moment it
is readable, measured two ways:

- receive: the consumer publishes each stored Observation on ``v1.1/Datastreams(<id>)/
  Observations`` after the commit; a reader subscribed there stamps its arrival;
- API: every 0.5 s the SensorThings API (the real view, in process) is asked for a
  Datastream's newest Observation; its age since publish is one sample.

Prints published (acknowledged by the broker), stored, missing, duplicate rows, redeliveries
the idempotent store absorbed, and p50/p95/p99 latency over the whole run and outside the
disturbances (30 s after each). Bounded in time, loopback only.

    .venv/bin/python bench/sensors_soak.py [--seconds 600] [--rate 2000] [--datastreams 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
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
import paho.mqtt.client as mqtt  # noqa: E402

from sensors.mqtt import broker, logins  # noqa: E402

MOSQUITTO = "/usr/sbin/mosquitto"
#: phenomenon times: T0 + sequence milliseconds (unique per Datastream, in the past)
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    def __init__(self, paths, port):
        self.paths, self.port, self.proc = paths, port, None

    def start(self):
        broker.write_broker_files(self.paths, self.port)
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.paths.conf)])
        while not port_open(self.port):
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def start_consumer(env, log_path) -> subprocess.Popen:
    log = open(log_path, "a")  # noqa: SIM115  (kept open for the child)
    return subprocess.Popen(
        [sys.executable, "manage.py", "sensors_consumer"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def make_streams(n: int, user):
    from sensors.models import Datastream, ObservedProperty, Sensor, Thing

    sensor = Sensor.objects.create(
        name="soak sensor", description="bench", encoding_type="text/html", metadata="bench"
    )
    prop = ObservedProperty.objects.create(name="soak", definition="bench", description="bench")
    out = []
    for i in range(n):
        thing = Thing.objects.create(name=f"soak thing {i}", description="bench")
        ds = Datastream.objects.create(
            name=f"soak {i}", description="bench", thing=thing, sensor=sensor,
            observed_property=prop, owner=user,
            unit_of_measurement={"name": "count", "symbol": "1", "definition": "bench"},
        )  # fmt: skip
        login, pw = logins.add_device(thing.pk, f"soak-{uuid.uuid4().hex[:8]}")
        out.append((ds, login.username, pw))
    return out, sensor, prop


def percentiles(values) -> str:
    if len(values) == 0:
        return "no samples"
    p = np.percentile(np.asarray(values) * 1000, [50, 95, 99])
    return f"p50 {p[0]:.0f} ms, p95 {p[1]:.0f} ms, p99 {p[2]:.0f} ms ({len(values):,} samples)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="length of the soak (s)")
    ap.add_argument("--rate", type=float, default=2000.0, help="observations per second")
    ap.add_argument("--datastreams", type=int, default=20)
    ap.add_argument("--per-message", type=int, default=10, help="observations per message")
    args = ap.parse_args()

    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from sensors.models import Observation

    tmp = Path(tempfile.mkdtemp(prefix="citytwin-soak-"))
    port = free_port()
    os.environ["CITYTWIN_MQTT_DIR"] = str(tmp)
    os.environ["CITYTWIN_MQTT_PORT"] = str(port)
    paths = broker.BrokerPaths(tmp)
    user = get_user_model().objects.create_user(f"soak-{uuid.uuid4().hex[:6]}", is_staff=True)
    token = Token.objects.create(user=user)
    streams, sensor, prop = make_streams(args.datastreams, user)
    _, reader_pw = logins.add_reader(user)
    b = Broker(paths, port)
    b.start()
    env = {**os.environ}
    consumer_log = tmp / "consumer.log"
    consumer = start_consumer(env, consumer_log)

    n_ds = len(streams)
    per_ds_rate = args.rate / n_ds
    capacity = int(per_ds_rate * args.seconds * 1.2) + 1000
    published_at = np.full((n_ds, capacity), np.nan)  # monotonic time of the first publish
    index_of = {ds.pk: i for i, (ds, _, _) in enumerate(streams)}
    seen_at = np.full((n_ds, capacity), np.nan)  # first arrival on the receive topic

    def on_receive(c, u, msg):
        now = time.monotonic()
        m = re.match(r"v1\.1/Datastreams\((\d+)\)/Observations", msg.topic)
        if not m:
            return
        body = json.loads(msg.payload)
        t = datetime.fromisoformat(body["phenomenonTime"].replace("Z", "+00:00"))
        seq = round((t - T0).total_seconds() * 1000)
        i = index_of.get(int(m.group(1)))
        if i is not None and 0 <= seq < capacity and np.isnan(seen_at[i, seq]):
            seen_at[i, seq] = now

    reader = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-reader",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    reader.username_pw_set(user.get_username(), reader_pw)
    reader.on_message = on_receive
    reader.on_connect = lambda c, u, f, rc, p: c.subscribe("v1.1/+/Observations", 0)
    reader.reconnect_delay_set(0.2, 1)
    reader.connect("127.0.0.1", port)
    reader.loop_start()

    # one publishing client per device; acknowledged observations counted on PUBACK (no lock
    # of ours around paho's calls: its callbacks run under its own locks)
    sent_n: dict[tuple[int, int], int] = {}  # (client, mid) -> observations in the message
    acked_mids: set[tuple[int, int]] = set()
    pubs = []
    for i, (_ds, login, pw) in enumerate(streams):
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=login, protocol=mqtt.MQTTv5)
        c.username_pw_set(login, pw)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.2, 1)

        def on_publish(cl, u, mid, rc, props, i=i):
            if not rc.is_failure:
                acked_mids.add((i, mid))

        c.on_publish = on_publish
        c.connect("127.0.0.1", port)
        c.loop_start()
        pubs.append(c)
    print("waiting for the consumer to connect (Django starts)...", flush=True)
    while "connected to" not in consumer_log.read_text():
        time.sleep(0.2)

    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    api_samples: list[tuple[float, float]] = []  # (sample time, latency s)
    stop_api = threading.Event()

    def sample_api():
        k = 0
        while not stop_api.wait(0.5):
            i = k % n_ds
            k += 1
            ds = streams[i][0]
            r = api.get(f"/sta/v1.1/Datastreams({ds.pk})/Observations",
                        {"$orderby": "phenomenonTime desc", "$top": "1"})  # fmt: skip
            now = time.monotonic()
            if r.status_code != 200 or not r.json()["value"]:
                continue
            t = datetime.fromisoformat(
                r.json()["value"][0]["phenomenonTime"].replace("Z", "+00:00")
            )
            seq = round((t - T0).total_seconds() * 1000)
            if 0 <= seq < capacity and not np.isnan(published_at[i, seq]):
                # the newest readable one was published at published_at; anything newer was
                # not readable yet, so this is an upper bound of the lag at this instant
                nxt = seq + 1
                if nxt < capacity and not np.isnan(published_at[i, nxt]):
                    api_samples.append((now, now - published_at[i, nxt]))
                else:
                    api_samples.append((now, 0.0))

    threading.Thread(target=sample_api, daemon=True).start()
    events: list[tuple[float, str]] = []
    seq = [0] * n_ds
    start = time.monotonic()
    tick = 0.1
    sent_obs = 0
    restarted = killed = False
    next_report = start + 30
    print(f"soak: {args.rate:.0f} observations/s for {args.seconds:.0f} s on {n_ds} datastreams",
          flush=True)  # fmt: skip
    while (now := time.monotonic()) - start < args.seconds:
        due = (now - start) * args.rate
        while sent_obs + args.per_message <= due:
            i = (sent_obs // args.per_message) % n_ds
            ds, login, _ = streams[i]
            rows = []
            for _ in range(args.per_message):
                s = seq[i]
                seq[i] += 1
                published_at[i, s] = time.monotonic()
                t = T0 + timedelta(milliseconds=s)
                rows.append([t.isoformat().replace("+00:00", "Z"), float(s)])
            payload = json.dumps([{"Datastream": {"@iot.id": ds.pk},
                                   "components": ["phenomenonTime", "result"],
                                   "dataArray": rows}])  # fmt: skip
            info = pubs[i].publish(f"citytwin/ingest/{login}", payload, 1)
            sent_n[(i, info.mid)] = args.per_message
            sent_obs += args.per_message
        elapsed = now - start
        if not restarted and elapsed > args.seconds / 3:
            restarted = True
            events.append((time.monotonic(), "broker restart"))
            print(f"[{elapsed:.0f} s] restarting the broker", flush=True)
            b.stop()
            b.start()
        if not killed and elapsed > 2 * args.seconds / 3:
            killed = True
            events.append((time.monotonic(), "consumer kill -9"))
            print(f"[{elapsed:.0f} s] kill -9 the consumer, starting a new one", flush=True)
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()
            consumer = start_consumer(env, consumer_log)
        if now > next_report:
            next_report += 30
            acked = len(acked_mids) * args.per_message
            print(f"[{elapsed:.0f} s] sent {sent_obs:,}, acknowledged {acked:,}", flush=True)
        time.sleep(tick / 2)
    print("publishing done; waiting for the broker's acknowledgements and the store", flush=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(acked_mids) < len(sent_n):
        time.sleep(0.5)
    acked = sum(n for key, n in sent_n.items() if key in acked_mids)
    ids = [ds.pk for ds, _, _ in streams]
    last, last_change = -1, time.monotonic()
    while time.monotonic() - last_change < 90 and time.monotonic() < deadline + 300:
        stored = Observation.objects.filter(datastream_id__in=ids).count()
        if stored != last:
            last, last_change = stored, time.monotonic()
        if stored >= acked:
            break
        time.sleep(1)
    stop_api.set()
    stored = Observation.objects.filter(datastream_id__in=ids).count()
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) - count(DISTINCT (datastream_id, phenomenon_time, "
            "COALESCE(sequence, -1))) FROM sensors_observation WHERE datastream_id = ANY(%s)",
            [ids],
        )
        dup_rows = cur.fetchone()[0]
    consumer.send_signal(signal.SIGTERM)
    consumer.wait(60)
    totals = re.findall(r"totals: (\{.*\})", consumer_log.read_text())
    absorbed = sum(json.loads(t.replace("'", '"'))["duplicates"] for t in totals[-1:])
    reader.loop_stop()
    for c in pubs:
        c.loop_stop()
    b.stop()

    lat = seen_at - published_at
    ok = ~np.isnan(lat)
    quiet = np.ones_like(ok)
    for t_event, _ in events:
        quiet &= ~((published_at >= t_event - 1) & (published_at <= t_event + 60))
    print()
    print(f"published (acknowledged by the broker): {acked:,} observations "
          f"({sent_obs:,} sent)")  # fmt: skip
    print(f"stored: {stored:,}; missing: {acked - stored:,}; duplicate rows: {dup_rows}")
    print(f"redeliveries absorbed by the idempotent store (last consumer): {absorbed:,}")
    print(f"events: {', '.join(f'{name} at {t - start:.0f} s' for t, name in events)}")
    print(f"ingest to receive topic, all: {percentiles(lat[ok])}")
    print(f"ingest to receive topic, outside the disturbances: {percentiles(lat[ok & quiet])}")
    api_all = [v for _, v in api_samples]
    api_quiet = [v for t, v in api_samples if all(not (te - 1 <= t <= te + 60) for te, _ in events)]
    print(f"ingest to API (newest observation's lag, sampled): {percentiles(api_all)}")
    print(f"ingest to API, outside the disturbances: {percentiles(api_quiet)}")

    # clean up the bench rows
    from sensors.models import Thing

    Thing.objects.filter(pk__in=[ds.thing_id for ds, _, _ in streams]).delete()
    sensor.delete()
    prop.delete()
    user.delete()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
