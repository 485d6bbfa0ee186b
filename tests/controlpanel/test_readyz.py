"""/readyz: database, Redis, a worker heartbeat, and how old each profile's last poll is."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from controlpanel import live_updates
from controlpanel.locks import redis_client
from controlpanel.models import PollStatus
from tests.factories import ProfileFactory
from tests.harness.airflow import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def panel_on_test_redis(settings: Any) -> None:
    """The panel reads the test Redis, with no heartbeat and no cached answer left over."""
    settings.REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    live_updates._cache.clear()
    redis_client().delete(live_updates.HEARTBEAT_KEY)


def test_not_ready_without_a_worker_heartbeat() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["worker"] == "no heartbeat"


def test_ready_with_a_fresh_heartbeat_and_reports_poll_ages() -> None:
    live_updates.record_worker_heartbeat()
    profile = ProfileFactory.create(slug="prod")
    PollStatus.objects.create(
        profile=profile, last_success_at=timezone.now() - timedelta(seconds=30)
    )
    ProfileFactory.create(slug="never-polled")
    body = Client().get("/readyz").json()
    assert body["status"] == "ready" and body["worker"] == "ok"
    assert 29 <= body["profiles"]["prod"]["last_poll_age_seconds"] <= 60
    assert body["profiles"]["never-polled"]["last_poll_age_seconds"] is None


def test_a_stale_heartbeat_is_not_ready(settings: Any) -> None:
    old = timezone.now() - timedelta(minutes=10)
    redis_client().set(live_updates.HEARTBEAT_KEY, old.isoformat())
    assert Client().get("/readyz").status_code == 503


def test_not_ready_without_redis(settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    live_updates._cache.clear()
    body = Client().get("/readyz").json()
    assert body["redis"] == "unavailable" and body["status"] == "not ready"


def test_a_profile_that_cannot_be_polled_makes_the_panel_degraded() -> None:
    live_updates.record_worker_heartbeat()
    ok = ProfileFactory.create(slug="prod")
    PollStatus.objects.create(profile=ok, last_success_at=timezone.now())
    down = ProfileFactory.create(slug="staging")
    PollStatus.objects.create(
        profile=down,
        last_success_at=timezone.now() - timedelta(seconds=20),
        consecutive_failures=2,
        last_error="The Airflow server could not be reached.",
    )
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200  # still serving: the other profile works
    assert body["status"] == "degraded" and body["degraded_profiles"] == ["staging"]
    assert body["profiles"]["staging"]["ok"] is False and body["profiles"]["prod"]["ok"] is True
    assert "could not be reached" in body["profiles"]["staging"]["error"]
    strict = Client().get("/readyz?strict=1")
    assert strict.status_code == 503 and strict.json()["status"] == "degraded"


def test_a_profile_not_polled_for_long_is_degraded() -> None:
    live_updates.record_worker_heartbeat()
    profile = ProfileFactory.create(slug="stuck")
    PollStatus.objects.create(profile=profile, last_success_at=timezone.now() - timedelta(hours=1))
    body = Client().get("/readyz").json()
    assert body["status"] == "degraded" and body["degraded_profiles"] == ["stuck"]


def test_ready_answers_503_in_strict_mode_only_when_something_is_wrong() -> None:
    live_updates.record_worker_heartbeat()
    response = Client().get("/readyz?strict=1")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_not_ready_wins_over_degraded() -> None:
    profile = ProfileFactory.create(slug="down")
    PollStatus.objects.create(profile=profile, consecutive_failures=1, last_error="refused")
    response = Client().get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "not ready"
