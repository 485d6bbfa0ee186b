"""Redis locks that keep two workers from polling the same profile at once."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from django.conf import settings

log = logging.getLogger(__name__)


def redis_client() -> redis.Redis:
    """A client for the broker's Redis with short timeouts (callers must not hang)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


@contextlib.contextmanager
def held_lock(name: str, timeout: float) -> Iterator[bool]:
    """Try to take lock ``name`` without waiting; yields whether we hold it.

    The lock expires after ``timeout`` seconds, so a worker killed while holding it
    blocks the next poll for at most that long.
    """
    lock = redis_client().lock(f"panel:lock:{name}", timeout=timeout, blocking=False)
    acquired = lock.acquire()
    try:
        yield bool(acquired)
    finally:
        if acquired:
            with contextlib.suppress(redis.exceptions.LockError):
                lock.release()
