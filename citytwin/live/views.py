"""``GET /api/runs/<id>/events/``: a run's state as server-sent events, without a thread each.

An async view: an open stream is a coroutine waiting on the job's NOTIFY (see ``notify``), not
a worker thread polling the database. The database is read (in a shared thread pool) only when
the job changed (once per change for all of a process's streams of the run; the beat reaper's
writes notify too), and at each keep-alive (``SSE_KEEPALIVE_S``). A client may hold ``SSE_MAX_STREAMS_PER_CLIENT`` streams (429 beyond).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse

from layers.auth import request_user

from . import limits
from .notify import hub


def _client(request, user) -> str:
    if user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


def _open(request, pk: uuid.UUID) -> str | None:
    """The client (for the stream cap) when the run is visible to the user, else None."""
    from citytwin.scenarios import services
    from citytwin.scenarios.models import Run

    user = request_user(request)
    scenarios = services.scenarios_visible_to(user)
    if not Run.objects.filter(pk=pk, scenario__in=scenarios).exists():
        return None
    return _client(request, user)


def _state(pk: uuid.UUID) -> tuple[str, bool]:
    """The run as JSON, and whether it has finished."""
    from citytwin.scenarios.api import RunSerializer
    from citytwin.scenarios.models import Run
    from jobs.models import Job

    run = Run.objects.select_related("job", "scenario").get(pk=pk)
    return json.dumps(RunSerializer(run).data, default=str), run.job.status in Job.FINISHED


# the shared pool, not the request's own thread: an open stream holds no thread (nor its
# database connection) between events
_in_pool = {"thread_sensitive": False}

#: per job: (notification generation, the read of the run for it); the streams of one job in
#: this process share one database read per change instead of one each
_reads: dict[str, tuple[int, asyncio.Future]] = {}


async def _shared_state(pk: uuid.UUID) -> tuple[str, bool]:
    key = str(pk)
    generation = hub.generation(key)
    entry = _reads.get(key)
    if entry is None or entry[0] != generation or entry[1].get_loop() != asyncio.get_running_loop():
        entry = (generation, asyncio.ensure_future(sync_to_async(_state, **_in_pool)(pk)))
        _reads[key] = entry
    return await asyncio.shield(entry[1])


async def run_events(request, pk: uuid.UUID):
    if request.method != "GET":
        return JsonResponse({"error": "only GET", "field": "method"}, status=405)
    client = await sync_to_async(_open, **_in_pool)(request, pk)
    if client is None:
        return JsonResponse({"error": "Not found.", "field": "id"}, status=404)
    stream_id = await sync_to_async(limits.acquire, **_in_pool)(client)
    if stream_id is None:
        cap = settings.SSE_MAX_STREAMS_PER_CLIENT
        response = JsonResponse(
            {
                "error": f"too many open event streams: at most {cap} per client; "
                "close one, or poll GET /api/runs/<id>/",
                "field": "events",
            },
            status=429,
        )
        response["Retry-After"] = str(int(settings.SSE_KEEPALIVE_S))
        return response
    # under a WSGI server (runserver, the tests' live server) an async stream would be read to
    # its end before anything is sent: there, the stream polls in its thread as it used to
    stream = _stream if hasattr(request, "scope") else _polling_stream
    response = StreamingHttpResponse(
        stream(pk, client, stream_id), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _stream(pk: uuid.UUID, client: str, stream_id: str):
    sub = hub.subscribe(str(pk))
    try:
        # subscribed before the first read, so no change between the two is lost
        for _ in range(40):
            if hub.listening.is_set():
                break
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
        last = None
        fresh = False
        while time.monotonic() < deadline:
            # after a NOTIFY, one read shared by this process's streams of the run; after a
            # keep-alive, a read of its own (a safety net: every write of the job notifies)
            read = sync_to_async(_state, **_in_pool)(pk) if fresh else _shared_state(pk)
            data, finished = await read
            if data != last:
                yield f"event: run\ndata: {data}\n\n"
                last = data
            if finished:
                yield "event: end\ndata: {}\n\n"
                return
            notified = await sub.wait(settings.SSE_KEEPALIVE_S)
            if not notified:
                yield ": keep-alive\n\n"
                await sync_to_async(limits.refresh, **_in_pool)(client, stream_id)
            fresh = not notified
    finally:
        hub.unsubscribe(sub)
        if not hub.has_subscribers(str(pk)):
            _reads.pop(str(pk), None)
        await sync_to_async(limits.release, **_in_pool)(client, stream_id)


def _polling_stream(pk: uuid.UUID, client: str, stream_id: str, poll_s: float = 0.5):
    """The same events for a WSGI server: one thread per stream, a look every ``poll_s``."""
    try:
        deadline = time.monotonic() + settings.SSE_MAX_DURATION_S
        last = None
        while time.monotonic() < deadline:
            data, finished = _state(pk)
            if data != last:
                yield f"event: run\ndata: {data}\n\n"
                last = data
            if finished:
                yield "event: end\ndata: {}\n\n"
                return
            time.sleep(poll_s)
    finally:
        limits.release(client, stream_id)
