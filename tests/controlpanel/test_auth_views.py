"""Logging in and out and changing one's password: the pages, CSRF, and their audit events."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from axes.exceptions import AxesBackendRequestParameterRequired
from django.contrib.auth import authenticate
from django.test import Client

from controlpanel.models import AuditEvent
from tests.factories import PASSWORD
from tests.world import World

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db

CLIENT_IP = "203.0.113.7"
NEW_PASSWORD = "a-much-Better-passphrase-2026"


def only_event(action: str) -> AuditEvent:
    """The single event of ``action`` (fails if there are none or several)."""
    return AuditEvent.objects.get(action=action)


def event_text(event: AuditEvent) -> str:
    """Everything the trail keeps of an event, as one string to search for leaks."""
    return json.dumps(event.content()) + event.prev_hash + event.hash


def log_in(client: Client, username: str, password: str) -> _MonkeyPatchedWSGIResponse:
    """POST the login form as a browser would."""
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=CLIENT_IP
    )


# --- log in ---------------------------------------------------------------------------------


def test_login_page_labels_every_field_and_carries_a_csrf_token(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "csrfmiddlewaretoken" in html
    visible_inputs = re.findall(r'<input (?![^>]*type="hidden")[^>]*id="([^"]+)"', html)
    assert set(visible_inputs) == {"id_username", "id_password"}
    for input_id in visible_inputs:
        assert f'<label for="{input_id}">' in html


def test_a_good_login_lands_on_home_and_is_audited(world: World, client: Client) -> None:
    response = log_in(client, "viewer", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    event = only_event("auth.login")
    assert event.outcome == AuditEvent.Outcome.SUCCEEDED
    assert event.actor == world.users["viewer"]
    assert event.actor_username == "viewer"
    assert event.ip_address == CLIENT_IP
    assert event.source == AuditEvent.Source.WEB
    assert PASSWORD not in event_text(event)


def test_login_follows_next_within_the_panel(world: World, client: Client) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": "viewer", "password": PASSWORD, "next": "/healthz"},
    )
    assert response["Location"] == "/healthz"


def test_a_wrong_password_says_so_and_is_audited_without_the_password(
    world: World, client: Client
) -> None:
    response = log_in(client, "viewer", "wrong-guess-123")
    assert response.status_code == 200
    assert "That username and password do not match an account." in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = only_event("auth.login")
    assert event.outcome == AuditEvent.Outcome.FAILED
    assert event.actor is None
    assert event.actor_username == "viewer"
    assert event.ip_address == CLIENT_IP
    text = event_text(event)
    assert "wrong-guess-123" not in text
    assert "credentials" not in text and "*****" not in text


def test_an_unknown_username_is_recorded_as_typed(client: Client) -> None:
    log_in(client, "nobody-here", "whatever-123")
    assert only_event("auth.login").actor_username == "nobody-here"


def test_an_absurdly_long_username_is_cut_not_crashed_on(client: Client) -> None:
    response = log_in(client, "x" * 5000, "whatever-123")
    assert response.status_code == 200
    assert only_event("auth.login").actor_username == "x" * 150


def test_a_password_check_without_a_request_is_refused_so_none_goes_uncounted(
    world: World,
) -> None:
    """The lockout counts failures per request; a request-less check could guess for ever."""
    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(None, username="viewer", password=PASSWORD)


def test_a_disabled_account_cannot_log_in(world: World, client: Client) -> None:
    user = world.users["viewer"]
    user.is_active = False
    user.save()
    response = log_in(client, "viewer", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert only_event("auth.login").outcome == AuditEvent.Outcome.FAILED


def test_the_admin_login_page_is_audited_too(world: World, client: Client) -> None:
    client.post(
        "/admin/login/?next=/admin/",
        {"username": "superuser", "password": PASSWORD, "next": "/admin/"},
    )
    assert only_event("auth.login").actor == world.users["superuser"]


def test_login_enforces_csrf(world: World) -> None:
    browser = Client(enforce_csrf_checks=True)
    forged = browser.post("/accounts/login/", {"username": "viewer", "password": PASSWORD})
    assert forged.status_code == 403
    assert "_auth_user_id" not in browser.session
    assert not AuditEvent.objects.filter(action="auth.login").exists()

    browser.get("/accounts/login/")  # sets the CSRF cookie, as a real visit would
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/accounts/login/",
        {"username": "viewer", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


# --- log out ----------------------------------------------------------------------------------


def test_logout_is_post_only(client_as: Callable[[str], Client]) -> None:
    client = client_as("viewer")
    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    assert not AuditEvent.objects.filter(action="auth.logout").exists()


def test_logout_ends_the_session_and_is_audited(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("operator")
    response = client.post("/accounts/logout/", REMOTE_ADDR=CLIENT_IP)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session
    event = only_event("auth.logout")
    assert event.actor == world.users["operator"]
    assert event.ip_address == CLIENT_IP
    assert event.outcome == AuditEvent.Outcome.SUCCEEDED


def test_logout_when_not_logged_in_records_nothing(client: Client) -> None:
    assert client.post("/accounts/logout/").status_code == 302
    assert not AuditEvent.objects.filter(action="auth.logout").exists()


def test_logout_enforces_csrf(world: World) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.users["viewer"])
    assert browser.post("/accounts/logout/").status_code == 403
    assert "_auth_user_id" in browser.session


# --- the header -------------------------------------------------------------------------------


def test_header_offers_log_in_to_visitors(client: Client) -> None:
    # "/" sends visitors to the login page (the catalog needs a login); its header says it.
    assert client.get("/")["Location"] == "/accounts/login/?next=/"
    html = client.get("/accounts/login/").content.decode()
    assert '<a href="/accounts/login/">Log in</a>' in html
    assert "Log out" not in html


def test_header_shows_the_user_and_a_logout_form(client_as: Callable[[str], Client]) -> None:
    html = client_as("viewer").get("/").content.decode()
    assert "<span>viewer</span>" in html
    form = re.search(r'<form method="post" action="/accounts/logout/".*?</form>', html, re.S)
    assert form is not None
    assert "csrfmiddlewaretoken" in form.group(0) and "Log out" in form.group(0)
    assert 'href="/accounts/password_change/"' in html


# --- change password --------------------------------------------------------------------------


def test_password_change_needs_a_login(client: Client) -> None:
    response = client.get("/accounts/password_change/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/password_change/"


def test_password_change_page_labels_every_field(client_as: Callable[[str], Client]) -> None:
    html = client_as("viewer").get("/accounts/password_change/").content.decode()
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'<label for="id_{name}">' in html


def test_password_change_works_and_is_audited(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("viewer")
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR=CLIENT_IP,
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_change/done/"
    assert "Password changed" in client.get(response["Location"]).content.decode()
    user = world.users["viewer"]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # Still logged in here: the session was moved to the new password.
    assert "<span>viewer</span>" in client.get("/").content.decode()
    event = only_event("auth.password_change")
    assert (event.actor, event.outcome, event.ip_address) == (user, "succeeded", CLIENT_IP)
    assert NEW_PASSWORD not in event_text(event) and PASSWORD not in event_text(event)


def test_a_wrong_current_password_is_refused_and_audited(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("viewer")
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "guess-123", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    world.users["viewer"].refresh_from_db()
    assert world.users["viewer"].check_password(PASSWORD)
    event = only_event("auth.password_change")
    assert event.outcome == AuditEvent.Outcome.FAILED
    assert "guess-123" not in event_text(event)


def test_mismatched_new_passwords_are_refused_but_not_audited(
    client_as: Callable[[str], Client],
) -> None:
    response = client_as("viewer").post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "typo"},
    )
    assert response.status_code == 200
    assert "The two password fields didn" in response.content.decode()
    assert not AuditEvent.objects.filter(action="auth.password_change").exists()
