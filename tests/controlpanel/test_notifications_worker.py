"""Notifications sent by a real Celery worker: beat polls, the run fails, the webhook is POSTed.

Worker and beat are separate processes (see test_tracking_worker.py) on this test's Redis
database and queue; the retry after a 5xx waits its real (1 s) countdown in the worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, Delivery
from controlpanel.services import catalog, notifications
from tests.controlpanel.notify_helpers import LOOPBACK, WebhookReceiver
from tests.factories import GrantFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import start_run
from tests.helpers.celery import CeleryProcesses, wait_for
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path: Path, reachable_redis_url: str) -> Iterator[CeleryProcesses]:
    processes = CeleryProcesses(reachable_redis_url, tmp_path)
    processes.env["NOTIFY_RETRY_BASE_SECONDS"] = "1"
    processes.env["NOTIFY_WEBHOOK_ALLOWED_NETWORKS"] = LOOPBACK  # the receiver
    processes.start("worker")
    processes.start("beat")
    yield processes
    processes.stop_all()


def test_a_worker_notifies_a_failed_run_and_retries_a_server_error(
    panel_airflow: AirflowInstance, workers: CeleryProcesses, receiver: WebhookReceiver
) -> None:
    profile = harness_profile(panel_airflow)
    profile.track_external_runs = False  # only this run, whatever other tests start
    profile.save()
    catalog.refresh_catalog(profile)
    boss = Actor(user=UserFactory.create(username="boss", is_superuser=True))
    team = TeamFactory.create(slug="oncall")
    GrantFactory.create(team=team, profile=profile, dag_ids=["cp_etl"], level="view")
    receiver.statuses = [503]
    hook = notifications.subscribe(boss, team, channel="webhook", url=receiver.url, secret="s")

    run = start_run(boss, profile.dags.get(dag_id="cp_etl"), conf={"fail_at": "extract"})
    wait_for(
        lambda: Delivery.objects.filter(run=run, status="sent").exists(),
        workers,
        what="the worker to deliver the failure",
    )
    delivery = Delivery.objects.get(run=run)
    assert (delivery.subscription_id, delivery.event, delivery.attempts) == (
        hook.pk,
        "run.failed",
        2,
    )
    assert len(receiver.requests) == 2
    body = json.loads(receiver.requests[-1].body)
    assert (body["dag_run_id"], body["failed_task_ids"]) == (run.dag_run_id, ["extract"])
    event = AuditEvent.objects.get(action="notification.send")
    assert (event.outcome, event.source, event.payload["attempts"]) == ("succeeded", "worker", 2)
