"""Fixed-window counters that keep one chat socket (or one address) from flooding the service.

With REDIS_URL the counters live in Redis, so every ASGI process counts against the same limit;
without it they live in this process's memory (Django's local-memory cache), which is what a
single-process install needs. The Redis cache is built here rather than in CACHES because
nothing else in the project caches yet; once something does, this should use `caches[...]`.
"""

from __future__ import annotations

import time
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache

KEY_PREFIX = "support-console:chat-rate"


@cache
def _counters() -> BaseCache:
    if settings.REDIS_URL:
        return RedisCache(settings.REDIS_URL, {"KEY_PREFIX": KEY_PREFIX})
    return caches["default"]


def rate_limit_exceeded(key: str, *, rate: tuple[int, int]) -> bool:
    """Count one hit for `key`; True when this hit goes over `rate` (count, seconds) in the
    current window. Hits over the limit still count, so a client that keeps flooding stays
    limited until the window ends."""
    limit, seconds = rate
    window = int(time.time() // seconds)
    counter_key = f"{KEY_PREFIX}:{key}:{seconds}:{window}"
    counters = _counters()
    # add() is a no-op when the counter exists; the timeout outlives the window a little so the
    # counter cannot expire between add() and incr() inside it.
    counters.add(counter_key, 0, timeout=seconds + 1)
    try:
        hits = counters.incr(counter_key)
    except ValueError:  # expired in between after all: this hit opens a new count
        counters.set(counter_key, 1, timeout=seconds + 1)
        hits = 1
    return hits > limit


async def rate_limit_exceeded_async(key: str, *, rate: tuple[int, int]) -> bool:
    # Not thread-sensitive: a counter must not wait behind database work (an AI reply run
    # in-process) on the single thread that Channels gives the ORM.
    return await sync_to_async(rate_limit_exceeded, thread_sensitive=False)(key, rate=rate)
