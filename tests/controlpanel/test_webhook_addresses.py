"""Webhooks reach public addresses only: refused when saved, and again when sent."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from controlpanel.models import AuditEvent, Delivery
from controlpanel.services import notification_channels as channels
from controlpanel.services import notifications, webhook_addresses
from tests.controlpanel.notify_helpers import WebhookReceiver
from tests.controlpanel.test_notifications import boss, ended, finished_run, hook
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)  # sending follows the commit


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/x", "loopback"),
        ("https://localhost:8443/x", "localhost (127.0.0.1) is a loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://[fd00:ec2::254]/latest", "cloud metadata"),
        ("https://169.254.10.1/x", "link-local"),
        ("https://[fe80::1]/x", "link-local"),
        ("https://10.1.2.3/x", "private network"),
        ("https://172.16.0.1/x", "private network"),
        ("https://192.168.1.10/x", "private network"),
        ("https://[fd12:3456::1]/x", "private network"),
        ("https://224.0.0.251/x", "multicast"),
        ("https://0.0.0.0/x", "unspecified"),
        ("https://[::]/x", "unspecified"),
        ("https://100.64.0.1/x", "non-public"),
    ],
)
def test_non_public_addresses_are_refused_in_words(url: str, kind: str) -> None:
    problem = channels.webhook_url_problem(url)
    assert kind in problem and "NOTIFY_WEBHOOK_ALLOWED_NETWORKS" in problem


def test_a_public_address_is_accepted() -> None:
    assert channels.webhook_url_problem("https://93.184.216.34/hook") == ""


def test_allowed_networks_let_an_address_through(settings: Any) -> None:
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert channels.webhook_url_problem("https://10.1.2.3/hook") == ""
    assert "cloud metadata" in channels.webhook_url_problem("https://169.254.169.254/")


def test_every_address_a_name_resolves_to_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def two_addresses(host: str, port: int, **_: Any) -> list[Any]:
        stream = socket.SOCK_STREAM
        return [
            (socket.AF_INET, stream, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, stream, 6, "", ("10.9.8.7", port)),
        ]

    monkeypatch.setattr(webhook_addresses.socket, "getaddrinfo", two_addresses)
    problem = channels.webhook_url_problem("https://hooks.example.org/x")
    assert "hooks.example.org (10.9.8.7) is a private network address" in problem


def test_subscribing_to_a_metadata_address_is_refused_and_audited(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        hook(world, "https://169.254.169.254/latest/meta-data/")
    assert "cloud metadata address" in refused.value.message_dict["url"][0]
    event = AuditEvent.objects.get(action="notification.subscribe")
    assert event.outcome == "failed" and "cloud metadata address" in event.message


def test_a_destination_no_longer_allowed_fails_at_send_without_retry(
    world: World, send_in_process: None, receiver: WebhookReceiver, settings: Any
) -> None:
    hook(world, receiver.url)  # saved while loopback was allowed
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = []
    ended(finished_run(world))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert receiver.requests == []
    event = AuditEvent.objects.get(action="notification.send")
    assert event.outcome == "failed" and "is a loopback address" in event.message


def test_the_connected_address_is_checked_when_dns_changes_after_the_check(
    world: World,
    send_in_process: None,
    receiver: WebhookReceiver,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = receiver.server.server_address[1]
    settings.NOTIFY_WEBHOOK_ALLOW_HTTP = True
    sub = hook(world, receiver.url)
    sub.url = f"http://localhost:{port}/hook"  # "public" when checked, loopback when sent
    sub.save()
    settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS = []
    monkeypatch.setattr(channels, "host_problem", lambda host, port: "")
    result = notifications.send_test(boss(world), sub)
    assert not result.ok and not result.retryable
    assert "localhost (127.0.0.1) is a loopback address" in result.error
    assert receiver.requests == []
