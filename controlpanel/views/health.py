"""Readiness for load balancers and orchestrators: can this panel do its job right now?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from controlpanel.live_updates import redis_available, worker_heartbeat
from controlpanel.selectors.profiles import active_profiles_with_polls
from controlpanel.views.core import database_status


def _profile_polls(now: Any, max_age: float) -> dict[str, Any]:
    """Per active profile: seconds since its last successful poll, its last error, and
    whether it can be polled: False after a failed poll or when the last success is older
    than ``max_age`` (a profile not polled yet counts as pollable).
    """
    polls: dict[str, Any] = {}
    for profile in active_profiles_with_polls():
        status = getattr(profile, "poll_status", None)
        last = status.last_success_at if status else None
        age = (now - last).total_seconds() if last else None
        failing = bool(status and status.consecutive_failures)
        polls[profile.slug] = {
            "last_poll_age_seconds": round(age, 1) if age is not None else None,
            "error": status.last_error if status else "",
            "ok": not failing and (age is None or age <= max_age),
        }
    return polls


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Whether the panel can do its job: ``status`` ready, degraded or not ready (README).

    not ready (503): the database, Redis or a polling worker does not work. degraded: the
    panel works, but some Airflow profile cannot be polled (``degraded_profiles``); that
    answers 200, because one Airflow being down must not take the panel out of the load
    balancer, unless ``?strict=1`` asks for 503 (for monitors that only read the status code).
    """
    now = timezone.now()
    database = database_status()
    redis_ok = redis_available()
    beat = worker_heartbeat() if redis_ok else None
    max_age = max(60.0, settings.POLL_INTERVAL_SECONDS * 6)
    worker_ok = beat is not None and (now - beat).total_seconds() <= max_age
    profiles = _profile_polls(now, max_age) if database == "ok" else {}
    degraded = sorted(slug for slug, poll in profiles.items() if not poll["ok"])
    body: dict[str, Any] = {
        "database": database,
        "redis": "ok" if redis_ok else "unavailable",
        "worker": "ok" if worker_ok else "no heartbeat",
        "worker_heartbeat": beat.isoformat() if beat else None,
        "profiles": profiles,
        "degraded_profiles": degraded,
    }
    if not (database == "ok" and redis_ok and worker_ok):
        body["status"], code = "not ready", 503
    elif degraded:
        strict = request.GET.get("strict", "") not in ("", "0")
        body["status"], code = "degraded", 503 if strict else 200
    else:
        body["status"], code = "ready", 200
    return JsonResponse(body, status=code)
