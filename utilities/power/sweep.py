"""N-1 cases in chunks, shared out between the run's own worker and any idle Celery workers.

The criticality run splits its lines into chunks and sends one Celery task per chunk
(``power.n1_chunk``, ``acks_late``); then it works through the chunks itself. Whoever takes a
chunk first claims it in Redis (``SET NX`` with an expiry); the result goes to Redis under the
chunk's key, so a chunk done twice (a redelivered task) gives the same value once. The run
waits for the chunks other workers claimed, takes over a chunk whose claim expired without a
result (its worker died), and writes all rows in its own transaction. With one worker, the run
does every chunk and the queued tasks find them claimed; with more, idle workers share them.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable

import redis
from celery import shared_task
from django.conf import settings

#: a claim lasts this long without a result before another worker may take the chunk (s)
CLAIM_S = 300
RESULT_TTL_S = 24 * 3600


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL)


def _key(run_id, chunk: int, what: str) -> str:
    return f"power:n1:{run_id}:{chunk}:{what}"


def _me() -> str:
    return f"{socket.gethostname()}/{os.getpid()}"


def claim(r, run_id, chunk: int) -> bool:
    if r.exists(_key(run_id, chunk, "result")):
        return False
    return bool(r.set(_key(run_id, chunk, "claim"), _me(), nx=True, ex=CLAIM_S))


def put(r, run_id, chunk: int, rows: list[dict]) -> None:
    r.set(_key(run_id, chunk, "result"), json.dumps(rows), ex=RESULT_TTL_S, nx=True)


def get(r, run_id, chunk: int) -> list[dict] | None:
    raw = r.get(_key(run_id, chunk, "result"))
    return None if raw is None else json.loads(raw)


def run_chunks(
    run_id,
    chunks: list[list[int]],
    compute: Callable[[list[int]], list[dict]],
    progress: Callable[[float, str], None],
    send: Callable[[int], None] | None = None,
    timeout_s: float = 3600.0,
) -> list[dict]:
    """All chunks' rows, computed here or by other workers (see the module)."""
    r = _redis()
    if send is not None:
        for i in range(len(chunks)):
            send(i)
    done: dict[int, list[dict]] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(chunks):
        for i, lines in enumerate(chunks):
            if i in done:
                continue
            rows = get(r, run_id, i)
            if rows is None and claim(r, run_id, i):
                rows = compute(lines)
                put(r, run_id, i, rows)
                rows = get(r, run_id, i)
            if rows is not None:
                done[i] = rows
                progress(len(done) / len(chunks), f"{len(done)} of {len(chunks)} chunks of lines")
        if len(done) < len(chunks):
            if time.monotonic() > deadline:
                raise TimeoutError("N-1 chunks of other workers did not finish in time")
            time.sleep(0.5)
    for i in range(len(chunks)):
        r.delete(_key(run_id, i, "claim"))
    return [row for i in range(len(chunks)) for row in done[i]]


@shared_task(name="power.n1_chunk", acks_late=True, ignore_result=True)
def n1_chunk(run_id: str, chunk: int, lines: list[int]) -> None:
    """One chunk of a criticality run, when this worker gets to it first."""
    from citytwin.scenarios.capabilities.power_criticality import compute_chunk
    from citytwin.scenarios.models import Run

    r = _redis()
    if r.exists(_key(run_id, chunk, "result")):
        return
    run = Run.objects.select_related("scenario__city", "job").filter(pk=run_id).first()
    if run is None or run.job.status != "running" or not claim(r, run_id, chunk):
        return
    put(r, run_id, chunk, compute_chunk(run, lines))
