"""Notifications: noticing run endings, sending email and webhooks with retries, the audit.

Webhooks go to a real HTTP server on loopback (``notify_helpers.receiver``); email lands in
Django's locmem outbox; queued sends run in this process at once (``send_in_process``). A
real Airflow run is in test_notifications_airflow.py, a real worker in _worker.py.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from controlpanel import tasks
from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, Delivery, Run, Subscription, TaskInstance
from controlpanel.permissions import ActionDenied
from controlpanel.services import notification_channels as channels
from controlpanel.services import notifications
from tests.controlpanel.notify_helpers import LOOPBACK, WebhookReceiver
from tests.factories import RunFactory, UserFactory
from tests.harness.airflow import free_port
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "hook-signing-secret-42"


@pytest.fixture(autouse=True)
def _no_broker(send_in_process: None) -> None:
    """Every queued task runs here and now: none may reach a shared Redis."""


def finished_run(world: World, dag_id: str = "finance_daily", state: str = "failed") -> Run:
    """A run of a prod DAG that the poller just saw end, with a failed and an ok task."""
    now = timezone.now()
    run = RunFactory.create(
        profile=world.prod,
        dag_id=dag_id,
        state=state,
        is_finished=True,
        end_date=now,
        logical_date=now - timedelta(minutes=5),
        triggered_by=world.users["operator"],
    )
    TaskInstance.objects.create(run=run, task_id="extract", state="success", try_number=1)
    TaskInstance.objects.create(run=run, task_id="transform", state=state, try_number=1)
    return run


def ended(run: Run, *, first_seen: bool = False) -> list[int]:
    """Tell the notifications the poller saw ``run`` end (or first saw it finished), then
    queue the new deliveries as the poll task does once the cycle commits."""
    key = (run.dag_id, run.dag_run_id)
    before = {} if first_seen else {key: False}
    delivery_ids = notifications.notify_run_endings(run.profile, {key: run}, before, timezone.now())
    tasks.send_after_commit(delivery_ids)
    return delivery_ids


def boss(world: World) -> Actor:
    return Actor(user=world.users["superuser"], ip_address="127.0.0.1")


def hook(world: World, url: str, **fields: Any) -> Subscription:
    """A webhook subscription of finance-viewers (who may view prod finance_*)."""
    values = {"channel": "webhook", "url": url, "on_failure": True, **fields}
    secret = values.pop("secret", SECRET)
    return notifications.subscribe(
        boss(world), world.teams["finance-viewers"], secret=secret, **values
    )


def sends(outcome: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(action="notification.send").order_by("id")
    return list(events.filter(outcome=outcome) if outcome else events)


# --- noticing endings ----------------------------------------------------------------------


def test_one_delivery_per_subscription_even_when_an_ending_is_seen_twice(
    world: World, settings: Any
) -> None:
    sub = notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", emails=["a@example.org"]
    )
    run = finished_run(world)
    first = ended(run)
    again = ended(run)  # a second poller, or the same one reading the run again
    assert len(first) == 1 and again == []
    assert Delivery.objects.filter(subscription=sub, run=run).count() == 1


def test_only_teams_that_may_view_the_dag_hear_of_it(world: World) -> None:
    viewers = notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    ops = notifications.subscribe(
        boss(world), world.teams["etl-ops"], channel="email", all_members=True
    )
    ended(finished_run(world, "finance_monthly"))  # finance_*: viewers yes, etl-ops no
    assert list(Delivery.objects.values_list("subscription_id", flat=True)) == [viewers.pk]
    assert not ops.deliveries.exists()


def test_success_is_notified_only_to_who_asked_for_it(world: World) -> None:
    team = world.teams["finance-viewers"]
    failures = notifications.subscribe(boss(world), team, channel="email", all_members=True)
    both = notifications.subscribe(
        boss(world), team, channel="email", all_members=True, on_success=True
    )
    ended(finished_run(world, state="success"))
    assert [d.subscription_id for d in Delivery.objects.all()] == [both.pk]
    assert not failures.deliveries.exists()


def test_scope_narrows_to_listed_dags(world: World) -> None:
    team = world.teams["finance-viewers"]
    monthly = notifications.subscribe(
        boss(world), team, channel="email", all_members=True, dag_patterns=["*_monthly"]
    )
    ended(finished_run(world, "finance_daily"))
    assert not monthly.deliveries.exists()
    ended(finished_run(world, "finance_monthly"))
    assert monthly.deliveries.count() == 1


def test_history_seen_for_the_first_time_stays_quiet(world: World, settings: Any) -> None:
    settings.NOTIFY_RECENT_SECONDS = 600
    notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    old = finished_run(world)
    Run.objects.filter(pk=old.pk).update(end_date=timezone.now() - timedelta(hours=2))
    old.refresh_from_db()
    assert ended(old, first_seen=True) == []
    assert len(ended(finished_run(world), first_seen=True)) == 1  # ended between two polls


# --- email -----------------------------------------------------------------------------------


def test_email_says_what_failed_and_links_the_run(
    world: World, send_in_process: None, settings: Any
) -> None:
    settings.PANEL_BASE_URL = "https://panel.example.org"
    notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    run = finished_run(world)
    ended(run)
    [email] = mail.outbox
    assert email.to == ["team_admin@example.invalid", "viewer@example.invalid"]
    assert email.subject == "[Airflow panel] finance_daily failed on Production"
    assert f"Run: {run.dag_run_id}" in email.body
    assert "Failed tasks: transform" in email.body and "extract" not in email.body
    assert "Started by: operator" in email.body
    assert f"https://panel.example.org/runs/{run.pk}/" in email.body
    [event] = sends("succeeded")
    assert event.payload["target"] == "team_admin@example.invalid, viewer@example.invalid"
    assert (event.dag_id, event.dag_run_id, event.source) == (
        "finance_daily",
        run.dag_run_id,
        "worker",
    )
    assert Delivery.objects.get().status == "sent"


# --- webhooks --------------------------------------------------------------------------------


def test_webhook_retries_server_errors_then_delivers_a_signed_body(
    world: World, send_in_process: None, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [500, 503, 429]
    hook(world, receiver.url)
    run = finished_run(world)
    ended(run)
    assert len(receiver.requests) == 4
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # every attempt sends the same body
    last = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), last.body, hashlib.sha256).hexdigest()
    assert last.headers["X-Panel-Signature"] == expected
    assert last.headers["Content-Type"] == "application/json"
    assert last.headers["X-Panel-Event"] == "run.failed"
    body = json.loads(last.body)
    assert body == {
        "event": "run.failed",
        "profile": "prod",
        "dag_id": "finance_daily",
        "dag_run_id": run.dag_run_id,
        "state": "failed",
        "failed_task_ids": ["transform"],
        "logical_date": run.logical_date.isoformat() if run.logical_date else None,
        "end_date": run.end_date.isoformat() if run.end_date else None,
        "run_url": f"http://localhost:8000/runs/{run.pk}/",
        "triggered_by": "operator",
        "team": "finance-viewers",
        "delivery_id": Delivery.objects.get().pk,
    }
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 4)
    [event] = sends()
    assert event.outcome == "succeeded" and event.payload["attempts"] == 4
    assert event.payload["target"] == f"127.0.0.1:{receiver.server.server_address[1]}"
    assert SECRET not in json.dumps(event.payload) and "/hooks" not in json.dumps(event.payload)


def test_a_client_error_is_not_retried(
    world: World, send_in_process: None, receiver: WebhookReceiver
) -> None:
    receiver.statuses = [400]
    hook(world, receiver.url)
    ended(finished_run(world))
    assert len(receiver.requests) == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    [event] = sends("failed")
    assert "refused the notification with 400; not retried" in event.message


def test_an_unreachable_webhook_ends_failed_in_plain_words(
    world: World, send_in_process: None, settings: Any
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 3
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = [LOOPBACK]
    port = free_port()
    hook(world, f"http://127.0.0.1:{port}/hook")
    ended(finished_run(world))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    [event] = sends()
    assert event.outcome == "failed"
    assert event.message == (
        f"The webhook at 127.0.0.1:{port} could not be reached (connection refused or no "
        "such host). (gave up after 3 attempts)"
    )


def test_retries_wait_longer_each_time(settings: Any) -> None:
    settings.NOTIFY_RETRY_BASE_SECONDS = 30
    assert [notifications.retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_a_sent_delivery_is_never_sent_again(
    world: World, send_in_process: None, receiver: WebhookReceiver
) -> None:
    hook(world, receiver.url)
    [delivery_id] = ended(finished_run(world))
    assert notifications.send_delivery(delivery_id) is None  # a duplicated task message
    assert len(receiver.requests) == 1 and len(sends()) == 1


class RolledBack(Exception):
    """Raised to roll a poll's transaction back."""


def test_deliveries_are_sent_only_once_the_poll_commits(
    world: World, receiver: WebhookReceiver
) -> None:
    hook(world, receiver.url)
    run = finished_run(world)
    key = (run.dag_id, run.dag_run_id)
    with pytest.raises(RolledBack), transaction.atomic():
        ids = notifications.notify_run_endings(world.prod, {key: run}, {key: False}, timezone.now())
        tasks.send_after_commit(ids)
        raise RolledBack  # the cycle's write failed: its deliveries are gone, nothing sent
    assert not Delivery.objects.exists() and receiver.requests == []
    with transaction.atomic():
        ids = notifications.notify_run_endings(world.prod, {key: run}, {key: False}, timezone.now())
        tasks.send_after_commit(ids)
        assert receiver.requests == []  # not before the rows are committed
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "sent"


def test_overdue_deliveries_are_queued_again(world: World) -> None:
    sub = notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    # As left by a worker killed mid-send, or a poll whose queueing failed.
    delivery = Delivery.objects.create(
        subscription=sub, run=finished_run(world), event="run.failed", run_ended_at="x"
    )
    assert notifications.overdue_deliveries() == []
    later = timezone.now() + timedelta(minutes=6)
    assert notifications.overdue_deliveries(later) == [delivery.pk]
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    tasks.send_overdue_notifications()  # the beat task; sent at once in this process
    assert Delivery.objects.get().status == "sent" and len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.org/x", "starting with https://"),
        ("javascript:alert(1)", "starting with https://"),
        ("http://hooks.example.org/x", "plain http://"),
        ("https://user:pw@hooks.example.org/x", "no user name or password"),
        ("https://hooks.example.org/x", ""),
        ("http://127.0.0.1:9000/x", ""),
        ("http://localhost:9000/x", ""),
        ("http://[::1]:9000/x", ""),
    ],
)
def test_webhook_addresses(url: str, problem: str, settings: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = [LOOPBACK, "::1/128"]  # see test_webhook_addresses
    found = channels.webhook_url_problem(url)
    assert (problem in found) if problem else found == ""


def test_plain_http_can_be_allowed_by_the_administrator(settings: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOW_HTTP = True
    assert channels.webhook_url_problem("http://hooks.internal/x") == ""


# --- managing subscriptions ---------------------------------------------------------------------


def test_subscribing_is_audited_and_the_secret_is_stored_encrypted(world: World) -> None:
    sub = hook(world, "https://hooks.example.org/panel")
    assert sub.reveal_secret() == SECRET and SECRET not in sub.secret_encrypted
    event = AuditEvent.objects.get(action="notification.subscribe")
    assert event.outcome == "succeeded" and event.payload["target"] == "hooks.example.org"
    assert event.payload["signed"] is True and SECRET not in json.dumps(event.payload)
    notifications.update_subscription(boss(world), sub, on_success=True)
    assert Subscription.objects.get().reveal_secret() == SECRET  # kept when not given
    notifications.unsubscribe(boss(world), sub)
    assert not Subscription.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "outcome"))
    assert actions[-2:] == [
        ("notification.update", "succeeded"),
        ("notification.unsubscribe", "succeeded"),
    ]


def test_bad_fields_are_refused_in_plain_words_and_audited(world: World) -> None:
    team = world.teams["finance-viewers"]
    with pytest.raises(ValidationError) as refused:
        notifications.subscribe(
            boss(world), team, channel="email", emails=["not-an-address"], on_failure=False
        )
    assert refused.value.message_dict == {
        "emails": ["Not an email address: not-an-address."],
        "on_failure": ["Choose at least one event: failed runs or successful runs."],
    }
    assert AuditEvent.objects.get(action="notification.subscribe").outcome == "failed"
    assert not Subscription.objects.exists()


@pytest.mark.parametrize("persona", ["operator", "viewer", "outsider", "auditor"])
def test_only_team_and_panel_admins_subscribe(world: World, persona: str) -> None:
    actor = Actor(user=world.users[persona])
    with pytest.raises(ActionDenied):
        notifications.subscribe(
            actor, world.teams["finance-viewers"], channel="email", all_members=True
        )
    assert AuditEvent.objects.get(action="notification.subscribe").outcome == "denied"
    team_admin = Actor(user=world.users["team_admin"])
    notifications.subscribe(
        team_admin, world.teams["finance-viewers"], channel="email", all_members=True
    )
    with pytest.raises(ActionDenied):  # not their team
        notifications.subscribe(
            team_admin, world.teams["etl-ops"], channel="email", emails=["a@b.c"]
        )


def test_a_member_without_an_address_is_skipped(world: World, settings: Any) -> None:
    world.users["viewer"].email = ""
    world.users["viewer"].save()
    UserFactory.create(username="gone", is_active=False)
    sub = notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    assert channels.email_recipients(sub) == ["team_admin@example.invalid"]


def test_key_rotation_re_encrypts_webhook_secrets(world: World, settings: Any) -> None:
    sub = hook(world, "https://hooks.example.org/panel")
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Subscription.objects.get(pk=sub.pk).reveal_secret() == SECRET
    event = AuditEvent.objects.get(action="secrets.rotate")
    assert event.payload == {"profiles": 2, "webhooks": 1}


def test_a_subscription_switched_off_before_sending_sends_nothing(
    world: World, receiver: WebhookReceiver
) -> None:
    sub = hook(world, receiver.url)
    delivery = Delivery.objects.create(
        subscription=sub, run=finished_run(world), event="run.failed", run_ended_at="x"
    )
    Subscription.objects.filter(pk=sub.pk).update(is_active=False)
    assert notifications.send_delivery(delivery.pk) is None
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "switched off" in delivery.last_error


def test_an_unexpected_error_is_retried_then_ends(world: World, settings: Any) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    settings.EMAIL_BACKEND = "tests.controlpanel.test_notifications.BrokenBackend"
    notifications.subscribe(
        boss(world), world.teams["finance-viewers"], channel="email", all_members=True
    )
    ended(finished_run(world))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert sends("failed")[0].message == (
        "Sending failed unexpectedly: the backend broke (gave up after 2 attempts)"
    )


class BrokenBackend:
    """An email backend with a bug (not a network error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise RuntimeError("the backend broke")


def test_the_poller_pays_little_for_notifications(
    world: World, django_assert_num_queries: Any
) -> None:
    run = finished_run(world)
    key = (run.dag_id, run.dag_run_id)
    with django_assert_num_queries(0):  # nothing ended this cycle
        notifications.notify_run_endings(world.prod, {key: run}, {key: True}, timezone.now())
    with django_assert_num_queries(1):  # ended, but nobody subscribed
        ended(run)
