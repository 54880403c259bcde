"""``GET /api/sensors/events/``: new sensor values as server-sent events, woken by NOTIFY.

The ``sensors`` trigger (``sensors`` migration 0002) sends ``{"datastream", "phenomenon_time",
"result"}`` whenever a datastream's latest value moves. One ``LISTEN sensors`` connection per
process (a daemon thread, ended when no stream has listened for a few seconds) fans each
payload out to the open streams (asyncio queues); a stream forwards those of the datastreams its
user may read (public ones, their own, all for staff; ``?city=<id>`` narrows to a city) as
``event: observation``. No stream polls the database: it reads only when a payload names a
datastream it has not judged yet (a new one) and at each keep-alive (its client's stream cap).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse

from layers.auth import request_user

from . import limits
from .notify import _conninfo

log = logging.getLogger(__name__)

CHANNEL = "sensors"
IDLE_EXIT_S = 5.0
#: payloads a slow client may have waiting before the oldest are dropped
QUEUE_SIZE = 1000


class SensorHub:
    """Fans the ``sensors`` notifications out to every subscribed stream of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        sub = (asyncio.get_running_loop(), asyncio.Queue(QUEUE_SIZE))
        with self._lock:
            self._subs.add(sub)
            if self._thread is None or not self._thread.is_alive():
                self.listening.clear()
                self._thread = threading.Thread(target=self._run, name="pg-listen-sensors",
                                                daemon=True)  # fmt: skip
                self._thread.start()
        return sub

    def unsubscribe(self, sub) -> None:
        with self._lock:
            self._subs.discard(sub)

    @staticmethod
    def _put(queue: asyncio.Queue, payload: str) -> None:
        if queue.full():
            queue.get_nowait()  # a client too slow to read: it loses the oldest value
        queue.put_nowait(payload)

    def _fan_out(self, payload: str) -> None:
        with self._lock:
            subs = list(self._subs)
        for loop, queue in subs:
            loop.call_soon_threadsafe(self._put, queue, payload)

    def _run(self) -> None:
        idle_since = None
        while True:
            try:
                with psycopg.connect(_conninfo(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while True:
                        for note in conn.notifies(timeout=1.0):
                            self._fan_out(note.payload)
                        with self._lock:
                            if self._subs:
                                idle_since = None
                            elif idle_since is None:
                                idle_since = time.monotonic()
                            elif time.monotonic() - idle_since > IDLE_EXIT_S:
                                self._thread = None
                                return
            except Exception:
                log.warning("LISTEN %s connection lost; reconnecting", CHANNEL, exc_info=True)
                self.listening.clear()
                time.sleep(1.0)
                with self._lock:
                    if not self._subs:
                        self._thread = None
                        return


hub = SensorHub()
_in_pool = {"thread_sensitive": False}


def _visible(user, city_id: int | None, ids: list[int] | None = None) -> set[int]:
    """Ids of the datastreams ``user`` may read (of ``city_id``; among ``ids`` when given)."""
    from django.db.models import Q

    from sensors.analysis.api import visible_datastreams

    qs = visible_datastreams(user)
    if city_id is not None:
        qs = qs.filter(Q(thing__city_id=city_id) | Q(road_edge__city_id=city_id))
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return set(qs.values_list("pk", flat=True))


def _client(request, user) -> str:
    return (
        f"user:{user.pk}"
        if user.is_authenticated
        else f"addr:{request.META.get('REMOTE_ADDR', '')}"
    )


def _open(request):
    user = request_user(request)
    return user, _client(request, user)


async def sensor_events(request):
    if request.method != "GET":
        return JsonResponse({"error": "only GET", "field": "method"}, status=405)
    city = request.GET.get("city")
    try:
        city_id = int(city) if city not in (None, "") else None
    except ValueError:
        return JsonResponse({"error": "city: expected a city id", "field": "city"}, status=400)
    user, client = await sync_to_async(_open, **_in_pool)(request)
    stream_id = await sync_to_async(limits.acquire, **_in_pool)(client)
    if stream_id is None:
        cap = settings.SSE_MAX_STREAMS_PER_CLIENT
        response = JsonResponse(
            {"error": f"too many open event streams: at most {cap} per client", "field": "events"},
            status=429,
        )
        response["Retry-After"] = str(int(settings.SSE_KEEPALIVE_S))
        return response
    stream = _stream if hasattr(request, "scope") else _polling_stream
    response = StreamingHttpResponse(
        stream(user, city_id, client, stream_id), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(user, city_id, client, stream_id):
    sub = hub.subscribe()
    try:
        for _ in range(40):
            if hub.listening.is_set():
                break
            await asyncio.sleep(0.05)
        allowed = await sync_to_async(_visible, **_in_pool)(user, city_id)
        judged = set(allowed)
        yield "event: ready\ndata: {}\n\n"
        deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
        queue = sub[1]
        while time.monotonic() < deadline:
            try:
                payload = await asyncio.wait_for(queue.get(), settings.SSE_KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                await sync_to_async(limits.refresh, **_in_pool)(client, stream_id)
                continue
            try:
                ds = int(json.loads(payload)["datastream"])
            except (ValueError, KeyError, TypeError):
                continue
            if ds not in judged:  # a datastream created after the stream opened
                judged.add(ds)
                allowed |= await sync_to_async(_visible, **_in_pool)(user, city_id, [ds])
            if ds in allowed:
                yield f"event: observation\ndata: {payload}\n\n"
    finally:
        hub.unsubscribe(sub)
        await sync_to_async(limits.release, **_in_pool)(client, stream_id)


def _polling_stream(user, city_id, client, stream_id, poll_s: float = 0.5):
    """The same events under a WSGI server (runserver): a look at the latest values every
    ``poll_s`` in this stream's thread."""
    from sensors.models import Datastream

    try:
        yield "event: ready\ndata: {}\n\n"
        seen: dict[int, object] = {}
        first = True
        deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
        while time.monotonic() < deadline:
            ids = _visible(user, city_id)
            rows = Datastream.objects.filter(pk__in=ids).values_list(
                "pk", "latest_phenomenon_time", "latest_value"
            )
            for pk, t, value in rows:
                if seen.get(pk) != t:
                    seen[pk] = t
                    if not first and t is not None:
                        payload = {"datastream": pk, "phenomenon_time": t.isoformat(),
                                   "result": value}  # fmt: skip
                        yield f"event: observation\ndata: {json.dumps(payload)}\n\n"
            first = False
            time.sleep(poll_s)
    finally:
        limits.release(client, stream_id)
