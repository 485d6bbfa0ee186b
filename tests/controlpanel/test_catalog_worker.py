"""A new profile's DAGs are listed within seconds of saving it (real worker, Redis, Airflow).

The worker's beat would sync catalogs once an hour here (``CATALOG_SYNC_SECONDS``), so
only the sync queued when the profile is saved can list its DAGs in time.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery import current_app
from django.test import Client
from django.urls import reverse

from controlpanel.models import AirflowProfile, Dag
from tests.factories import UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.celery import CeleryProcesses, wait_for

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]
LISTED_WITHIN_SECONDS = 15


@pytest.fixture
def admin_client(celery_processes: CeleryProcesses, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A panel admin's client whose queued tasks reach the test's worker."""
    monkeypatch.setitem(
        current_app.conf, "task_default_queue", celery_processes.env["CELERY_QUEUE"]
    )
    client = Client()
    client.force_login(UserFactory.create(username="boss", is_superuser=True))
    return client


def create_through_the_page(client: Client, panel_airflow: AirflowInstance) -> None:
    form = {
        "name": "Fresh Airflow",
        "slug": "fresh",
        "base_url": panel_airflow.url,
        "auth_type": "basic",
        "username": "admin",
        "secret": panel_airflow.password("admin"),
        "verify_tls": "on",
        "allow_insecure_http": "on",
        "timeout_seconds": "10",
        "api_version": "auto",
        "is_active": "on",
    }
    response = client.post(reverse("manage:profile_create"), form)
    assert response.status_code == 302, response.content.decode()[-2000:]


def create_through_the_api(client: Client, panel_airflow: AirflowInstance) -> None:
    body: dict[str, Any] = {
        "name": "Fresh Airflow",
        "slug": "fresh",
        "base_url": panel_airflow.url,
        "username": "admin",
        "password": panel_airflow.password("admin"),
        "allow_insecure_http": True,
        "timeout_seconds": 10,
    }
    response = client.post("/api/profiles/", body, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("create", [create_through_the_page, create_through_the_api])
def test_a_new_profiles_dags_are_listed_within_seconds(
    panel_airflow: AirflowInstance,
    celery_processes: CeleryProcesses,
    admin_client: Client,
    create: Any,
) -> None:
    started = time.monotonic()
    create(admin_client, panel_airflow)
    profile = AirflowProfile.objects.get(slug="fresh")
    wait_for(
        lambda: Dag.objects.filter(profile=profile, dag_id="cp_quick").exists(),
        celery_processes,
        timeout=LISTED_WITHIN_SECONDS,
        what="the new profile's DAGs in the catalog",
    )
    assert time.monotonic() - started < LISTED_WITHIN_SECONDS
    html = admin_client.get("/").content.decode()
    assert 'href="/dags/fresh/cp_quick/"' in html
    assert "The DAG list of Fresh Airflow is being read" not in html
