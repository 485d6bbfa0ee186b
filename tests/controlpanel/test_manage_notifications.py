"""The team pages' notifications: who may manage them, forms, the test button, no secrets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, Delivery, Subscription
from controlpanel.services import notification_channels as channels
from controlpanel.services import notifications
from tests.controlpanel.notify_helpers import WebhookReceiver
from tests.factories import RunFactory
from tests.helpers.forms import FormControls
from tests.world import PERSONAS, World

ClientAs = Callable[[str], Client]
VIEWERS = "finance-viewers"
SECRET = "page-hook-secret-77"


@pytest.fixture(autouse=True)
def _no_broker(send_in_process: None) -> None:
    """Every queued task runs here and now: none may reach a shared Redis."""


def existing(world: World) -> Subscription:
    return notifications.subscribe(
        Actor(user=world.users["superuser"]),
        world.teams[VIEWERS],
        channel="webhook",
        url="https://hooks.example.org/panel",
        secret=SECRET,
    )


def email_form(**overrides: str) -> dict[str, str]:
    data = {"channel": "email", "emails": "a@example.org, b@example.org", "on_failure": "on"}
    return {**data, "is_active": "on", **overrides}


# Team admins of the team and panel admins may; its plain members are told who manages it
# (403); nobody else may even see the team (404), as for every team page.
ALLOWED = {"superuser", "team_admin"}
MEMBERS = {"viewer"}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("name", "method", "ok"),
    [
        ("subscription_create", "get", 200),
        ("subscription_create", "post", 302),
        ("subscription_edit", "get", 200),
        ("subscription_edit", "post", 302),
        ("subscription_test", "post", 302),
        ("subscription_test", "get", 405),
        ("subscription_delete", "post", 302),
        ("subscription_delete", "get", 405),
    ],
)
def test_permission_matrix(
    world: World, client_as: ClientAs, persona: str, name: str, method: str, ok: int
) -> None:
    sub = existing(world)
    args: list[Any] = [VIEWERS] if name == "subscription_create" else [VIEWERS, sub.pk]
    client = client_as(persona)
    target = reverse(f"manage:{name}", args=args)
    response = client.get(target) if method == "get" else client.post(target, email_form())
    if persona == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif ok == 405:
        assert response.status_code == 405
    else:
        refused = 403 if persona in MEMBERS else 404
        assert response.status_code == (ok if persona in ALLOWED else refused)


def test_another_teams_admin_cannot_reach_this_teams_notifications(
    world: World, client_as: ClientAs
) -> None:
    sub = notifications.subscribe(
        Actor(user=world.users["superuser"]),
        world.teams["etl-ops"],
        channel="email",
        all_members=True,
    )
    client = client_as("team_admin")
    assert (
        client.post(reverse("manage:subscription_delete", args=["etl-ops", sub.pk])).status_code
        == 404
    )
    # The id of etl-ops' subscription under the team admin's own team: not found either.
    assert (
        client.post(reverse("manage:subscription_delete", args=[VIEWERS, sub.pk])).status_code
        == 404
    )
    assert Subscription.objects.filter(pk=sub.pk).exists()


def test_team_admin_adds_tests_and_removes_a_webhook_without_seeing_the_secret(
    world: World, client_as: ClientAs, receiver: WebhookReceiver
) -> None:
    client = client_as("team_admin")
    form = {
        "name": "On-call",
        "channel": "webhook",
        "url": receiver.url,
        "secret": SECRET,
        "on_failure": "on",
        "on_success": "on",
        "dag_patterns": "finance_*",
        "is_active": "on",
    }
    added = client.post(reverse("manage:subscription_create", args=[VIEWERS]), form, follow=True)
    assert b"Notification added." in added.content
    sub = Subscription.objects.get()
    assert (sub.channel, sub.dag_patterns, sub.on_success) == ("webhook", ["finance_*"], True)
    assert sub.reveal_secret() == SECRET

    page = client.get(reverse("manage:team", args=[VIEWERS])).content.decode()
    assert "Webhook (JSON POST) to 127.0.0.1:" in page and "signing secret set" in page
    assert "Failed runs, successful runs" in page and "patterns finance_*" in page
    edit = client.get(reverse("manage:subscription_edit", args=[VIEWERS, sub.pk])).content.decode()
    assert "Leave empty to keep the stored one" in edit

    tested = client.post(reverse("manage:subscription_test", args=[VIEWERS, sub.pk]), follow=True)
    assert b"Test notification sent to 127.0.0.1:" in tested.content
    [request] = receiver.requests
    assert json.loads(request.body)["event"] == "test"
    assert request.headers["X-Panel-Signature"] == channels.sign(SECRET, request.body)
    receiver.then = 404
    failed = client.post(reverse("manage:subscription_test", args=[VIEWERS, sub.pk]), follow=True)
    assert b"Test notification failed: The webhook at 127.0.0.1:" in failed.content
    assert b"refused the notification with 404" in failed.content

    kept = {**form, "secret": "", "on_success": ""}
    client.post(reverse("manage:subscription_edit", args=[VIEWERS, sub.pk]), kept)
    sub.refresh_from_db()
    assert sub.on_success is False and sub.reveal_secret() == SECRET

    removed = client.post(
        reverse("manage:subscription_delete", args=[VIEWERS, sub.pk]), follow=True
    )
    assert b"Notification to 127.0.0.1:" in removed.content and b"removed." in removed.content
    assert not Subscription.objects.exists()

    for response in (added, tested, failed, removed):
        assert SECRET.encode() not in response.content
    assert SECRET not in edit and SECRET not in page
    trail = AuditEvent.objects.filter(action__startswith="notification.").order_by("id")
    assert list(trail.values_list("action", "outcome")) == [
        ("notification.subscribe", "succeeded"),
        ("notification.test", "succeeded"),
        ("notification.test", "failed"),
        ("notification.update", "succeeded"),
        ("notification.unsubscribe", "succeeded"),
    ]
    assert all(e.actor_username == "team_admin" for e in trail)
    assert SECRET not in json.dumps([[e.payload, e.message] for e in trail])


def test_the_email_test_button_sends_to_the_addresses(world: World, client_as: ClientAs) -> None:
    client = client_as("superuser")
    client.post(reverse("manage:subscription_create", args=[VIEWERS]), email_form())
    sub = Subscription.objects.get()
    response = client.post(reverse("manage:subscription_test", args=[VIEWERS, sub.pk]), follow=True)
    assert b"Test notification sent to a@example.org, b@example.org." in response.content
    [email] = mail.outbox
    assert email.to == ["a@example.org", "b@example.org"]
    assert email.subject == "[Airflow panel] Test notification"


def test_bad_input_is_shown_on_the_form_and_audited(world: World, client_as: ClientAs) -> None:
    client = client_as("team_admin")
    response = client.post(
        reverse("manage:subscription_create", args=[VIEWERS]),
        email_form(channel="webhook", url="ftp://files.example.org/x"),
    )
    assert response.status_code == 200
    assert b"Enter the webhook address starting with https://." in response.content
    response = client.post(
        reverse("manage:subscription_create", args=[VIEWERS]),
        email_form(channel="webhook", url="http://hooks.example.org/x", secret=SECRET),
    )
    assert b"plain http://" in response.content and SECRET.encode() not in response.content
    assert not Subscription.objects.exists()
    outcomes = AuditEvent.objects.filter(action="notification.subscribe")
    assert list(outcomes.values_list("outcome", flat=True)) == ["failed", "failed"]


def test_the_profile_choice_lists_only_the_teams_airflows(
    world: World, client_as: ClientAs
) -> None:
    page = client_as("team_admin").get(reverse("manage:subscription_create", args=[VIEWERS]))
    html = page.content.decode()
    assert "Production" in html and "Staging" not in html


@pytest.mark.parametrize("editing", [False, True])
def test_the_form_labels_every_field_and_carries_a_csrf_token(
    world: World, client_as: ClientAs, editing: bool
) -> None:
    args: list[Any] = [VIEWERS, existing(world).pk] if editing else [VIEWERS]
    name = "manage:subscription_edit" if editing else "manage:subscription_create"
    parser = FormControls()
    parser.feed(client_as("team_admin").get(reverse(name, args=args)).content.decode())
    assert parser.forms >= 1 and parser.csrf_tokens == parser.forms
    assert parser.controls and all(c in parser.labelled for c in parser.controls)


def test_the_team_page_shows_the_latest_notifications_and_how_they_went(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Any
) -> None:
    sub = existing(world)  # https://hooks.example.org: never reached in this test
    client = client_as("team_admin")
    page = reverse("manage:team", args=[VIEWERS])
    client.get(page)
    with CaptureQueriesContext(connection) as few:
        client.get(page)
    for n in range(12):
        run = RunFactory.create(profile=world.prod, dag_id="finance_daily", state="failed")
        Delivery.objects.create(
            subscription=sub,
            run=run,
            event="run.failed",
            run_ended_at=str(n),
            status="failed",
            attempts=5,
            last_error=f"The webhook at hooks.example.org answered 503 ({n})",
        )
    with django_assert_max_num_queries(len(few)):
        html = client.get(page).content.decode()
    assert "Latest notifications" in html
    assert html.count("answered 503") == 10  # the latest ten
    assert "answered 503 (11)" in html and "answered 503 (1)" not in html
