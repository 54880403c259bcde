"""Store a batch of device messages in one transaction, each message whole or not at all.

Used by the MQTT consumer (many messages per transaction, acknowledged after the commit) and by
the HTTP ingest (one message). Every accepted row goes through
``sensors.ingest.store_observations`` (``INSERT ... ON CONFLICT DO NOTHING`` on datastream +
phenomenon time + sequence: a redelivered message is stored once). A rejected message becomes
a ``DeadLetter`` row in the same transaction, with the reason in words and the field.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from sensors.ingest import ObservationRejected, store_observations

from . import messages as msgs
from .broker import INGEST_PREFIX

log = logging.getLogger(__name__)

#: payload text kept in a dead letter (characters)
DEAD_PAYLOAD_CHARS = 4000
#: seconds a cached Datastream or login is trusted before it is read again
CACHE_TTL_S = 30.0


@dataclass
class Message:
    """One message as received. ``device_thing_id``: the Thing whose login sent it (None when
    the broker's ACL already decided, as on the create topic)."""

    source: str
    topic: str
    payload: bytes
    device_thing_id: int | None = None
    #: for the caller (the consumer keeps the MQTT packet id here)
    tag: Any = None
    groups: dict[int, list[dict]] | None = None
    rejected: msgs.MessageRejected | None = None
    stored: int = 0
    duplicates: int = 0
    _rows: dict[int, list[dict]] = field(default_factory=dict)
    _stored_in: set[int] = field(default_factory=set)

    def reject(self, exc: msgs.MessageRejected) -> None:
        if self.rejected is None:
            self.rejected = exc
            self._rows = {}


class Ingestor:
    """Caches what the checks read (Datastreams, device logins) between batches."""

    def __init__(self) -> None:
        self._streams: dict[int, msgs.DatastreamInfo] = {}
        self._streams_at = 0.0
        self._logins: dict[str, int | None] = {}
        self._logins_at = 0.0

    # -- lookups -------------------------------------------------------------------------
    def _load_streams(self, ids: set[int]) -> None:
        from sensors.models import Datastream

        now = time.monotonic()
        if now - self._streams_at > CACHE_TTL_S:
            self._streams.clear()
            self._streams_at = now
        missing = ids - set(self._streams)
        if not missing:
            return
        for ds_id, thing_id, otype, unit in Datastream.objects.filter(pk__in=missing).values_list(
            "id", "thing_id", "observation_type", "unit_of_measurement"
        ):
            symbol = unit.get("symbol") if isinstance(unit, dict) else None
            self._streams[ds_id] = msgs.DatastreamInfo(ds_id, thing_id, otype, symbol)

    def device_thing(self, login: str) -> int | None:
        """The Thing of an active device login, or None."""
        from .models import MqttLogin

        now = time.monotonic()
        if now - self._logins_at > CACHE_TTL_S:
            self._logins.clear()
            self._logins_at = now
        if login not in self._logins:
            self._logins[login] = (
                MqttLogin.objects.filter(username=login, kind=MqttLogin.Kind.DEVICE, is_active=True)
                .values_list("thing_id", flat=True)
                .first()
            )
        return self._logins[login]

    # -- parsing -------------------------------------------------------------------------
    def parse(self, message: Message) -> None:
        """Read the payload into rows per Datastream (no database), or reject it."""
        try:
            obj = msgs.load_json(message.payload)
            if message.source == "http":
                message.groups = msgs.batch(obj)
                return
            match = msgs.CREATE_TOPIC_RE.match(message.topic)
            if match:
                message.groups = msgs.sta_observation(obj, int(match.group(1)))
            elif message.topic.startswith(INGEST_PREFIX):
                login = message.topic[len(INGEST_PREFIX) :]
                thing = self.device_thing(login)
                if thing is None:
                    raise msgs.MessageRejected(
                        f"unauthorised: {login!r} is not an active device login", "topic"
                    )
                message.device_thing_id = thing
                message.groups = msgs.batch(obj)
            else:
                raise msgs.MessageRejected(
                    f"topic {message.topic!r} takes no observations", "topic"
                )
        except msgs.MessageRejected as exc:
            message.reject(exc)

    def _check(self, message: Message, now) -> None:
        for ds_id, rows in (message.groups or {}).items():
            info = self._streams.get(ds_id)
            if info is None:
                raise msgs.MessageRejected(
                    f"Datastream: unknown datastream {ds_id}", "Datastream", None
                )
            if message.device_thing_id is not None and info.thing_id != message.device_thing_id:
                raise msgs.MessageRejected(
                    f"Datastream: unauthorised: datastream {ds_id} belongs to another Thing "
                    f"than the sending device's ({message.device_thing_id})",
                    "Datastream",
                    ds_id,
                )
            message._rows[ds_id] = msgs.check_rows(info, rows, now)

    def _check_features(self, batch: list[Message]) -> None:
        from sensors.models import FeatureOfInterest

        wanted = {
            row["feature_of_interest"]
            for m in batch
            for rows in m._rows.values()
            for row in rows
            if row.get("feature_of_interest") is not None
        }
        if not wanted:
            return
        known = set(FeatureOfInterest.objects.filter(pk__in=wanted).values_list("pk", flat=True))
        for m in batch:
            for ds_id, rows in m._rows.items():
                bad = [r.get("feature_of_interest") for r in rows] if m.rejected is None else []
                missing = [f for f in bad if f is not None and f not in known]
                if missing:
                    m.reject(
                        msgs.MessageRejected(
                            f"FeatureOfInterest: unknown feature of interest {missing[0]}",
                            "FeatureOfInterest",
                            ds_id,
                        )
                    )
                    break

    # -- storing -------------------------------------------------------------------------
    def _store_group(self, ds_id: int, owners: list[tuple[Message, list[dict]]]) -> None:
        """Store one Datastream's rows of several messages; a message that the store refuses is
        rejected and the rest stored again (each try in a savepoint)."""
        while owners:
            rows, index_owner = [], []
            for m, mrows in owners:
                rows.extend(mrows)
                index_owner.extend([m] * len(mrows))
            try:
                with transaction.atomic():
                    stored, dups = store_observations(ds_id, rows)
            except ObservationRejected as exc:
                culprit = index_owner[exc.index] if exc.index is not None else owners[0][0]
                culprit.reject(msgs.MessageRejected(exc.message, exc.field, ds_id))
                owners = [(m, r) for m, r in owners if m is not culprit]
                continue
            except (IntegrityError, DataError) as exc:
                if len(owners) == 1:
                    owners[0][0].reject(
                        msgs.MessageRejected(f"refused by the database: {exc}"[:300], "", ds_id)
                    )
                    return
                # find the one at fault: each message on its own
                for m, mrows in owners:
                    self._store_group(ds_id, [(m, mrows)])
                return
            # counts per message are exact for one message (HTTP); the consumer adds them up
            owners[0][0].stored += stored
            owners[0][0].duplicates += dups
            for m, _rows in owners:
                m._stored_in.add(ds_id)
            return

    def process(self, batch: list[Message]) -> tuple[int, int, int]:
        """Check and store ``batch`` in one transaction; returns (stored, duplicates, rejected).

        Each message ends with ``rejected`` set (and a dead letter written) or its rows
        stored. Raises only on a database failure (then nothing was written: retry).
        """
        now = timezone.now()
        for m in batch:
            if m.groups is None and m.rejected is None:
                self.parse(m)
        self._load_streams({ds for m in batch if m.rejected is None for ds in m.groups or {}})
        for m in batch:
            if m.rejected is None:
                try:
                    self._check(m, now)
                except msgs.MessageRejected as exc:
                    m.reject(exc)
        self._check_features(batch)
        with transaction.atomic():
            by_ds: dict[int, list[tuple[Message, list[dict]]]] = {}
            for m in batch:
                if m.rejected is None:
                    for ds_id, rows in m._rows.items():
                        by_ds.setdefault(ds_id, []).append((m, rows))
            for ds_id in sorted(by_ds):
                owners = [(m, r) for m, r in by_ds[ds_id] if m.rejected is None]
                self._store_group(ds_id, owners)
            # a message rejected for one Datastream after another of its Datastreams was
            # stored: take the whole batch again without it (never half a message)
            if any(m.rejected is not None and m._stored_in for m in batch):
                raise _Retry()
            self._dead_letters(batch)
        stored = sum(m.stored for m in batch)
        dups = sum(m.duplicates for m in batch)
        return stored, dups, sum(1 for m in batch if m.rejected is not None)

    def process_all(self, batch: list[Message]) -> tuple[int, int, int]:
        """:meth:`process`, taken again when a multi-Datastream message was refused halfway."""
        while True:
            try:
                return self.process(batch)
            except _Retry:
                for m in batch:
                    m.stored = m.duplicates = 0
                    m._stored_in = set()
                    m._rows = {}

    def process_each(self, batch: list[Message]) -> tuple[int, int, int]:
        """After an unexpected error in a batch: each message on its own; one that fails
        again is kept as a dead letter (its payload is not lost, the consumer goes on)."""
        totals = [0, 0, 0]
        for m in batch:
            try:
                counts = self.process_all([m])
            except (OperationalError, InterfaceError):
                raise
            except Exception as exc:  # a bug must not stop ingest: keep the message, go on
                log.exception("could not store a message from %s", m.topic)
                m.rejected = msgs.MessageRejected(
                    f"could not be stored (internal error {type(exc).__name__}: {exc})"[:500]
                )
                with transaction.atomic():
                    self._dead_letters([m])
                counts = (0, 0, 1)
            totals = [a + b for a, b in zip(totals, counts)]
        return tuple(totals)

    def _dead_letters(self, batch: list[Message]) -> None:
        from sensors.models import DeadLetter

        letters = []
        for m in batch:
            if m.rejected is None:
                continue
            letters.append(
                DeadLetter(
                    source=m.source,
                    topic=m.topic[:500],
                    payload=m.payload.decode("utf-8", "replace")[:DEAD_PAYLOAD_CHARS],
                    reason=m.rejected.reason,
                    field=m.rejected.field[:100],
                    datastream_id=m.rejected.datastream_id,
                )
            )
            log.info("dead letter from %s %s: %s", m.source, m.topic, m.rejected.reason)
        if letters:
            DeadLetter.objects.bulk_create(letters)


class _Retry(Exception):
    """Roll the batch's transaction back and take it again."""
