"""With Redis down, pages still render and say that live updates are paused."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.test import Client

from controlpanel import live_updates
from controlpanel.services import actions
from tests.harness.airflow import free_port
from tests.helpers.actions import start_run
from tests.world import World


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    live_updates._cache.clear()


def test_pages_say_live_updates_are_paused_when_redis_is_down(
    world: World, client_as: Any, settings: Any
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    page = client_as("viewer").get("/")
    assert page.status_code == 200
    assert "Live updates are paused" in page.content.decode()


def test_no_warning_when_redis_answers(world: World, client_as: Any, settings: Any) -> None:
    settings.REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    assert live_updates.redis_available()  # the test command always provides a Redis
    assert "Live updates are paused" not in client_as("viewer").get("/").content.decode()


def test_anonymous_visitors_get_no_banner(settings: Any, db: None) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert "Live updates" not in Client().get("/").content.decode()


@pytest.mark.airflow
@pytest.mark.django_db(transaction=True)
def test_triggering_works_while_redis_is_down(airflow: Any, settings: Any) -> None:
    from controlpanel.audit import Actor
    from controlpanel.services import catalog
    from tests.factories import UserFactory
    from tests.helpers.profiles import harness_profile

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    profile = harness_profile(airflow)
    catalog.refresh_catalog(profile)
    boss = UserFactory.create(username="boss", is_superuser=True)
    run = start_run(Actor(user=boss), profile.dags.get(dag_id="cp_paused"))
    assert run.pk and run.state == "queued"
    actions.set_run_state(Actor(user=boss), run, "failed")
