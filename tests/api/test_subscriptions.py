"""``/api/teams/{slug}/subscriptions/``: the signing secret goes in and never comes out."""

from __future__ import annotations

import json
from typing import Any

from controlpanel.models import AuditEvent, Subscription
from tests.api.conftest import ApiWorld, Caller

SUBSCRIPTIONS = "/api/teams/finance-viewers/subscriptions/"
SECRET = "api-hook-secret-9"


def test_a_webhook_is_created_changed_and_listed_without_its_secret(
    api_world: ApiWorld, call: Caller
) -> None:
    created = call(
        "team_admin",
        "POST",
        SUBSCRIPTIONS,
        {
            "channel": "webhook",
            "url": "https://hooks.example.org/panel",
            "secret": SECRET,
            "on_success": True,
            "profile": "prod",
            "dag_patterns": ["finance_*"],
        },
        via="token",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["has_secret"] is True and "secret" not in body
    assert (body["profile"], body["dag_patterns"], body["on_failure"]) == (
        "prod",
        ["finance_*"],
        True,
    )
    sub = Subscription.objects.get(pk=body["id"])
    assert sub.reveal_secret() == SECRET

    path = f"{SUBSCRIPTIONS}{sub.pk}/"
    changed = call("team_admin", "PATCH", path, {"is_active": False}).json()
    assert changed["is_active"] is False and changed["has_secret"] is True
    assert Subscription.objects.get(pk=sub.pk).reveal_secret() == SECRET
    removed = call("team_admin", "PATCH", path, {"secret": ""}).json()
    assert removed["has_secret"] is False

    listed: Any = call("superuser", "GET", SUBSCRIPTIONS).json()
    assert listed["count"] == 2  # the world's email subscription and this one
    everything = json.dumps([listed, body, changed])
    trail = json.dumps([[e.payload, e.message] for e in AuditEvent.objects.all()])
    assert SECRET not in everything and SECRET not in trail


def test_bad_fields_get_400_in_plain_words(api_world: ApiWorld, call: Caller) -> None:
    response = call(
        "team_admin", "POST", SUBSCRIPTIONS, {"channel": "webhook", "url": "file:///etc/passwd"}
    )
    assert response.status_code == 400
    assert "Enter the webhook address starting with https://." in json.dumps(response.json())
    event = AuditEvent.objects.filter(action="notification.subscribe").get()
    assert event.outcome == "failed"


def test_the_api_refuses_a_private_address_with_400_in_words(
    api_world: ApiWorld, call: Caller
) -> None:
    response = call(
        "team_admin",
        "POST",
        SUBSCRIPTIONS,
        {"channel": "webhook", "url": "https://192.168.0.10/hook"},
    )
    assert response.status_code == 400
    assert "is a private network address" in json.dumps(response.json())


def test_a_member_who_is_not_team_admin_is_refused_and_audited(
    api_world: ApiWorld, call: Caller
) -> None:
    response = call("viewer", "POST", SUBSCRIPTIONS, {"channel": "email", "all_members": True})
    assert response.status_code == 403
    assert AuditEvent.objects.get(action="notification.subscribe").outcome == "denied"
