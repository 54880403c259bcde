"""A real Mosquitto broker and a real consumer process on the test database (the fixtures
``mqtt_broker`` and ``mqtt_consumer``, registered in tests/sensors/conftest.py).

The broker runs from files that ``sensors.mqtt.broker`` writes from the test database (as
``bin/citytwin up`` does for the development one), on a free loopback port, in a folder of
its own; ``CITYTWIN_MQTT_DIR``/``CITYTWIN_MQTT_PORT`` point this process there, so a login or
Datastream committed by a test reloads this broker (SIGHUP) and no other.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """Mosquitto on 127.0.0.1:port, restartable (its persistence survives the restart)."""

    def __init__(self, root: Path, port: int) -> None:
        from sensors.mqtt import broker

        self.port = port
        self.paths = broker.BrokerPaths(root)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from sensors.mqtt import broker

        broker.write_broker_files(self.paths, self.port)
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.paths.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.log()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file (queued QoS 1 messages) and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.paths.log.read_text()
        except OSError:
            return ""


def _process_env() -> dict:
    base = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgis://{base['USER']}@{base['HOST']}:{base['PORT']}/{base['NAME']}",
        "CITYTWIN_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    env.pop("PYTEST_VERSION", None)
    return env


class Consumer:
    """``manage.py sensors_consumer`` as a child process (the real one)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, wait: bool = True) -> None:
        """Start it; ``wait``: until it is connected (Django's start takes seconds)."""
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "sensors_consumer"],
                cwd=REPO_ROOT,
                env=_process_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._log_start = len(self.log())
        if wait:
            self.wait_connected()

    def wait_connected(self, timeout_s: float | None = None) -> None:
        # Django's start: seconds on an idle machine, minutes on a shared busy one
        timeout_s = timeout_s or float(os.environ.get("CITYTWIN_TEST_CONSUMER_START_S", "90"))
        deadline = time.monotonic() + timeout_s
        while "connected to" not in self.log()[self._log_start :]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the consumer did not connect: {self.log()[-3000:]}")
            time.sleep(0.1)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text()
        except OSError:
            return ""


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory, django_db_setup, django_db_blocker):
    root = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    os.environ["CITYTWIN_MQTT_DIR"] = str(root)
    os.environ["CITYTWIN_MQTT_PORT"] = str(port)
    b = Broker(root, port)
    with django_db_blocker.unblock():
        b.start()
    yield b
    b.stop()
    os.environ.pop("CITYTWIN_MQTT_DIR", None)
    os.environ.pop("CITYTWIN_MQTT_PORT", None)


@pytest.fixture(scope="session")
def mqtt_consumer(mqtt_broker, tmp_path_factory):
    c = Consumer(tmp_path_factory.mktemp("consumer") / "consumer.log")
    c.start()
    yield c
    c.stop()


def mqtt_client(username: str, password: str, port: int, client_id: str | None = None):
    """A connected paho MQTT v5 client (network loop in its own thread)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    client.reconnect_delay_set(0.1, 1)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.on_disconnect = lambda c, u, f, rc, p: connected.clear()
    client.connected_event = connected
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        client.loop_stop()
        raise RuntimeError(f"{username} could not connect to the broker")
    return client


def publish_connected(client, topic: str, payload: str, qos: int = 1, tries: int = 5):
    """Publish once the client is connected; a broker that re-reads its logins (SIGHUP after a
    new device or datastream) may drop a fresh connection, and paho reconnects by itself."""
    for _ in range(tries):
        if not client.connected_event.wait(10):
            continue
        try:
            info = client.publish(topic, payload, qos)
            info.wait_for_publish(10)
            return info
        except RuntimeError:  # "not currently connected": dropped meanwhile, wait and again
            time.sleep(0.5)
    raise AssertionError(f"could not publish to {topic}: the client stays disconnected")


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
