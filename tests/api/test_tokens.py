"""API tokens: hashed at rest, revocable, expiring, read-only, audited; the command."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends import locmem
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.audit import Actor
from controlpanel.models import ApiToken, AuditEvent, hash_token
from controlpanel.permissions import ActionDenied
from controlpanel.services import tokens
from tests.api.conftest import ApiWorld, Caller
from tests.harness.airflow import free_port


def bearer(plaintext: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")


def test_a_token_is_stored_only_as_a_hash_with_a_visible_prefix(api_world: ApiWorld) -> None:
    plaintext = api_world.tokens["viewer"]
    token = ApiToken.objects.get(user=api_world.users["viewer"])
    assert token.token_hash == hash_token(plaintext) and plaintext not in token.token_hash
    assert plaintext.startswith(token.prefix) and len(token.prefix) == 8
    assert bearer(plaintext).get("/api/me/").json()["username"] == "viewer"


def test_a_revoked_token_stops_working_at_once_and_revocation_is_audited(
    api_world: ApiWorld, call: Caller
) -> None:
    plaintext = api_world.tokens["viewer"]
    token = ApiToken.objects.get(user=api_world.users["viewer"])
    assert bearer(plaintext).get("/api/me/").status_code == 200
    response = call("viewer", "DELETE", f"/api/tokens/{token.pk}/", via="token")
    assert response.status_code == 200 and response.json()["revoked_at"]
    refused = bearer(plaintext).get("/api/me/")
    assert refused.status_code == 401
    assert refused.json()["error"] == "authentication_failed"
    event = AuditEvent.objects.get(action="token.revoke")
    assert (event.outcome, event.actor_username, event.token_prefix) == (
        "succeeded",
        "viewer",
        token.prefix,
    )


def test_an_expired_token_is_refused(api_world: ApiWorld) -> None:
    user = api_world.users["operator"]
    token, plaintext = tokens.create_token(Actor(user=user), user, "short", expires_days=1)
    assert bearer(plaintext).get("/api/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(plaintext).get("/api/me/").status_code == 401


def test_a_deactivated_users_token_is_refused(api_world: ApiWorld) -> None:
    user = api_world.users["viewer"]
    user.is_active = False
    user.save()
    assert bearer(api_world.tokens["viewer"]).get("/api/me/").status_code == 401


def test_unknown_and_malformed_tokens_get_401_with_the_error_shape(api_world: ApiWorld) -> None:
    for header in ["Bearer nope", "Bearer", "Bearer a b"]:
        response = Client(HTTP_AUTHORIZATION=header).get("/api/me/")
        assert response.status_code == 401, header
        assert set(response.json()) >= {"error", "message", "detail"}
    anonymous = Client().get("/api/me/")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"].startswith("Bearer")


def test_a_read_only_token_reads_but_cannot_write_and_the_refusal_is_audited(
    api_world: ApiWorld,
) -> None:
    user = api_world.users["superuser"]
    token, plaintext = tokens.create_token(Actor(user=user), user, "reader", read_only=True)
    client = bearer(plaintext)
    assert client.get("/api/teams/").status_code == 200
    response = client.post(
        "/api/teams/", {"name": "Nope", "slug": "nope"}, content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["error"] == "read_only_token"
    assert client.delete(f"/api/tokens/{token.pk}/").status_code == 403
    event = AuditEvent.objects.filter(action="api.write").first()
    assert event is not None and event.outcome == "denied" and event.token_prefix == token.prefix
    assert not AuditEvent.objects.filter(action="team.create").exists()
    assert response.json() == {
        "error": "read_only_token",
        "message": tokens.READ_ONLY_MESSAGE,
        "detail": None,
    }


def test_the_write_check_refuses_only_read_only_tokens_and_records_only_refusals(
    api_world: ApiWorld,
) -> None:
    user = api_world.users["operator"]
    reader, _ = tokens.create_token(Actor(user=user), user, "reader", read_only=True)
    writer, _ = tokens.create_token(Actor(user=user), user, "writer")
    actor = Actor(user=user, source="api", token_prefix=reader.prefix)
    tokens.check_may_write(actor, writer, "POST", "/api/teams/")
    assert not AuditEvent.objects.filter(action="api.write").exists()
    with pytest.raises(ActionDenied) as err:
        tokens.check_may_write(actor, reader, "POST", "/api/teams/")
    assert err.value.code == "read_only_token"
    [event] = AuditEvent.objects.filter(action="api.write")
    assert (event.outcome, event.payload) == ("denied", {"method": "POST", "path": "/api/teams/"})


def test_last_used_at_is_recorded(api_world: ApiWorld) -> None:
    token = ApiToken.objects.get(user=api_world.users["operator"])
    assert token.last_used_at is None
    before = timezone.now()
    bearer(api_world.tokens["operator"]).get("/api/me/")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= before


def test_last_used_at_is_written_at_most_once_a_minute(api_world: ApiWorld) -> None:
    """A busy script's token is not a write per request: one UPDATE a minute at most."""
    client = bearer(api_world.tokens["operator"])
    client.get("/api/me/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/me/")
    assert not [q for q in queries if "UPDATE" in q["sql"] and "apitoken" in q["sql"]]
    token = ApiToken.objects.get(user=api_world.users["operator"])
    a_minute_ago = timezone.now() - timedelta(seconds=61)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=a_minute_ago)
    client.get("/api/me/")
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > a_minute_ago


def test_creating_a_token_shows_it_once_and_is_audited(api_world: ApiWorld, call: Caller) -> None:
    response = call(
        "operator", "POST", "/api/tokens/", {"name": "ci", "expires_days": 7, "read_only": True}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith(body["prefix"]) and body["read_only"] is True
    assert body["expires_at"] and body["username"] == "operator"
    listed = call("operator", "GET", "/api/tokens/").json()["results"]
    assert all("token" not in row for row in listed)
    assert {row["name"] for row in listed} == {"operator key", "ci"}
    event = AuditEvent.objects.filter(action="token.create").order_by("-id").first()
    assert event is not None and event.outcome == "succeeded"
    assert event.actor_username == "operator" and event.payload["read_only"] is True
    assert body["token"] not in str(event.payload)


def test_only_a_superuser_makes_tokens_for_someone_else(api_world: ApiWorld, call: Caller) -> None:
    refused = call("operator", "POST", "/api/tokens/", {"name": "x", "username": "viewer"})
    assert refused.status_code == 403
    assert AuditEvent.objects.filter(action="token.create", outcome="denied").exists()
    made = call("superuser", "POST", "/api/tokens/", {"name": "x", "username": "viewer"})
    assert made.status_code == 201 and made.json()["username"] == "viewer"
    assert bearer(made.json()["token"]).get("/api/me/").json()["username"] == "viewer"


def test_service_refuses_managing_someone_elses_token(api_world: ApiWorld) -> None:
    token = ApiToken.objects.get(user=api_world.users["viewer"])
    with pytest.raises(ActionDenied):
        tokens.revoke_token(Actor(user=api_world.users["operator"]), token)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_create_api_token_command_prints_only_the_token(api_world: ApiWorld) -> None:
    out = io.StringIO()
    call_command("create_api_token", "viewer", "--expires-days", "5", "--read-only", stdout=out)
    printed = out.getvalue().strip()
    assert "\n" not in printed and " " not in printed
    token = ApiToken.objects.get(token_hash=hash_token(printed))
    assert token.user == api_world.users["viewer"] and token.read_only is True
    assert token.expires_at is not None
    assert bearer(printed).get("/api/me/").json()["username"] == "viewer"
    event = AuditEvent.objects.filter(action="token.create").order_by("-id").first()
    assert event is not None and (event.source, event.actor_username) == ("cli", "manage.py")


def test_create_api_token_command_names_an_unknown_user(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_token", "nobody", stdout=io.StringIO())


def test_throttling_is_per_token_and_answers_429(api_world: ApiWorld, settings: Any) -> None:
    settings.API_THROTTLE_RATE = "3/minute"
    viewer, operator = bearer(api_world.tokens["viewer"]), bearer(api_world.tokens["operator"])
    assert [viewer.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    limited = viewer.get("/api/me/")
    assert limited.status_code == 429 and limited.json()["error"] == "throttled"
    assert operator.get("/api/me/").status_code == 200


def test_the_throttle_budget_is_shared_by_every_web_process(
    api_world: ApiWorld, settings: Any
) -> None:
    settings.API_THROTTLE_RATE = "2/minute"
    viewer = bearer(api_world.tokens["viewer"])
    assert [viewer.get("/api/me/").status_code for _ in range(2)] == [200, 200]
    # What a second gunicorn worker sees: fresh process memory, the same Redis.
    locmem._caches.clear()  # type: ignore[attr-defined]  # nothing in process memory
    del caches["throttle"]  # and a new connection to the same Redis
    assert bearer(api_world.tokens["viewer"]).get("/api/me/").status_code == 429


def test_the_api_stays_up_when_the_throttle_counters_cannot_be_reached(
    api_world: ApiWorld, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.API_THROTTLE_RATE = "1/minute"
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            **settings.CACHES["throttle"],
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    viewer = bearer(api_world.tokens["viewer"])
    assert [viewer.get("/api/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert "API throttling is off while Redis cannot be reached" in caplog.text
