"""One PostgreSQL ``LISTEN citytwin_jobs`` connection per process, fanned out to the streams.

The trigger of migration 0001 sends the job's id on every change of status or progress. A
daemon thread holds the one listening connection and wakes the waiting streams (asyncio events
in whatever event loop they run in). The thread closes its connection and ends when no stream
has waited for a few seconds, so an idle process holds no extra connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict

import psycopg
from django.conf import settings

log = logging.getLogger(__name__)

CHANNEL = "citytwin_jobs"
#: the thread ends after this long without a subscriber (s)
IDLE_EXIT_S = 5.0


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
    )


class Subscription:
    """Set when the job changed (or the listener lost its connection: read again)."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout_s: float) -> bool:
        """Whether the job changed within ``timeout_s``; clears the flag."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        #: per job, how many notifications came (a read started after one sees its change)
        self._generation: dict[str, int] = defaultdict(int)
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def subscribe(self, job_id: str) -> Subscription:
        sub = Subscription(str(job_id))
        with self._lock:
            self._subs[sub.job_id].add(sub)
            if self._thread is None or not self._thread.is_alive():
                self.listening.clear()
                self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.job_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.job_id]
                    self._generation.pop(sub.job_id, None)

    def generation(self, job_id: str) -> int:
        with self._lock:
            return self._generation.get(job_id, 0)

    def has_subscribers(self, job_id: str) -> bool:
        with self._lock:
            return bool(self._subs.get(job_id))

    def _wake(self, job_id: str | None) -> None:
        with self._lock:
            keys = [job_id] if job_id is not None else list(self._subs)
            targets = []
            for key in keys:
                if key in self._subs:
                    self._generation[key] += 1
                    targets.extend(self._subs[key])
        for sub in targets:
            sub.wake()

    def _run(self) -> None:
        idle_since = None
        while True:
            try:
                with psycopg.connect(_conninfo(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while True:
                        for note in conn.notifies(timeout=1.0):
                            self._wake(note.payload)
                        with self._lock:
                            if self._subs:
                                idle_since = None
                            elif idle_since is None:
                                idle_since = time.monotonic()
                            elif time.monotonic() - idle_since > IDLE_EXIT_S:
                                self._thread = None
                                return
            except Exception:
                # streams read the job again and keep waiting; we reconnect
                log.warning("LISTEN %s connection lost; reconnecting", CHANNEL, exc_info=True)
                self.listening.clear()
                self._wake(None)
                time.sleep(1.0)
                with self._lock:
                    if not self._subs:
                        self._thread = None
                        return


hub = Hub()
