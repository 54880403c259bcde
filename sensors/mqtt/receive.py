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

It publishes through the consumer's own MQTT connection, whose subscriptions are no-local, so
the consumer never takes its own publications for devices' creates.
"""

from __future__ import annotations

import json
import logging
import os
import threading

import psycopg
from django.conf import settings

log = logging.getLogger(__name__)

CHANNEL = "sensors_observations"
ENTITY_CHANNEL = "sensors_entities"
#: rows read per query
PAGE = 5000


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

    def __init__(self, client, qos: int = 0) -> None:
        self.client = client
        self.qos = qos
        self.root = base_url()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.published = 0

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
                    cursor = conn.execute(
                        "SELECT COALESCE(max(id), 0) FROM sensors_observation"
                    ).fetchone()[0]
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
            self.client.publish(topic, json.dumps(payload), self.qos)
            self.published += 1

    def _publish_since(self, conn, cursor: int) -> int:
        while True:
            rows = conn.execute(_SELECT, (cursor, PAGE)).fetchall()
            for row in rows:
                payload = json.dumps(observation_json(row, self.root))
                self.client.publish(f"v1.1/Datastreams({row[1]})/Observations", payload, self.qos)
                if row[2] == "public":
                    self.client.publish("v1.1/Observations", payload, self.qos)
                    if row[11] is not None:
                        self.client.publish(
                            f"v1.1/FeaturesOfInterest({row[11]})/Observations", payload, self.qos
                        )
                self.published += 1
            if rows:
                cursor = rows[-1][0]
            if len(rows) < PAGE:
                return cursor
