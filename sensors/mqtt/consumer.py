"""The MQTT consumer: stores what devices publish, acknowledging only after the commit.

One long-running process (``manage.py sensors_consumer``, started by ``bin/citytwin``):

- an MQTT v5 client with a fixed client id, ``clean_start`` off and a session expiry of 14
  days, so the broker keeps the subscription and queues QoS 1 messages while the consumer is
  away (dead or restarting) and keeps them over its own restarts (persistence on);
- subscriptions at QoS 1 to the create topic ``v1.1/+/Observations`` (no-local: the
  consumer's own receive publications on the same topics never come back to it) and to the
  batch topics ``citytwin/ingest/+``;
- manual acknowledgements (paho ``manual_ack``): messages are taken in batches (up to
  ``batch_max`` or ``batch_wait_s``), stored in one transaction (``ingest.Ingestor``), and only
  after the commit is each PUBACK sent, in the order received. A consumer killed before that
  gets the messages again on reconnect; the idempotency key stores each once;
- after each commit, the new Observations are published on their SensorThings receive topics
  (``receive.Publisher``).

Messages received on a connection that has since dropped are never acknowledged on the new one
(their packet ids may be reused): the broker sends them again.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time

import paho.mqtt.client as mqtt
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from . import broker
from .ingest import Ingestor, Message

log = logging.getLogger(__name__)

CLIENT_ID = "citytwin-consumer"
SESSION_EXPIRY_S = 14 * 24 * 3600
#: unacknowledged messages the broker may have in flight to us (MQTT 5 Receive Maximum)
RECEIVE_MAXIMUM = 1000
TOPICS = ("v1.1/+/Observations", broker.INGEST_PREFIX + "+")


class Consumer:
    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        client_id: str = CLIENT_ID,
        batch_max: int = 1000,
        batch_wait_s: float = 0.05,
        publish_receive: bool = True,
    ) -> None:
        self.host = host or broker.mqtt_host()
        self.port = port or broker.mqtt_port()
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.ingestor = Ingestor()
        self.inbox: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        #: bumped on every (re)connect: a message is acknowledged on the connection it came on
        self.generation = 0
        self.totals = {"messages": 0, "stored": 0, "duplicates": 0, "rejected": 0}
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(broker.SERVICE_LOGIN, password or broker.service_password())
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.publisher = None
        if publish_receive:
            from .receive import Publisher

            self.publisher = Publisher(self.client)

    # -- MQTT callbacks (paho's network thread) ------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("the broker refused the consumer: %s", reason_code)
            return
        self.generation += 1
        log.info(
            "connected to %s:%s (session present: %s)", self.host, self.port, flags.session_present
        )
        client.subscribe(
            [
                (TOPICS[0], SubscribeOptions(qos=1, noLocal=True)),
                (TOPICS[1], SubscribeOptions(qos=1)),
            ]
        )
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self.stopping.is_set():
            log.warning("lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put((self.generation, msg))

    # -- the main loop -------------------------------------------------------------------
    def _take_batch(self) -> list[tuple[int, mqtt.MQTTMessage]]:
        try:
            first = self.inbox.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait_s
        while len(batch) < self.batch_max:
            left = deadline - time.monotonic()
            try:
                batch.append(
                    self.inbox.get(timeout=max(left, 0)) if left > 0 else self.inbox.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _store(self, batch: list[tuple[int, mqtt.MQTTMessage]]) -> None:
        """Store until it succeeds (a database outage is waited out: the messages stay
        unacknowledged, so nothing is lost), then acknowledge."""
        items = [
            Message(source="mqtt", topic=m.topic, payload=m.payload, tag=(gen, m.mid, m.qos))
            for gen, m in batch
            if gen == self.generation  # older ones come again on this connection
        ]
        if not items:
            return
        delay = 0.5
        while True:
            try:
                try:
                    stored, dups, rejected = self.ingestor.process_all(items)
                except (OperationalError, InterfaceError):
                    raise
                except Exception:
                    log.exception("a batch failed; storing its messages one by one")
                    for m in items:
                        m.stored = m.duplicates = 0
                        m.rejected, m.groups, m._rows, m._stored_in = None, None, {}, set()
                    stored, dups, rejected = self.ingestor.process_each(items)
                break
            except (OperationalError, InterfaceError) as exc:
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
                connection.close()
                time.sleep(delay)
                delay = min(delay * 2, 10)
                for m in items:
                    m.stored = m.duplicates = 0
                    m.rejected = None
                    m.groups = None
                    m._rows = {}
                    m._stored_in = set()
        for m in items:
            gen, mid, qos = m.tag
            if qos > 0 and gen == self.generation:
                self.client.ack(mid, qos)
        self.totals["messages"] += len(items)
        self.totals["stored"] += stored
        self.totals["duplicates"] += dups
        self.totals["rejected"] += rejected

    def run(self, max_seconds: float | None = None) -> None:
        """Consume until SIGTERM/SIGINT (or ``max_seconds``)."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(
            self.host, self.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        if self.publisher is not None:
            self.publisher.start()
        started = last_report = time.monotonic()
        try:
            while not self.stopping.is_set():
                if max_seconds is not None and time.monotonic() - started > max_seconds:
                    break
                batch = self._take_batch()
                if batch:
                    close_old_connections()
                    self._store(batch)
                if self.publisher is not None:
                    self.publisher.poll()
                if time.monotonic() - last_report > 30:
                    log.info("consumer totals: %s", self.totals)
                    last_report = time.monotonic()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            if self.publisher is not None:
                self.publisher.close()
            log.info("consumer stopped; totals: %s", self.totals)

    def install_signal_handlers(self) -> None:
        def stop(signum, frame) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
