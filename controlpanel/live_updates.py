"""Whether live updates work: they need Redis (the Celery broker) and a polling worker.

Pages keep working without Redis (they read our database); they only say that what they
show may be behind.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

import redis
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from controlpanel.locks import redis_client

_CACHE_SECONDS = 10.0
_cache: dict[str, tuple[float, bool]] = {}

LIVE_UPDATES_PAUSED = (
    "Live updates are paused: the panel cannot reach Redis, so run states are not being "
    "refreshed. Pages show what was last recorded; triggering still works."
)


def redis_available() -> bool:
    """True when Redis answers a PING (cached for a few seconds per process)."""
    now = time.monotonic()
    url = settings.REDIS_URL  # the cache is per URL: tests and reconfigurations switch it
    cached = _cache.get(url)
    if cached and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    try:
        ok = bool(redis_client().ping())
    except (redis.RedisError, OSError):
        ok = False
    _cache[url] = (now, ok)
    return ok


def panel_status(request: HttpRequest) -> dict[str, str]:
    """Template context: ``live_updates_warning`` is set when live updates are paused."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {} if redis_available() else {"live_updates_warning": LIVE_UPDATES_PAUSED}


HEARTBEAT_KEY = "panel:worker:heartbeat"


def record_worker_heartbeat() -> None:
    """Called by the worker at every poll round: "a worker is alive and polling"."""
    # Without Redis there is no worker to speak of either: nothing to record.
    with contextlib.suppress(redis.RedisError, OSError):
        redis_client().set(HEARTBEAT_KEY, timezone.now().isoformat(), ex=3600)


def worker_heartbeat() -> datetime | None:
    """When a worker last started a poll round, or None."""
    try:
        value = redis_client().get(HEARTBEAT_KEY)
    except (redis.RedisError, OSError):
        return None
    if not value:
        return None
    return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)
