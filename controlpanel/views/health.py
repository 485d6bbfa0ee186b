"""Readiness for load balancers and orchestrators: can this panel do its job right now?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from controlpanel.live_updates import redis_available, worker_heartbeat
from controlpanel.models import AirflowProfile
from controlpanel.views.core import database_status


def _profile_polls(now: Any) -> dict[str, Any]:
    """Per active profile: seconds since its last successful poll, and its last error."""
    polls: dict[str, Any] = {}
    for profile in AirflowProfile.objects.filter(is_active=True).select_related("poll_status"):
        status = getattr(profile, "poll_status", None)
        last = status.last_success_at if status else None
        polls[profile.slug] = {
            "last_poll_age_seconds": round((now - last).total_seconds(), 1) if last else None,
            "error": status.last_error if status else "",
        }
    return polls


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and a polling worker work; 503 otherwise, saying which.

    Per-profile poll ages are reported but do not fail readiness: one Airflow being down
    must not take the panel out of the load balancer.
    """
    now = timezone.now()
    database = database_status()
    redis_ok = redis_available()
    beat = worker_heartbeat() if redis_ok else None
    max_age = max(60.0, settings.POLL_INTERVAL_SECONDS * 6)
    worker_ok = beat is not None and (now - beat).total_seconds() <= max_age
    body: dict[str, Any] = {
        "database": database,
        "redis": "ok" if redis_ok else "unavailable",
        "worker": "ok" if worker_ok else "no heartbeat",
        "worker_heartbeat": beat.isoformat() if beat else None,
        "profiles": _profile_polls(now) if database == "ok" else {},
    }
    ready = database == "ok" and redis_ok and worker_ok
    body["status"] = "ready" if ready else "not ready"
    return JsonResponse(body, status=200 if ready else 503)
