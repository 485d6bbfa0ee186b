"""Notifications end to end: real Airflow runs end, the poller notices, email and webhook go out.

The poll cycles run in this process as the worker's task runs them (``poll_once``: the
deliveries a cycle wrote are queued after it commits) and so does the sending
(``send_in_process``: what the task does, without a broker).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.core import mail

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, Delivery, Run
from controlpanel.services import catalog, notifications
from dags_api import AirflowClient, new_dag_run_id
from tests.conftest import wait_for_run
from tests.controlpanel.notify_helpers import WebhookReceiver
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import start_run
from tests.helpers.polling import finished, poll_once, poll_until
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]
SECRET = "airflow-hook-secret"


@pytest.fixture(autouse=True)
def _no_broker(send_in_process: None) -> None:
    """Every queued task runs here and now: none may reach a shared Redis."""


def test_real_runs_notify_each_subscription_once(
    panel_airflow: AirflowInstance, receiver: WebhookReceiver
) -> None:
    profile = harness_profile(panel_airflow)
    profile.track_external_runs = False  # only these runs, whatever other tests start
    profile.save()
    catalog.refresh_catalog(profile)
    actor = Actor(user=UserFactory.create(username="boss", is_superuser=True))
    ops = TeamFactory.create(slug="ops")
    GrantFactory.create(team=ops, profile=profile, dag_ids=["cp_etl", "cp_quick"], level="view")
    MembershipFactory.create(team=ops, user=UserFactory.create(username="oncall"))
    blind = TeamFactory.create(slug="blind")  # may view cp_mapped only
    GrantFactory.create(team=blind, profile=profile, dag_ids=["cp_mapped"], level="view")

    emails = notifications.subscribe(actor, ops, channel="email", all_members=True)
    receiver.statuses = [500, 502]
    hooks = notifications.subscribe(
        actor, ops, channel="webhook", url=receiver.url, secret=SECRET, on_success=True
    )
    nothing = notifications.subscribe(
        actor, blind, channel="email", emails=["blind@example.org"], on_success=True
    )

    bad = start_run(actor, profile.dags.get(dag_id="cp_etl"), conf={"fail_at": "load"})
    ok = start_run(actor, profile.dags.get(dag_id="cp_quick"), conf={"name": "n"})
    poll_until(profile, finished(bad, ok))
    # The poller reads the ended runs again (and a second worker might race): still once.
    Run.objects.filter(pk__in=[bad.pk, ok.pk]).update(is_finished=False, state="running")
    poll_once(profile)
    poll_once(profile)

    assert {(d.subscription_id, d.run_id, d.event) for d in Delivery.objects.all()} == {
        (emails.pk, bad.pk, "run.failed"),
        (hooks.pk, bad.pk, "run.failed"),
        (hooks.pk, ok.pk, "run.succeeded"),
    }
    assert not nothing.deliveries.exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}

    [email] = mail.outbox
    assert email.to == ["oncall@example.invalid"]
    assert "Failed tasks: load" in email.body and f"/runs/{bad.pk}/" in email.body

    bodies = [json.loads(r.body) for r in receiver.requests]
    assert len(bodies) == 4  # two 5xx answers retried, then one body per run
    for request in receiver.requests:
        signature = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Panel-Signature"] == f"sha256={signature}"
    by_event = {b["event"]: b for b in bodies}
    assert by_event["run.failed"]["failed_task_ids"] == ["load"]
    assert by_event["run.failed"]["triggered_by"] == "boss"
    assert by_event["run.succeeded"]["dag_id"] == "cp_quick"
    assert by_event["run.succeeded"]["state"] == "success"

    sent = AuditEvent.objects.filter(action="notification.send")
    assert sorted(sent.values_list("outcome", "payload__channel")) == [
        ("succeeded", "email"),
        ("succeeded", "webhook"),
        ("succeeded", "webhook"),
    ]
    assert max(e.payload["attempts"] for e in sent) == 3
    assert SECRET not in json.dumps([e.payload for e in AuditEvent.objects.all()])


def test_runs_ended_before_the_first_poll_are_notified_only_if_recent(
    panel_airflow: AirflowInstance, panel_admin_client: AirflowClient, settings: Any
) -> None:
    run_id = new_dag_run_id("elsewhere")
    panel_admin_client.trigger_dag_run("cp_quick", dag_run_id=run_id, conf={"name": "outside"})
    wait_for_run(panel_admin_client, "cp_quick", run_id)  # ended before the panel ever polled
    boss = Actor(user=UserFactory.create(username="boss", is_superuser=True))
    team = TeamFactory.create(slug="history-team")
    profiles = [harness_profile(panel_airflow, slug=slug) for slug in ("history", "recent")]
    for profile in profiles:
        catalog.refresh_catalog(profile)
        GrantFactory.create(team=team, profile=profile, dag_patterns=["cp_*"], level="view")
    notifications.subscribe(boss, team, channel="email", emails=["h@example.org"], on_success=True)

    settings.NOTIFY_RECENT_SECONDS = 0  # history: anything already ended is old
    assert not poll_once(profiles[0]).error
    assert Run.objects.filter(profile=profiles[0], dag_run_id=run_id, is_finished=True).exists()
    assert not Delivery.objects.exists() and mail.outbox == []

    settings.NOTIFY_RECENT_SECONDS = 600  # the default: it ended minutes ago, between polls
    assert not poll_once(profiles[1]).error
    delivery = Delivery.objects.get(run__profile=profiles[1], run__dag_run_id=run_id)
    assert delivery.status == "sent"
    assert any(run_id in email.body for email in mail.outbox)
