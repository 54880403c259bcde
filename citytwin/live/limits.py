"""At most ``SSE_MAX_STREAMS_PER_CLIENT`` open event streams per client, across all workers.

A client is the signed-in user, else the remote address. Each open stream is a member of a
Redis sorted set scored by its expiry time; a stream refreshes its entry at every keep-alive, so
a stream whose process died stops counting after ``ttl_s``.
"""

from __future__ import annotations

import time
import uuid
from functools import lru_cache

import redis
from django.conf import settings

TTL_S = 60.0


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _key(client: str) -> str:
    return f"citytwin:sse:{client}"


def acquire(client: str, ttl_s: float = TTL_S) -> str | None:
    """A stream id when the client may open another stream, else None."""
    stream_id, key, now = uuid.uuid4().hex, _key(client), time.time()
    pipe = _redis().pipeline()
    pipe.zremrangebyscore(key, 0, now)
    pipe.zadd(key, {stream_id: now + ttl_s})
    pipe.zcard(key)
    pipe.expire(key, int(ttl_s) + 1)
    count = pipe.execute()[2]
    if count > settings.SSE_MAX_STREAMS_PER_CLIENT:
        _redis().zrem(key, stream_id)
        return None
    return stream_id


def refresh(client: str, stream_id: str, ttl_s: float = TTL_S) -> None:
    key = _key(client)
    pipe = _redis().pipeline()
    pipe.zadd(key, {stream_id: time.time() + ttl_s})
    pipe.expire(key, int(ttl_s) + 1)
    pipe.execute()


def release(client: str, stream_id: str) -> None:
    _redis().zrem(_key(client), stream_id)
