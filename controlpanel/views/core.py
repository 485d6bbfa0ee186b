"""HTML views and the health check."""

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Short enough that a load balancer probing /healthz is never kept waiting on a dead Redis.
REDIS_PING_TIMEOUT_SECONDS = 0.5


def database_status() -> str:
    """Return "ok" when the default database answers a trivial query, else "error"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("Health check: database query failed", exc_info=True)
        return "error"
    return "ok"


def redis_status() -> str:
    """Return "ok" when the Celery broker's Redis answers PING, else "unavailable"."""
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=REDIS_PING_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_PING_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError):
        logger.warning("Health check: Redis did not answer PING", exc_info=True)
        return "unavailable"
    finally:
        client.close()
    return "ok"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Report whether the panel can serve: 200 if the database works, 503 if it does not.

    Redis being down is reported but does not fail the check: pages keep working without
    it, only background work waits, so the web container must not be restarted for it.
    """
    database = database_status()
    body = {"status": "ok" if database == "ok" else "error", "database": database}
    body["redis"] = redis_status()
    return JsonResponse(body, status=200 if database == "ok" else 503)
