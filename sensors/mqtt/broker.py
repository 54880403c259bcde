"""The Mosquitto broker's files, generated from the twin: configuration, logins and ACL.

``bin/citytwin`` starts Debian's ``mosquitto`` with ``<broker dir>/mosquitto.conf``: loopback
only, port ``CITYTWIN_MQTT_PORT`` (default 18830), no anonymous access, persistence on (queued
QoS 1 messages of a persistent session outlive a broker restart). The password file holds one
login per device (``MqttLogin`` of kind device, linked to a Thing), the readers' logins (kind
user, linked to a Django user) and the service login of the consumer; the ACL lets

- a device publish only to its own Datastreams' create topics
  (``v1.1/Datastreams(<id>)/Observations``) and to its batch topic ``citytwin/ingest/<login>``;
- a reader subscribe to ``v1.1/#`` except the topics of private Datastreams it may not read
  (``v1.1/Datastreams(<id>)`` and below: staff and the owner may read them);
- the service login (the consumer) read the ingest topics and publish the receive topics.

After a change the files are rewritten (atomically) and the broker re-reads them on SIGHUP
(``sync_broker``). Mosquitto's own password hash (PBKDF2-SHA512, ``$7$``) is what the database
keeps, so the HTTP ingest checks a device's password with the same hash.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

#: the consumer's login (reads ingest topics, publishes receive topics)
SERVICE_LOGIN = "citytwin-service"
#: the compact batch topic of a device: ``citytwin/ingest/<login>``
INGEST_PREFIX = "citytwin/ingest/"
#: PBKDF2 iterations of mosquitto_passwd (mosquitto 2.0's default)
HASH_ITERATIONS = 101


@dataclass(frozen=True)
class BrokerPaths:
    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def passwords(self) -> Path:
        return self.root / "passwd"

    @property
    def acl(self) -> Path:
        return self.root / "acl"

    @property
    def pid(self) -> Path:
        return self.root / "mosquitto.pid"

    @property
    def log(self) -> Path:
        return self.root / "mosquitto.log"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def service_password(self) -> Path:
        return self.root / "service_password"

    @property
    def database(self) -> Path:
        """Which database the files were written from (see :func:`sync_broker`)."""
        return self.root / "database"


def mqtt_host() -> str:
    return os.environ.get("CITYTWIN_MQTT_HOST", "127.0.0.1")


def mqtt_port() -> int:
    """The broker's port (``CITYTWIN_MQTT_PORT``, default 18830: 1883 is often taken)."""
    return int(os.environ.get("CITYTWIN_MQTT_PORT", "18830"))


def broker_paths() -> BrokerPaths:
    """Where the broker's files live (``CITYTWIN_MQTT_DIR``, default ``.run/mosquitto``; under
    pytest no default: a test that wants a broker starts its own)."""
    default = settings.RUN_DIR / (
        f"mosquitto-unset-{os.getpid()}" if os.environ.get("PYTEST_VERSION") else "mosquitto"
    )
    return BrokerPaths(Path(os.environ.get("CITYTWIN_MQTT_DIR", default)))


def database_identity() -> str:
    db = settings.DATABASES["default"]
    return f"{db.get('HOST') or ''}:{db.get('PORT') or ''}/{db['NAME']}"


def service_password(paths: BrokerPaths | None = None) -> str:
    """The service login's password: ``CITYTWIN_MQTT_SERVICE_PASSWORD``, else one generated once
    and kept in ``<broker dir>/service_password`` (mode 600)."""
    from_env = os.environ.get("CITYTWIN_MQTT_SERVICE_PASSWORD")
    if from_env:
        return from_env
    path = (paths or broker_paths()).service_password
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Mosquitto's password hash (``$7$<iterations>$<salt>$<PBKDF2-SHA512>``, base64)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, HASH_ITERATIONS)
    return f"$7${HASH_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (or mosquitto_passwd)."""
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def render_conf(paths: BrokerPaths, port: int, host: str = "127.0.0.1") -> str:
    """mosquitto.conf: loopback listener, logins and ACL from files, persistent sessions."""
    return f"""# generated by CityTwin (sensors.mqtt.broker): edits are overwritten
pid_file {paths.pid}
user {getpass.getuser()}
per_listener_settings false
allow_anonymous false
password_file {paths.passwords}
acl_file {paths.acl}
listener {port} {host}
persistence true
persistence_location {paths.data}/
autosave_interval 5
# a persistent session (the consumer) keeps its QoS 1 messages while it is away: never drop
max_queued_messages 0
max_inflight_messages 1000
persistent_client_expiration 14d
max_packet_size 262144
log_dest file {paths.log}
log_type error
log_type warning
log_type notice
connection_messages true
"""


def _datastreams():
    from sensors.models import Datastream

    return Datastream.objects.values_list("id", "thing_id", "owner_id", "visibility")


def active_logins():
    """Active logins (a reader whose user is deactivated has none)."""
    from .models import MqttLogin

    return MqttLogin.objects.filter(is_active=True).exclude(user__is_active=False)


def render_passwords(service_pw: str) -> str:
    """The password file: the service login, then every active device and reader login."""
    lines = [f"{SERVICE_LOGIN}:{hash_password(service_pw)}"]
    for username, password_hash in (
        active_logins().order_by("username").values_list("username", "password_hash")
    ):
        lines.append(f"{username}:{password_hash}")
    return "\n".join(lines) + "\n"


def _private_topics(ds_id: int) -> list[str]:
    return [f"v1.1/Datastreams({ds_id})", f"v1.1/Datastreams({ds_id})/#"]


def render_acl() -> str:
    """The ACL file (mosquitto acl_file syntax: ``user`` blocks; ``deny`` wins over ``read``)."""
    from .models import MqttLogin

    streams = list(_datastreams())
    by_thing: dict[int, list[int]] = {}
    for ds_id, thing_id, _owner, _vis in streams:
        by_thing.setdefault(thing_id, []).append(ds_id)
    private = [(ds_id, owner) for ds_id, _t, owner, vis in streams if vis == "private"]
    out = [
        "# generated by CityTwin (sensors.mqtt.broker): edits are overwritten",
        f"user {SERVICE_LOGIN}",
        "topic read citytwin/ingest/#",
        "topic readwrite v1.1/#",
        "",
    ]
    logins = active_logins().select_related("user").order_by("username")
    for login in logins:
        out.append(f"user {login.username}")
        if login.kind == MqttLogin.Kind.DEVICE:
            out.append(f"topic write {INGEST_PREFIX}{login.username}")
            for ds_id in sorted(by_thing.get(login.thing_id, [])):
                out.append(f"topic write v1.1/Datastreams({ds_id})/Observations")
        else:
            user = login.user
            if not (user.is_staff or user.is_superuser):
                for ds_id, owner in private:
                    if owner != user.pk:
                        out.extend(f"topic deny {t}" for t in _private_topics(ds_id))
            out.append("topic read v1.1/#")
        out.append("")
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (mode 600) unless it is already that; whether it changed."""
    if path.is_file() and path.read_text() == text:
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return True


def write_broker_files(paths: BrokerPaths | None = None, port: int | None = None) -> BrokerPaths:
    """Write mosquitto.conf, the password file and the ACL from the database."""
    paths = paths or broker_paths()
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.data.mkdir(exist_ok=True)
    os.chmod(paths.root, 0o700)
    _write_atomic(paths.conf, render_conf(paths, port or mqtt_port(), mqtt_host()))
    # the password file is rewritten only when a login changed: a fresh salt would differ
    # every time, so compare logins, not text
    stamp = "|".join(
        f"{u}:{h}"
        for u, h in active_logins().order_by("username").values_list("username", "password_hash")
    )
    stamp_path = paths.root / ".passwd-stamp"
    pw = service_password(paths)
    stamp = hashlib.sha256(f"{pw}|{stamp}".encode()).hexdigest()
    if not paths.passwords.is_file() or not stamp_path.is_file() or stamp_path.read_text() != stamp:
        _write_atomic(paths.passwords, render_passwords(pw))
        _write_atomic(stamp_path, stamp)
    _write_atomic(paths.acl, render_acl())
    _write_atomic(paths.database, database_identity() + "\n")
    return paths


def broker_pid(paths: BrokerPaths | None = None) -> int | None:
    """The running broker's pid (from its pid file), or None."""
    paths = paths or broker_paths()
    try:
        pid = int(paths.pid.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def sync_broker(paths: BrokerPaths | None = None) -> bool:
    """Rewrite the broker's files and make a running broker re-read them (SIGHUP).

    Returns whether a running broker was told. Without a broker directory (no broker set up
    here), or when its files were written from another database (a test server on the test
    database must never rewrite the development broker's logins), nothing is written.
    """
    paths = paths or broker_paths()
    if not paths.root.is_dir():
        return False
    try:
        if paths.database.read_text().strip() != database_identity():
            return False
    except OSError:
        return False
    write_broker_files(paths)
    pid = broker_pid(paths)
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True
