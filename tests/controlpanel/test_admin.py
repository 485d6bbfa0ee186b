"""The Django admin: read-only audit trail and catalog, write-only secrets, audited edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from controlpanel.audit import Actor, record_event, verify_chain
from controlpanel.models import AirflowProfile, AuditEvent, Dag, DagGrant, TeamMembership
from tests.factories import RunFactory
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db

STORED_SECRET = "airflow-password"  # what ProfileFactory stores for every world profile


@pytest.fixture
def admin_client(client_as: Callable[[str], Client]) -> Client:
    """The superuser's browser."""
    return client_as("superuser")


@pytest.fixture
def event(world: World) -> AuditEvent:
    """One audit event to try to tamper with."""
    return record_event(
        Actor(user=world.users["operator"], ip_address="192.0.2.1"),
        "dag.trigger",
        outcome=AuditEvent.Outcome.SUCCEEDED,
        profile="prod",
        dag_id="finance_daily",
    )


def profile_form(profile: AirflowProfile, **changes: str) -> dict[str, str]:
    """The admin form's fields for ``profile`` as a browser would post them."""
    data = {
        "name": profile.name,
        "slug": profile.slug,
        "base_url": profile.base_url,
        "auth_type": profile.auth_type,
        "username": profile.username,
        "verify_tls": "on",
        "ca_bundle": "",
        "timeout_seconds": str(profile.timeout_seconds),
        "api_version": profile.api_version,
        "is_active": "on",
        "track_external_runs": "on",
        "new_secret": "",
    }
    data.update(changes)
    return data


# --- who gets in ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "superuser"])
def test_everyone_but_staff_is_sent_to_the_admin_login(
    persona: str, client_as: Callable[[str], Client]
) -> None:
    response = client_as(persona).get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    denied = client_as(persona).get("/admin/controlpanel/auditevent/")
    assert denied.status_code == 302


# --- the audit trail --------------------------------------------------------------------------


def test_superuser_can_browse_the_audit_trail(admin_client: Client, event: AuditEvent) -> None:
    response = admin_client.get("/admin/controlpanel/auditevent/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "finance_daily" in html and "operator" in html
    assert "delete_selected" not in html  # no bulk delete action
    assert "/admin/controlpanel/auditevent/add/" not in html


def test_the_audit_trail_can_be_searched_and_filtered(
    admin_client: Client, event: AuditEvent
) -> None:
    found = admin_client.get("/admin/controlpanel/auditevent/", {"q": "finance_daily"})
    assert "dag.trigger" in found.content.decode()
    filtered = admin_client.get("/admin/controlpanel/auditevent/", {"outcome__exact": "denied"})
    assert "finance_daily" not in filtered.content.decode()


def test_an_event_opens_read_only(admin_client: Client, event: AuditEvent) -> None:
    response = admin_client.get(f"/admin/controlpanel/auditevent/{event.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html
    assert 'name="action"' not in html  # fields are shown as text, not inputs


def test_events_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    admin_client: Client, event: AuditEvent
) -> None:
    base = "/admin/controlpanel/auditevent"
    assert admin_client.get(f"{base}/add/").status_code == 403
    assert admin_client.post(f"{base}/add/", {"action": "x"}).status_code == 403
    changed = admin_client.post(f"{base}/{event.pk}/change/", {"action": "dag.pause"})
    assert changed.status_code == 403
    assert admin_client.get(f"{base}/{event.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        f"{base}/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)  # the admin ignores an action it does not offer
    assert AuditEvent.objects.get(pk=event.pk).action == "dag.trigger"
    assert verify_chain().ok


def test_the_chain_head_is_not_in_the_admin(admin_client: Client) -> None:
    assert admin_client.get("/admin/controlpanel/auditchainhead/").status_code == 404


# --- profiles ---------------------------------------------------------------------------------


def test_profile_pages_never_show_the_secret(admin_client: Client, world: World) -> None:
    ciphertext = world.prod.secret_encrypted
    for url in (
        "/admin/controlpanel/airflowprofile/",
        f"/admin/controlpanel/airflowprofile/{world.prod.pk}/change/",
        "/admin/controlpanel/airflowprofile/add/",
    ):
        html = admin_client.get(url).content.decode()
        assert STORED_SECRET not in html, url
        assert ciphertext not in html, url
        assert "secret_encrypted" not in html, url


def test_profile_form_has_a_write_only_secret_field(admin_client: Client, world: World) -> None:
    html = admin_client.get(
        f"/admin/controlpanel/airflowprofile/{world.prod.pk}/change/"
    ).content.decode()
    assert '<input type="password" name="new_secret"' in html
    assert 'name="new_secret" value=' not in html


def test_saving_without_a_new_secret_keeps_the_stored_one(
    admin_client: Client, world: World
) -> None:
    response = admin_client.post(
        f"/admin/controlpanel/airflowprofile/{world.prod.pk}/change/",
        profile_form(world.prod, name="Production EU"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    profile = AirflowProfile.objects.get(pk=world.prod.pk)
    assert profile.name == "Production EU"
    assert profile.reveal_secret() == STORED_SECRET
    event = AuditEvent.objects.get(action="profile.update")
    assert (event.profile_slug, event.source, event.actor) == (
        "prod",
        "web",
        world.users["superuser"],
    )
    assert event.payload == {"name": "Production EU", "secret_changed": False}


def test_a_new_secret_is_stored_encrypted_and_audited_without_its_value(
    admin_client: Client, world: World
) -> None:
    response = admin_client.post(
        f"/admin/controlpanel/airflowprofile/{world.prod.pk}/change/",
        profile_form(world.prod, new_secret="brand-new-pass"),
    )
    assert response.status_code == 302
    profile = AirflowProfile.objects.get(pk=world.prod.pk)
    assert profile.reveal_secret() == "brand-new-pass"
    assert "brand-new-pass" not in profile.secret_encrypted
    event = AuditEvent.objects.get(action="profile.update")
    assert event.payload == {"secret_changed": True}
    assert "brand-new-pass" not in str(event.content())


def test_creating_a_profile_is_audited(admin_client: Client, world: World) -> None:
    new = AirflowProfile(name="Sandbox", slug="sandbox", username="panel")
    response = admin_client.post(
        "/admin/controlpanel/airflowprofile/add/",
        profile_form(new, base_url="https://sandbox.example.invalid", new_secret="pw-1"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AirflowProfile.objects.get(slug="sandbox").reveal_secret() == "pw-1"
    assert AuditEvent.objects.get(action="profile.create").profile_slug == "sandbox"


def test_plain_http_without_consent_is_refused_and_not_audited(
    admin_client: Client, world: World
) -> None:
    response = admin_client.post(
        f"/admin/controlpanel/airflowprofile/{world.prod.pk}/change/",
        profile_form(world.prod, base_url="http://prod.example.invalid"),
    )
    assert response.status_code == 200
    assert "plain http://" in response.content.decode()
    assert not AuditEvent.objects.filter(action="profile.update").exists()


def test_deleting_a_profile_takes_its_catalog_along_and_is_audited(
    admin_client: Client, world: World
) -> None:
    RunFactory.create(profile=world.staging, dag_id="orders_etl")
    response = admin_client.post(
        f"/admin/controlpanel/airflowprofile/{world.staging.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AirflowProfile.objects.filter(slug="staging").exists()
    assert not Dag.objects.filter(dag_id="orders_etl", profile__slug="staging").exists()
    assert AuditEvent.objects.get(action="profile.delete").profile_slug == "staging"


# --- teams and grants -------------------------------------------------------------------------


def test_team_member_changes_are_audited(admin_client: Client, world: World) -> None:
    team = world.teams["etl-ops"]
    membership = TeamMembership.objects.get(team=team)
    data: dict[str, Any] = {
        "name": team.name,
        "slug": team.slug,
        "description": "",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-team": str(team.pk),
        "memberships-0-user": str(membership.user_id),
        "memberships-0-role": "admin",
        "memberships-1-team": str(team.pk),
        "memberships-1-user": str(world.users["outsider"].pk),
        "memberships-1-role": "member",
    }
    response = admin_client.post(f"/admin/controlpanel/team/{team.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    role_change = AuditEvent.objects.get(action="member.role_change")
    assert role_change.payload == {
        "team": "etl-ops",
        "user": "operate_user",
        "role": "admin",
        "old_role": "member",
    }
    added = AuditEvent.objects.get(action="member.add")
    assert added.payload == {"team": "etl-ops", "user": "outsider", "role": "member"}
    assert added.actor == world.users["superuser"]
    roles = dict(TeamMembership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {"operate_user": "admin", "outsider": "member"}


def test_removing_a_member_in_the_admin_is_audited(admin_client: Client, world: World) -> None:
    team = world.teams["etl-ops"]
    membership = TeamMembership.objects.get(team=team)
    data = {
        "name": team.name,
        "slug": team.slug,
        "description": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-team": str(team.pk),
        "memberships-0-user": str(membership.user_id),
        "memberships-0-role": "member",
        "memberships-0-DELETE": "on",
    }
    response = admin_client.post(f"/admin/controlpanel/team/{team.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not TeamMembership.objects.filter(team=team).exists()
    assert AuditEvent.objects.get(action="member.remove").payload["user"] == "operate_user"


def test_a_new_grant_records_who_made_it_and_what_it_allows(
    admin_client: Client, world: World
) -> None:
    response = admin_client.post(
        "/admin/controlpanel/daggrant/add/",
        {
            "team": str(world.teams["etl-ops"].pk),
            "profile": str(world.staging.pk),
            "dag_ids": '["orders_etl"]',
            "dag_patterns": "[]",
            "tags": "[]",
            "level": "trigger",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    grant = DagGrant.objects.get(profile=world.staging)
    assert grant.created_by == world.users["superuser"]
    event = AuditEvent.objects.get(action="grant.add")
    assert event.profile_slug == "staging"
    assert event.payload["level"] == "trigger" and event.payload["dag_ids"] == ["orders_etl"]


def test_a_grant_without_any_dag_selected_is_refused_in_plain_words(
    admin_client: Client, world: World
) -> None:
    response = admin_client.post(
        "/admin/controlpanel/daggrant/add/",
        {
            "team": str(world.teams["etl-ops"].pk),
            "profile": str(world.staging.pk),
            "dag_ids": "[]",
            "dag_patterns": "[]",
            "tags": "[]",
            "level": "view",
        },
    )
    assert response.status_code == 200
    assert "Choose at least one DAG id, pattern or tag." in response.content.decode()
    assert not DagGrant.objects.filter(profile=world.staging).exists()


def test_grants_are_removed_not_edited(admin_client: Client, world: World) -> None:
    grant = DagGrant.objects.get(team=world.teams["etl-ops"])
    url = f"/admin/controlpanel/daggrant/{grant.pk}"
    assert admin_client.get(f"{url}/change/").status_code == 200  # read-only view
    assert admin_client.post(f"{url}/change/", {"level": "operate"}).status_code == 403
    assert admin_client.post(f"{url}/delete/", {"post": "yes"}).status_code == 302
    assert not DagGrant.objects.filter(pk=grant.pk).exists()
    assert AuditEvent.objects.get(action="grant.remove").payload["team"] == "etl-ops"


def test_staff_with_model_permissions_still_may_not_manage_profiles_or_teams(
    world: World, client_as: Callable[[str], Client]
) -> None:
    """Who may manage is the permission module's call, not Django's model permissions."""
    staff = world.users["team_admin"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="controlpanel"))
    client = client_as("team_admin")
    assert client.get("/admin/controlpanel/airflowprofile/add/").status_code == 403
    assert client.get("/admin/controlpanel/team/add/").status_code == 403
    assert client.get("/admin/controlpanel/daggrant/add/").status_code == 403
    team = world.teams["finance-viewers"]
    assert (
        client.post(f"/admin/controlpanel/team/{team.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )


# --- catalog and runs (read-only) -------------------------------------------------------------


@pytest.mark.parametrize("model", ["dag", "run"])
def test_catalog_and_runs_are_read_only(admin_client: Client, world: World, model: str) -> None:
    run = RunFactory.create(profile=world.prod, dag_id="finance_daily")
    pk = world.dag("prod/finance_daily").pk if model == "dag" else run.pk
    base = f"/admin/controlpanel/{model}"
    assert admin_client.get(f"{base}/").status_code == 200
    assert admin_client.get(f"{base}/{pk}/change/").status_code == 200
    assert admin_client.get(f"{base}/add/").status_code == 403
    assert admin_client.post(f"{base}/{pk}/change/", {}).status_code == 403
    assert admin_client.post(f"{base}/{pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_staff_auditor_may_read_the_trail_and_nothing_else(
    world: World, client_as: Callable[[str], Client], event: AuditEvent
) -> None:
    auditor = world.users["auditor"]
    auditor.is_staff = True
    auditor.save()
    client = client_as("auditor")
    assert client.get("/admin/controlpanel/auditevent/").status_code == 200
    assert client.post(f"/admin/controlpanel/auditevent/{event.pk}/change/").status_code == 403
    assert client.get("/admin/controlpanel/airflowprofile/").status_code == 403


def test_creating_and_deleting_a_team_is_audited(admin_client: Client, world: World) -> None:
    created = admin_client.post(
        "/admin/controlpanel/team/add/",
        {
            "name": "Data science",
            "slug": "data-science",
            "description": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert created.status_code == 302, created.content.decode()[:3000]
    assert AuditEvent.objects.get(action="team.create").payload["slug"] == "data-science"

    team = world.teams["etl-ops"]
    deleted = admin_client.post(f"/admin/controlpanel/team/{team.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    event = AuditEvent.objects.get(action="team.delete")
    assert event.payload["team"] == "etl-ops"
    assert event.payload["members"] == ["operate_user"]
    assert event.payload["grants"][0]["tags"] == ["etl"]
    assert not DagGrant.objects.filter(team__slug="etl-ops").exists()
