"""SensorThings MQTT receive: new Observations published on their topics after the commit.

Whatever path stored them (MQTT, HTTP ingest, the REST API), inserting into
``sensors_observation`` sends ``NOTIFY sensors_observations`` (a statement trigger, migration
0002 of this app: delivered on commit, one per transaction). A thread of the consumer process
LISTENs, reads the rows past the last one it published and publishes each Observation

- on ``v1.1/Datastreams(<id>)/Observations`` (readers of that Datastream; the ACL keeps a
  private one's topics to its owner and staff), and
- on ``v1.1/Observations`` only when the Datastream is public (that topic is open to every
  reader).

Other entities created or changed (REST API) come as ``NOTIFY sensors_entities``
(``entity_events``): the entity in its SensorThings JSON on its set's topic (when new), its
parents' navigation topics (``v1.1/Things(3)/Datastreams``), its own topic and the topics of
the properties that changed.

It runs in a child process of the consumer (``start_process``), with its own MQTT connection
(client id ``citytwin-consumer-receive``), so that publishing 2,000 Observations a second does
not hold the consumer's interpreter lock while it stores: in one process the publishing thread
took about half of the consumer's CPU samples (py-spy, bench/sensors_soak.py). Its messages
carry the MQTT 5 user property ``citytwin: receive`` and are published at QoS 0; the consumer
drops such messages on its create topic ``v1.1/+/Observations`` instead of taking them for
devices' creates. The child dies with its parent (``PR_SET_PDEATHSIG``) and the consumer starts
a new one if it dies alone.
"""

from __future__ import annotations

import ctypes
import json
import logging
import multiprocessing
import os
import signal
import threading

import psycopg
from django.conf import settings

log = logging.getLogger(__name__)

CHANNEL = "sensors_observations"
ENTITY_CHANNEL = "sensors_entities"
#: rows read per query
PAGE = 5000
#: the MQTT 5 user property on every receive publication (the consumer drops them)
MARK = ("citytwin", "receive")
CLIENT_ID = "citytwin-consumer-receive"


def is_receive_publication(msg) -> bool:
    """Whether ``msg`` (a paho message) is one of our own receive publications at QoS 0."""
    props = getattr(msg, "properties", None)
    return msg.qos == 0 and MARK in (getattr(props, "UserProperty", None) or [])


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
    )


def base_url() -> str:
    """The service root for ``@iot.selfLink`` (``CITYTWIN_PUBLIC_URL``, else the web address)."""
    root = os.environ.get("CITYTWIN_PUBLIC_URL") or (
        "http://" + os.environ.get("CITYTWIN_WEB_ADDR", "127.0.0.1:8000")
    )
    return root.rstrip("/") + "/sta/v1.1"


_SELECT = """
SELECT o.id, o.datastream_id, d.visibility, o.phenomenon_time, o.phenomenon_time_end,
       o.result_time, o.result::text, o.result_quality::text, lower(o.valid_time),
       upper(o.valid_time), o.parameters::text, o.feature_of_interest_id
FROM sensors_observation o JOIN sensors_datastream d ON d.id = o.datastream_id
WHERE o.id > %s ORDER BY o.id LIMIT %s
"""


def _iso(t) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def observation_json(row: tuple, root: str) -> dict:
    """The SensorThings representation of one row of ``_SELECT``."""
    oid, ds_id, _vis, start, end, rtime, result, quality, vstart, vend, params, foi = row
    link = f"{root}/Observations({oid})"
    out = {
        "@iot.id": oid,
        "@iot.selfLink": link,
        "phenomenonTime": f"{_iso(start)}/{_iso(end)}" if end is not None else _iso(start),
        "resultTime": _iso(rtime),
        "result": json.loads(result) if result is not None else None,
        "Datastream@iot.navigationLink": f"{link}/Datastream",
        "FeatureOfInterest@iot.navigationLink": f"{link}/FeatureOfInterest",
    }
    if quality is not None:
        out["resultQuality"] = json.loads(quality)
    if vstart is not None:
        out["validTime"] = f"{_iso(vstart)}/{_iso(vend)}"
    if params is not None:
        out["parameters"] = json.loads(params)
    return out


class Publisher:
    """The LISTEN thread publishing new Observations through ``client`` (a paho client)."""

    def __init__(
        self, client, qos: int = 0, start_after_id: int | None = None, listening=None
    ) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.client = client
        self.qos = qos
        self.root = base_url()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0
        #: announce rows after this id on the first connection (None: after the newest now)
        self.start_after_id = start_after_id
        #: set (an Event) once LISTENing: what is committed from then on will be announced
        self.listening = listening
        self.properties = Properties(PacketTypes.PUBLISH)
        self.properties.UserProperty = [MARK]

    def _publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, self.qos, properties=self.properties)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sta-receive", daemon=True)
        self._thread.start()

    def poll(self) -> None:
        """Nothing to do in the caller's loop: the thread works on its own."""

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(_conninfo(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    conn.execute(f"LISTEN {ENTITY_CHANNEL}")
                    if self.listening is not None:
                        self.listening.set()
                    cursor = self.start_after_id
                    self.start_after_id = None
                    if cursor is None:
                        cursor = conn.execute(
                            "SELECT COALESCE(max(id), 0) FROM sensors_observation"
                        ).fetchone()[0]
                    else:  # what was committed while this process started
                        cursor = self._publish_since(conn, cursor)
                    while not self._stop.is_set():
                        notes = list(conn.notifies(timeout=1.0, stop_after=1))
                        if not notes:
                            continue
                        # the rest of the wake-ups: one read of observations serves them all
                        notes.extend(conn.notifies(timeout=0.0))
                        if any(n.channel == CHANNEL for n in notes):
                            cursor = self._publish_since(conn, cursor)
                        for n in notes:
                            if n.channel == ENTITY_CHANNEL:
                                self._publish_entity(json.loads(n.payload))
            except psycopg.Error as exc:
                log.warning("receive publisher lost the database (%s); reconnecting", exc)
                self._stop.wait(1.0)

    def _publish_entity(self, event: dict) -> None:
        from django.db import DatabaseError, close_old_connections

        from sensors.sta.entities import ENTITY_TYPES
        from sensors.sta.odata import Options
        from sensors.sta.read import Context, entity_json

        from .entity_events import topics_for

        close_old_connections()
        entity = ENTITY_TYPES.get(event.get("set"))
        if entity is None:
            return
        try:
            obj = entity.model.objects.filter(pk=event["id"]).first()
            if obj is None:
                return  # deleted meanwhile
            body = entity_json(Context(user=None, base=self.root), entity, obj, Options())
            topics = topics_for(entity.set_name, obj, event["created"], event["changed"])
        except DatabaseError as exc:
            log.warning("could not read %s for MQTT receive: %s", event, exc)
            return
        for topic, kind in topics:
            payload = body if kind == "entity" else {kind: body.get(kind)}
            self._publish(topic, json.dumps(payload))
            self.published += 1

    def _publish_since(self, conn, cursor: int) -> int:
        while True:
            rows = conn.execute(_SELECT, (cursor, PAGE)).fetchall()
            for row in rows:
                payload = json.dumps(observation_json(row, self.root))
                self._publish(f"v1.1/Datastreams({row[1]})/Observations", payload)
                if row[2] == "public":
                    self._publish("v1.1/Observations", payload)
                    if row[11] is not None:
                        self._publish(f"v1.1/FeaturesOfInterest({row[11]})/Observations", payload)
                self.published += 1
            if rows:
                cursor = rows[-1][0]
            if len(rows) < PAGE:
                return cursor


def newest_observation_id() -> int:
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        return conn.execute("SELECT COALESCE(max(id), 0) FROM sensors_observation").fetchone()[0]


def _die_with_parent() -> None:
    # Linux: SIGTERM to this process when the consumer dies, kill -9 included
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _child_main(
    parent_pid: int, start_after_id: int, host: str, port: int, password: str, listening
) -> None:
    import django

    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the line above
        return
    django.setup()
    import paho.mqtt.client as mqtt

    from . import broker

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the consumer, which stops us
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=CLIENT_ID, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(broker.SERVICE_LOGIN, password)
    client.reconnect_delay_set(min_delay=0.2, max_delay=2)
    client.max_queued_messages_set(0)
    client.connect_async(host, port, keepalive=30)
    client.loop_start()
    publisher = Publisher(client, start_after_id=start_after_id, listening=listening)
    publisher.start()
    try:
        while not stopping.wait(1.0):
            if os.getppid() != parent_pid:
                break
    finally:
        publisher.close()
        client.disconnect()
        client.loop_stop()


def start_process(
    host: str, port: int, password: str, start_after_id: int | None = None, wait_s: float = 0
):
    """Start the receive publisher in a child process; returns the ``multiprocessing.Process``.

    ``wait_s``: wait up to that long until it LISTENs (entity events sent before are not
    announced; Observations committed after ``start_after_id`` are)."""
    if start_after_id is None:
        start_after_id = newest_observation_id()
    # spawn, not fork: the consumer has threads (paho's, psycopg's) by the time it restarts one
    ctx = multiprocessing.get_context("spawn")
    listening = ctx.Event()
    proc = ctx.Process(
        target=_child_main,
        args=(os.getpid(), start_after_id, host, port, password, listening),
        name="sta-receive",
        daemon=True,
    )
    proc.start()
    if wait_s > 0 and not listening.wait(wait_s):
        log.warning("the receive publisher is not listening after %.0f s; going on", wait_s)
    return proc
