"""Profile services: who may change profiles, secrets at rest, the audit trail, the test."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from django.core.exceptions import ValidationError
from django.db import connection

from controlpanel.audit import Actor
from controlpanel.models import PLAIN_HTTP_WARNING, AirflowProfile, AuditEvent
from controlpanel.permissions import ActionDenied
from controlpanel.services import profiles as services
from controlpanel.services.profiles import (
    CANNOT_TRIGGER,
    CREDENTIALS_REJECTED,
    SCHEDULER_UNHEALTHY,
    ConnectionReport,
)
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.profiles import mock_airflow
from tests.world import PERSONAS, World

SECRET = "s3cret-airflow-Pa55word"
NEW_SECRET = "an0ther-Secret-Value"
NON_SUPERUSERS = [p for p in PERSONAS if p != "superuser"]


def actor(world: World, persona: str = "superuser") -> Actor:
    """The actor of one persona, as a web request would make it."""
    return Actor(user=world.users[persona], ip_address="127.0.0.1")


def events(action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def create(world: World, **overrides: Any) -> AirflowProfile:
    """A profile made through the service by the superuser."""
    fields: dict[str, Any] = {
        "name": "Analytics",
        "slug": "analytics",
        "base_url": "https://analytics.example.invalid",
        "auth_type": "basic",
        "username": "panel",
        "secret": SECRET,
    }
    return services.create_profile(actor(world), **{**fields, **overrides})


def stored_secret_column(profile: AirflowProfile) -> str:
    """The raw secret column, read with SQL past the model."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_encrypted FROM controlpanel_airflowprofile WHERE id = %s", [profile.pk]
        )
        return str(cursor.fetchone()[0])


# --- secrets ---------------------------------------------------------------------------------


def test_the_database_row_never_holds_the_plaintext_secret(world: World) -> None:
    profile = create(world)
    column = stored_secret_column(profile)
    assert column and SECRET not in column
    assert AirflowProfile.objects.get(pk=profile.pk).reveal_secret() == SECRET


@pytest.mark.parametrize("new_secret", [None, ""])
def test_saving_without_a_new_secret_keeps_the_stored_one(
    world: World, new_secret: str | None
) -> None:
    profile = create(world)
    column = stored_secret_column(profile)
    services.update_profile(actor(world), profile, new_secret=new_secret, name="Renamed")
    assert stored_secret_column(profile) == column
    fresh = AirflowProfile.objects.get(pk=profile.pk)
    assert fresh.name == "Renamed" and fresh.reveal_secret() == SECRET
    assert events("profile.update")[-1].payload == {"name": "Renamed", "secret_changed": False}


def test_a_new_secret_replaces_the_stored_one_and_is_never_audited(world: World) -> None:
    profile = create(world)
    services.update_profile(actor(world), profile, new_secret=NEW_SECRET)
    assert AirflowProfile.objects.get(pk=profile.pk).reveal_secret() == NEW_SECRET
    assert NEW_SECRET not in stored_secret_column(profile)
    assert events("profile.update")[-1].payload == {"secret_changed": True}
    trail = json.dumps([[e.payload, e.message] for e in AuditEvent.objects.all()])
    assert SECRET not in trail and NEW_SECRET not in trail


# --- create, update, delete and their audit events --------------------------------------------


def test_create_records_every_field_but_the_secret(world: World) -> None:
    profile = create(world, timeout_seconds=12)
    (event,) = events("profile.create")
    assert event.outcome == "succeeded"
    assert event.actor == world.users["superuser"] and event.actor_username == "superuser"
    assert event.profile_slug == "analytics" and event.ip_address == "127.0.0.1"
    assert event.payload == {
        "name": "Analytics",
        "slug": "analytics",
        "base_url": "https://analytics.example.invalid",
        "auth_type": "basic",
        "username": "panel",
        "verify_tls": True,
        "ca_bundle": "",
        "timeout_seconds": 12.0,
        "allow_insecure_http": False,
        "api_version": "auto",
        "is_active": True,
        "track_external_runs": True,
        "secret_changed": True,
    }
    assert profile.pk is not None


def test_update_records_only_the_changed_fields_and_forgets_the_client(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    forgotten: list[int] = []
    monkeypatch.setattr(services, "forget_client", forgotten.append)
    profile = create(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_profile(
            actor(world), profile, base_url="https://new.example.invalid", is_active=False
        )
    assert forgotten == [profile.pk]
    assert events("profile.update")[-1].payload == {
        "base_url": "https://new.example.invalid",
        "is_active": False,
        "secret_changed": False,
    }


def test_update_rejects_unknown_fields(world: World) -> None:
    with pytest.raises(TypeError, match="secret_encrypted"):
        services.update_profile(actor(world), world.prod, secret_encrypted="x")


def test_delete_removes_the_profile_records_it_and_forgets_the_client(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    forgotten: list[int] = []
    monkeypatch.setattr(services, "forget_client", forgotten.append)
    profile_id = world.staging.pk
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_profile(actor(world), world.staging)
    assert not AirflowProfile.objects.filter(pk=profile_id).exists()
    assert forgotten == [profile_id]
    (event,) = events("profile.delete")
    assert (event.outcome, event.profile_slug) == ("succeeded", "staging")
    assert event.payload == {
        "name": "Staging",
        "slug": "staging",
        "base_url": "https://staging.example.invalid",
    }


# --- plain http --------------------------------------------------------------------------------


def test_basic_auth_over_plain_http_is_refused_and_the_refusal_is_audited(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        create(world, base_url="http://analytics.internal:8080")
    assert "allow_insecure_http" in refused.value.message_dict
    assert not AirflowProfile.objects.filter(slug="analytics").exists()
    (event,) = events("profile.create")
    assert event.outcome == "failed"
    assert "unencrypted" in event.message
    assert event.payload["base_url"] == "http://analytics.internal:8080"
    assert SECRET not in json.dumps(event.payload)


def test_plain_http_is_saved_when_allowed_and_then_carries_the_warning(world: World) -> None:
    profile = create(world, base_url="http://analytics.internal:8080", allow_insecure_http=True)
    assert profile.security_warning == PLAIN_HTTP_WARNING


def test_a_refused_update_leaves_profile_and_object_unchanged(world: World) -> None:
    profile = create(world)
    with pytest.raises(ValidationError):
        services.update_profile(
            actor(world), profile, base_url="http://plain.example.invalid", new_secret=NEW_SECRET
        )
    assert profile.base_url == "https://analytics.example.invalid"
    assert profile.reveal_secret() == SECRET
    assert AirflowProfile.objects.get(pk=profile.pk).base_url == profile.base_url
    event = events("profile.update")[-1]
    assert event.outcome == "failed"
    assert event.payload == {"base_url": "http://plain.example.invalid", "secret_changed": True}


def test_a_taken_slug_is_refused(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        create(world, slug="prod")
    assert "slug" in refused.value.message_dict
    assert events("profile.create")[-1].outcome == "failed"


# --- denied --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", NON_SUPERUSERS)
def test_only_superusers_manage_profiles_and_every_denial_is_audited(
    world: World, persona: str
) -> None:
    who = actor(world, persona)
    attempts = [
        ("profile.create", lambda: services.create_profile(who, **profile_fields())),
        ("profile.update", lambda: services.update_profile(who, world.prod, name="Mine")),
        ("profile.delete", lambda: services.delete_profile(who, world.prod)),
        ("profile.test", lambda: services.test_profile(who, world.prod)),
    ]
    for action, attempt in attempts:
        with pytest.raises(ActionDenied):
            attempt()
        (event,) = events(action)
        assert event.outcome == "denied"
        assert event.actor_username == ("" if persona == "anonymous" else persona)
    prod = AirflowProfile.objects.get(pk=world.prod.pk)
    assert prod.name == "Production"
    assert not AirflowProfile.objects.filter(slug="mine").exists()


def profile_fields() -> dict[str, Any]:
    """Valid fields of a new profile."""
    return {
        "name": "Mine",
        "slug": "mine",
        "base_url": "https://mine.example.invalid",
        "auth_type": "basic",
        "username": "me",
        "secret": SECRET,
    }


# --- the connection report -------------------------------------------------------------------


def test_report_summary_is_plain_words() -> None:
    report = ConnectionReport(
        ok=True,
        airflow_version="2.11.0",
        api_version="v1",
        scheduler_healthy=True,
        credentials_accepted=True,
        dag_count=5,
        can_trigger=True,
    )
    assert report.summary() == (
        "Connection test: Airflow 2.11.0 (REST API v1), scheduler healthy, credentials "
        "accepted, 5 DAGs, can trigger runs."
    )
    failed = ConnectionReport(error="Airflow at h refused the connection; is it running?")
    assert failed.summary() == (
        "Connection test failed: Airflow at h refused the connection; is it running?"
    )


@responses.activate
def test_an_unhealthy_scheduler_is_a_warning_not_a_failure(world: World) -> None:
    mock_airflow(responses.mock, "https://prod.example.invalid", scheduler="unhealthy")
    report = services.test_profile(actor(world), world.prod)
    assert report.ok and report.scheduler_healthy is False
    assert report.warnings == [SCHEDULER_UNHEALTHY]
    assert "scheduler unhealthy" in report.summary()


@responses.activate
def test_a_test_is_audited_with_the_report_and_never_the_secret(world: World) -> None:
    mock_airflow(responses.mock, "https://prod.example.invalid")
    report = services.test_profile(actor(world), world.prod)
    assert report == ConnectionReport(
        ok=True,
        airflow_version="2.11.0",
        api_version="v1",
        scheduler_healthy=True,
        credentials_accepted=True,
        dag_count=2,
        can_trigger=True,
    )
    (event,) = events("profile.test")
    assert (event.outcome, event.profile_slug) == ("succeeded", "prod")
    assert event.payload["summary"] == report.summary() == event.message
    assert event.payload["dag_count"] == 2
    assert "airflow-password" not in json.dumps(event.payload)


@responses.activate
def test_a_server_error_becomes_a_failed_report_not_an_exception(world: World) -> None:
    api = "https://prod.example.invalid/api"
    responses.add(responses.GET, f"{api}/v2/version", body="<html>Oops</html>", status=500)
    responses.add(responses.GET, f"{api}/v1/version", body="<html>Oops</html>", status=500)
    report = services.test_profile(actor(world), world.prod)
    assert not report.ok
    assert "internal error" in report.error
    assert events("profile.test")[-1].outcome == "failed"


# --- against the real Airflow ------------------------------------------------------------------


def harness_profile(world: World, airflow: AirflowInstance, user: str, password: str) -> Any:
    """A plain-http profile (loopback only) for one of the harness users."""
    return create(
        world,
        slug=f"harness-{user}",
        name=f"Harness {user}",
        base_url=airflow.url,
        username=user,
        secret=password,
        allow_insecure_http=True,
    )


@pytest.mark.airflow
@pytest.mark.parametrize("user", ["admin", "operator"])
def test_real_airflow_users_who_may_trigger(
    world: World, airflow_any: AirflowInstance, user: str
) -> None:
    profile = harness_profile(world, airflow_any, user, airflow_any.password(user))
    report = services.test_profile(actor(world), profile)
    assert report.ok, report
    assert report.airflow_version == airflow_any.version
    assert report.api_version == airflow_any.api_version
    assert report.credentials_accepted is True and report.can_trigger is True
    assert report.dag_count is not None and report.dag_count >= 5
    assert report.warnings == [PLAIN_HTTP_WARNING]
    assert events("profile.test")[-1].outcome == "succeeded"


@pytest.mark.airflow
def test_the_detected_api_is_stored_and_audited(world: World, airflow_any: AirflowInstance) -> None:
    profile = harness_profile(world, airflow_any, "admin", airflow_any.password("admin"))
    assert profile.api_version == "auto"
    report = services.test_profile(actor(world), profile)
    assert report.ok and report.api_version == airflow_any.api_version
    assert AirflowProfile.objects.get(pk=profile.pk).api_version == airflow_any.api_version
    event = events("profile.test")[-1]
    assert event.payload["api_version_stored"] == {"from": "auto", "to": airflow_any.api_version}
    assert f"(REST API {airflow_any.api_version})" in event.message
    # Testing again changes nothing and says so by not naming a change.
    services.test_profile(actor(world), AirflowProfile.objects.get(pk=profile.pk))
    assert "api_version_stored" not in events("profile.test")[-1].payload


@pytest.mark.airflow
def test_a_wrong_explicit_api_is_corrected_with_a_warning(
    world: World, airflow_any: AirflowInstance
) -> None:
    wrong = "v1" if airflow_any.api_version == "v2" else "v2"
    profile = harness_profile(world, airflow_any, "admin", airflow_any.password("admin"))
    services.update_profile(actor(world), profile, api_version=wrong)
    report = services.test_profile(actor(world), profile)
    assert report.ok, report
    assert any("but the server answers as" in w for w in report.warnings)
    assert AirflowProfile.objects.get(pk=profile.pk).api_version == airflow_any.api_version


@pytest.mark.airflow
def test_real_airflow_viewer_cannot_trigger(world: World, airflow_any: AirflowInstance) -> None:
    profile = harness_profile(world, airflow_any, "viewer", airflow_any.password("viewer"))
    report = services.test_profile(actor(world), profile)
    assert report.ok and report.credentials_accepted is True
    assert report.can_trigger is False
    assert CANNOT_TRIGGER in report.warnings
    assert "cannot trigger runs" in report.summary()


@pytest.mark.airflow
def test_real_airflow_wrong_password_is_reported(
    world: World, airflow_any: AirflowInstance
) -> None:
    profile = harness_profile(world, airflow_any, "admin", "not-the-password")
    report = services.test_profile(actor(world), profile)
    assert not report.ok
    assert report.airflow_version == airflow_any.version  # needs no credentials
    assert report.credentials_accepted is False and report.can_trigger is None
    assert CREDENTIALS_REJECTED in report.warnings
    assert "check the credentials or the Airflow role" in CREDENTIALS_REJECTED
    assert events("profile.test")[-1].outcome == "failed"


def test_nothing_listening_gives_a_plain_error(world: World) -> None:
    port = free_port()
    profile = create(
        world, base_url=f"http://127.0.0.1:{port}", allow_insecure_http=True, timeout_seconds=2
    )
    report = services.test_profile(actor(world), profile)
    assert not report.ok
    assert report.error == f"Airflow at 127.0.0.1:{port} refused the connection; is it running?"
    assert f"Airflow is unreachable: {report.error}" in report.warnings
    assert report.airflow_version is None and report.credentials_accepted is None
    assert events("profile.test")[-1].outcome == "failed"


# --- the catalog is read again when the connection changes ----------------------------------


def queues_a_catalog_sync(callbacks: list[Any]) -> bool:
    """True when one of the on-commit callbacks queues a catalog sync."""
    return any("sync_catalog_after_commit" in getattr(cb, "__qualname__", "") for cb in callbacks)


@pytest.mark.django_db
def test_a_new_active_profile_has_its_catalog_synced_after_commit(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        create(world)
    assert queues_a_catalog_sync(callbacks)
    with django_capture_on_commit_callbacks() as callbacks:
        create(world, slug="parked", name="Parked", is_active=False)
    assert not queues_a_catalog_sync(callbacks)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ValidationError):
        create(world, slug="bad", name="Bad", base_url="ftp://nowhere")
    assert not callbacks  # refused: nothing happens after a commit that never comes


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "syncs"),
    [
        ({"name": "Renamed"}, False),
        ({"timeout_seconds": 12}, False),
        ({"base_url": "https://elsewhere.example.invalid"}, True),
        ({"username": "someone-else"}, True),
        ({"new_secret": NEW_SECRET}, True),
        ({"new_secret": ""}, False),
    ],
)
def test_a_connection_change_has_the_catalog_synced_again(
    world: World, django_capture_on_commit_callbacks: Any, change: dict[str, Any], syncs: bool
) -> None:
    profile = create(world)
    with django_capture_on_commit_callbacks() as callbacks:
        services.update_profile(actor(world), profile, **change)
    assert queues_a_catalog_sync(callbacks) is syncs
