"""Management pages: the permission matrix, secrets never shown, forms, preview, query counts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import responses
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from controlpanel.models import AirflowProfile, AuditEvent, DagGrant, TeamMembership
from tests.factories import (
    GrantFactory,
    MembershipFactory,
    ProfileFactory,
    TeamFactory,
    UserFactory,
)
from tests.helpers.forms import FormControls
from tests.helpers.profiles import mock_airflow
from tests.world import PERSONAS, World

SECRET = "Sup3r-secret-airflow-pw"
ClientAs = Callable[[str], Client]


@pytest.fixture(autouse=True)
def no_real_http() -> Iterator[responses.RequestsMock]:
    """Every Airflow the pages talk to is a mock answering like Airflow 2.11 (no network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for slug in ("prod", "staging"):
            mock_airflow(rsps, f"https://{slug}.example.invalid")
        for version in ("v1", "v2"):
            broken = f"https://broken.example.invalid/api/{version}/version"
            rsps.add(responses.GET, broken, body="<html>Internal Server Error</html>", status=500)
        yield rsps


# --- the permission matrix -------------------------------------------------------------------


def expect(superuser: int, team_admin: int | None = None, others: int = 404) -> dict[str, int]:
    """persona -> status; anonymous visitors are always sent to the login page (302)."""
    statuses = {persona: others for persona in PERSONAS}
    statuses["superuser"] = superuser
    statuses["team_admin"] = others if team_admin is None else team_admin
    statuses["anonymous"] = 302
    return statuses


def everyone(status: int) -> dict[str, int]:
    """The same status for every logged-in persona."""
    return expect(status, status, status)


def profile_form(**overrides: str) -> dict[str, str]:
    """Valid POST data of the profile form."""
    data = {
        "name": "Analytics",
        "slug": "analytics",
        "base_url": "https://analytics.example.invalid",
        "auth_type": "basic",
        "username": "panel",
        "secret": SECRET,
        "verify_tls": "on",
        "ca_bundle": "",
        "timeout_seconds": "30",
        "api_version": "auto",
        "is_active": "on",
    }
    return {**data, **overrides}


def viewer_id(world: World) -> int:
    """The pk of the viewer persona (a plain member of finance-viewers)."""
    return int(world.users["viewer"].pk)


def viewers_grant(world: World) -> int:
    """The pk of finance-viewers' only grant."""
    return int(world.teams["finance-viewers"].grants.get().pk)


def grant_form(world: World) -> dict[str, str]:
    """Valid POST data of the grant form."""
    return {"profile": str(world.prod.pk), "dag_ids": "marketing_sync", "level": "view"}


@dataclass
class Case:
    """One request of the matrix: method, URL (from the world), POST data, expected statuses."""

    name: str
    method: str
    url: Callable[[World], str]
    expected: dict[str, int]
    data: Callable[[World], dict[str, str]] = field(default=lambda world: {})


def url(name: str, *args: Callable[[World], Any] | str) -> Callable[[World], str]:
    """A URL whose arguments may depend on the world."""
    return lambda world: reverse(name, args=[a(world) if callable(a) else a for a in args])


VIEWERS = "finance-viewers"
# The plain members of the world's teams: they know their team exists, so pages of it
# they may not use answer 403 saying who manages it (everyone else outside it: 404).
PLAIN_MEMBERS = {VIEWERS: ["viewer"], "etl-ops": ["operate_user"]}


def told(team: str, statuses: dict[str, int]) -> dict[str, int]:
    """``statuses`` with the team's plain members refused with a 403 instead."""
    return statuses | {persona: 403 for persona in PLAIN_MEMBERS[team]}


def admins_only(superuser: int) -> dict[str, int]:
    """Profile pages: everyone but panel admins is told only panel admins manage them."""
    return expect(superuser, others=403)


CASES = [
    Case("index", "get", url("manage:index"), everyone(200)),
    Case("index", "post", url("manage:index"), everyone(405)),
    Case("profiles", "get", url("manage:profiles"), admins_only(200)),
    Case("profiles", "post", url("manage:profiles"), everyone(405)),
    Case("profile_create", "get", url("manage:profile_create"), admins_only(200)),
    Case(
        "profile_create",
        "post",
        url("manage:profile_create"),
        admins_only(302),
        lambda w: profile_form(),
    ),
    Case("profile_edit", "get", url("manage:profile_edit", "prod"), admins_only(200)),
    Case(
        "profile_edit",
        "post",
        url("manage:profile_edit", "prod"),
        admins_only(302),
        lambda w: profile_form(name="Prod", slug="prod"),
    ),
    Case("profile_edit_missing", "get", url("manage:profile_edit", "nope"), admins_only(404)),
    Case("profile_delete", "get", url("manage:profile_delete", "prod"), admins_only(200)),
    Case("profile_delete", "post", url("manage:profile_delete", "prod"), admins_only(302)),
    Case("profile_test", "get", url("manage:profile_test", "prod"), everyone(405)),
    Case("profile_test", "post", url("manage:profile_test", "prod"), admins_only(302)),
    Case("teams", "get", url("manage:teams"), expect(200, 200, others=403)),
    Case("teams", "post", url("manage:teams"), everyone(405)),
    Case("team_create", "get", url("manage:team_create"), expect(200, 403, others=403)),
    Case(
        "team_create",
        "post",
        url("manage:team_create"),
        expect(302, 403, others=403),
        lambda w: {"name": "New team", "slug": "new-team"},
    ),
    Case("team_own", "get", url("manage:team", VIEWERS), told(VIEWERS, expect(200, 200))),
    Case("team_own", "post", url("manage:team", VIEWERS), everyone(405)),
    Case("team_other", "get", url("manage:team", "etl-ops"), told("etl-ops", expect(200, 404))),
    Case("team_missing", "get", url("manage:team", "nope"), expect(404, 404)),
    Case("team_edit", "get", url("manage:team_edit", VIEWERS), told(VIEWERS, expect(200, 403))),
    Case(
        "team_edit",
        "post",
        url("manage:team_edit", VIEWERS),
        told(VIEWERS, expect(302, 403)),
        lambda w: {"name": "Finance readers", "slug": VIEWERS},
    ),
    Case(
        "team_edit_other",
        "get",
        url("manage:team_edit", "etl-ops"),
        told("etl-ops", expect(200, 404)),
    ),
    Case("member_add", "get", url("manage:member_add", VIEWERS), everyone(405)),
    Case(
        "member_add",
        "post",
        url("manage:member_add", VIEWERS),
        told(VIEWERS, expect(302, 302)),
        lambda w: {"username": "outsider", "role": "member"},
    ),
    Case(
        "member_add_other",
        "post",
        url("manage:member_add", "etl-ops"),
        told("etl-ops", expect(302, 404)),
        lambda w: {"username": "outsider", "role": "member"},
    ),
    Case(
        "member_remove",
        "post",
        url("manage:member_remove", VIEWERS, viewer_id),
        told(VIEWERS, expect(302, 302)),
    ),
    Case(
        "member_remove",
        "get",
        url("manage:member_remove", VIEWERS, viewer_id),
        told(VIEWERS, expect(200, 200)),
    ),
    Case(
        "member_remove_nonmember",
        "get",
        url("manage:member_remove", VIEWERS, lambda w: w.users["outsider"].pk),
        told(VIEWERS, expect(404, 404)),
    ),
    Case(
        "member_candidates",
        "get",
        url("manage:member_candidates", VIEWERS),
        told(VIEWERS, expect(200, 200)),
    ),
    Case("member_candidates", "post", url("manage:member_candidates", VIEWERS), everyone(405)),
    Case(
        "member_candidates_other",
        "get",
        url("manage:member_candidates", "etl-ops"),
        told("etl-ops", expect(200, 404)),
    ),
    Case(
        "member_remove_nonmember",
        "post",
        url("manage:member_remove", VIEWERS, lambda w: w.users["outsider"].pk),
        told(VIEWERS, expect(404, 404)),
    ),
    Case(
        "member_role",
        "post",
        url("manage:member_role", VIEWERS, viewer_id),
        told(VIEWERS, expect(302, 302)),
        lambda w: {"role": "admin"},
    ),
    Case(
        "grant_add",
        "post",
        url("manage:grant_add", VIEWERS),
        told(VIEWERS, expect(302, 403)),
        grant_form,
    ),
    Case("grant_add", "get", url("manage:grant_add", VIEWERS), everyone(405)),
    Case(
        "grant_add_other",
        "post",
        url("manage:grant_add", "etl-ops"),
        told("etl-ops", expect(302, 404)),
        grant_form,
    ),
    Case(
        "grant_remove",
        "post",
        url("manage:grant_remove", VIEWERS, viewers_grant),
        told(VIEWERS, expect(302, 403)),
    ),
    Case(
        "grant_remove_wrong_team",
        "post",
        url("manage:grant_remove", "etl-ops", viewers_grant),
        told("etl-ops", expect(404, 404)),
    ),
    Case(
        "grant_preview",
        "post",
        url("manage:grant_preview", VIEWERS),
        told(VIEWERS, expect(200, 403)),
        grant_form,
    ),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c.method}-{c.name}" for c in CASES])
def test_permission_matrix(world: World, client_as: ClientAs, case: Case, persona: str) -> None:
    client = client_as(persona)
    target = case.url(world)
    data = case.data(world)
    response = client.get(target) if case.method == "get" else client.post(target, data)
    assert response.status_code == case.expected[persona], response.content[:500]
    if persona == "anonymous":
        assert response["Location"].startswith(f"{settings.LOGIN_URL}?next=")


# --- what the matrix does not show: side effects of refused requests ---------------------------


def test_a_refused_post_changes_nothing_and_a_403_is_audited(
    world: World, client_as: ClientAs
) -> None:
    team_admin = client_as("team_admin")
    response = team_admin.post(reverse("manage:grant_add", args=[VIEWERS]), grant_form(world))
    assert response.status_code == 403
    event = AuditEvent.objects.filter(action="grant.add").get()
    assert (event.outcome, event.actor_username) == ("denied", "team_admin")
    assert world.teams[VIEWERS].grants.count() == 1

    team_admin.post(reverse("manage:team_create"), {"name": "X", "slug": "x"})
    assert AuditEvent.objects.get(action="team.create").outcome == "denied"
    outsider = client_as("outsider")
    refused = outsider.post(reverse("manage:profile_delete", args=["prod"]))
    assert refused.status_code == 403
    assert "Only panel admins manage connection profiles" in refused.content.decode()
    assert AirflowProfile.objects.filter(slug="prod").exists()


# --- profiles: secrets and plain http ------------------------------------------------------------


def test_the_secret_never_appears_in_any_page_or_audit_event(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("superuser")
    created = client.post(reverse("manage:profile_create"), profile_form(), follow=True)
    assert b"Profile Analytics created." in created.content
    profile = AirflowProfile.objects.get(slug="analytics")
    assert profile.reveal_secret() == SECRET
    refused = client.post(
        reverse("manage:profile_edit", args=["analytics"]),
        profile_form(base_url="http://plain.example.invalid", secret=SECRET + "2"),
    )
    assert refused.status_code == 200 and b"unencrypted" in refused.content
    pages = [
        created,
        refused,
        client.get(reverse("manage:profiles")),
        client.get(reverse("manage:profile_edit", args=["analytics"])),
        client.get(reverse("manage:profile_delete", args=["analytics"])),
        client.post(reverse("manage:profile_test", args=["prod"]), follow=True),
    ]
    for page in pages:
        assert page.status_code == 200
        assert SECRET.encode() not in page.content
        assert b"airflow-password" not in page.content  # the world's profiles' secret
    trail = json.dumps([[e.payload, e.message] for e in AuditEvent.objects.all()])
    assert SECRET not in trail and "airflow-password" not in trail


def test_the_list_says_whether_a_secret_is_set(world: World, client_as: ClientAs) -> None:
    ProfileFactory.create(slug="no-secret", auth_type="bearer", secret="")
    page = client_as("superuser").get(reverse("manage:profiles")).content.decode()
    assert page.count("<td>set</td>") == 2 and page.count("<td>not set</td>") == 1


def test_edit_shows_an_empty_password_field_and_keeps_the_secret(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("superuser")
    edit = reverse("manage:profile_edit", args=["prod"])
    page = client.get(edit).content.decode()
    assert (
        'type="password" name="secret"' in page
        and 'value="' not in page.split('name="secret"')[1].split(">")[0]
    )
    assert "Leave empty to keep the stored one." in page
    response = client.post(edit, profile_form(name="Prod 2", slug="prod", secret=""), follow=True)
    assert b"Profile saved." in response.content
    prod = AirflowProfile.objects.get(slug="prod")
    assert prod.name == "Prod 2" and prod.reveal_secret() == "airflow-password"


def test_plain_http_is_refused_unless_allowed_then_flagged(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("superuser")
    plain = profile_form(base_url="http://airflow.internal:8080")
    refused = client.post(reverse("manage:profile_create"), plain)
    assert refused.status_code == 200
    assert b"tick &#x27;allow plain http&#x27;" in refused.content
    assert AuditEvent.objects.get(action="profile.create").outcome == "failed"
    assert not AirflowProfile.objects.filter(slug="analytics").exists()

    allowed = client.post(reverse("manage:profile_create"), {**plain, "allow_insecure_http": "on"})
    assert allowed.status_code == 302
    warning = "the Airflow password travels unencrypted"
    assert warning in client.get(reverse("manage:profiles")).content.decode()
    edit_page = client.get(reverse("manage:profile_edit", args=["analytics"])).content.decode()
    assert warning in edit_page and "Plain http" in edit_page


def test_the_connection_test_says_what_it_found_in_plain_words(
    world: World, client_as: ClientAs, no_real_http: responses.RequestsMock
) -> None:
    response = client_as("superuser").post(
        reverse("manage:profile_test", args=["prod"]), follow=True
    )
    page = response.content.decode()
    assert (
        "Production: Connection test: Airflow 2.11.0 (REST API v1), scheduler healthy, "
        "credentials accepted, 2 DAGs, can trigger runs." in page
    )
    assert AuditEvent.objects.get(action="profile.test").outcome == "succeeded"


def test_a_failed_connection_test_is_an_error_message(world: World, client_as: ClientAs) -> None:
    profile = ProfileFactory.create(slug="broken", base_url="https://broken.example.invalid")
    response = client_as("superuser").post(
        reverse("manage:profile_test", args=[profile.slug]), follow=True
    )
    page = response.content.decode()
    assert (
        "message--error" in page
        and "Broken: Connection test failed: Airflow had an internal error" in page
    )


def test_delete_asks_first_then_deletes(world: World, client_as: ClientAs) -> None:
    client = client_as("superuser")
    confirm = client.get(reverse("manage:profile_delete", args=["prod"])).content.decode()
    assert "Delete Production?" in confirm and "4 DAGs in its catalog" in confirm
    assert "3 team grants" in confirm
    assert AirflowProfile.objects.filter(slug="prod").exists()
    done = client.post(reverse("manage:profile_delete", args=["prod"]), follow=True)
    assert b"Profile Production deleted." in done.content
    assert not AirflowProfile.objects.filter(slug="prod").exists()


# --- teams: members and grants -------------------------------------------------------------------


def test_team_admin_manages_members_by_username(world: World, client_as: ClientAs) -> None:
    client = client_as("team_admin")
    team = world.teams[VIEWERS]
    page = client.get(reverse("manage:team", args=[VIEWERS])).content.decode()
    assert "Add a member" in page and "finance_*" in page
    assert "Add a grant" not in page and "Edit name and description" not in page
    added = client.post(
        reverse("manage:member_add", args=[VIEWERS]),
        {"username": "outsider", "role": "member"},
        follow=True,
    )
    assert b"Added outsider to Finance viewers as Member." in added.content
    unknown = client.post(
        reverse("manage:member_add", args=[VIEWERS]), {"username": "nobody", "role": "member"}
    )
    assert b"There is no active user called &#x27;nobody&#x27;." in unknown.content
    twice = client.post(
        reverse("manage:member_add", args=[VIEWERS]), {"username": "viewer", "role": "member"}
    )
    assert b"viewer is already in Finance viewers." in twice.content
    outsider = world.users["outsider"]
    client.post(reverse("manage:member_role", args=[VIEWERS, outsider.pk]), {"role": "admin"})
    assert TeamMembership.objects.get(team=team, user=outsider).role == "admin"
    removed = client.post(reverse("manage:member_remove", args=[VIEWERS, outsider.pk]), follow=True)
    assert b"Removed outsider from Finance viewers." in removed.content
    assert not TeamMembership.objects.filter(team=team, user=outsider).exists()


def test_the_last_team_admin_is_told_why_they_cannot_leave(
    world: World, client_as: ClientAs
) -> None:
    me = world.users["team_admin"]
    response = client_as("team_admin").post(
        reverse("manage:member_remove", args=[VIEWERS, me.pk]), follow=True
    )
    assert b"You are the last team admin of Finance viewers" in response.content
    assert TeamMembership.objects.filter(user=me, role="admin").exists()


def test_superuser_adds_a_grant_from_comma_separated_text(
    world: World, client_as: ClientAs
) -> None:
    response = client_as("superuser").post(
        reverse("manage:grant_add", args=["etl-ops"]),
        {
            "profile": world.staging.pk,
            "dag_ids": "finance_daily, finance_daily,",
            "dag_patterns": " orders_* ",
            "tags": "",
            "level": "trigger",
        },
        follow=True,
    )
    assert b"Grant added." in response.content
    grant = DagGrant.objects.get(team=world.teams["etl-ops"], profile=world.staging)
    assert (grant.dag_ids, grant.dag_patterns, grant.tags, grant.level) == (
        ["finance_daily"],
        ["orders_*"],
        [],
        "trigger",
    )


def test_an_empty_grant_is_refused_on_the_page(world: World, client_as: ClientAs) -> None:
    response = client_as("superuser").post(
        reverse("manage:grant_add", args=["etl-ops"]),
        {"profile": world.prod.pk, "dag_ids": " , ", "level": "view"},
    )
    assert response.status_code == 200
    assert b"Choose at least one DAG id, pattern or tag." in response.content
    assert AuditEvent.objects.get(action="grant.add").outcome == "failed"


def test_grant_remove_and_edit_team(world: World, client_as: ClientAs) -> None:
    client = client_as("superuser")
    grant_id = viewers_grant(world)
    removed = client.post(reverse("manage:grant_remove", args=[VIEWERS, grant_id]), follow=True)
    assert b"Grant removed: view on patterns finance_*." in removed.content
    edited = client.post(
        reverse("manage:team_edit", args=[VIEWERS]),
        {"name": "Finance readers", "slug": "finance-readers", "description": ""},
        follow=True,
    )
    assert edited.redirect_chain[-1][0] == reverse("manage:team", args=["finance-readers"])
    assert b"Team saved." in edited.content


@pytest.mark.parametrize("htmx", [True, False])
def test_preview_lists_the_matching_dags_with_and_without_javascript(
    world: World, client_as: ClientAs, htmx: bool
) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    response = client_as("superuser").post(
        reverse("manage:grant_preview", args=["etl-ops"]),
        {"profile": world.prod.pk, "dag_patterns": "finance_*", "tags": "etl", "level": "view"},
        headers=headers,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "This grant would cover 3 DAGs of Production today" in page
    for dag_id in ("finance_daily", "finance_monthly", "orders_etl"):
        assert f"<code>{dag_id}</code>" in page
    assert "marketing_sync" not in page
    assert ("<html" in page) is not htmx  # htmx gets the partial, a plain POST the whole page
    if not htmx:
        assert 'value="finance_*"' in page  # the form keeps what was typed
    assert DagGrant.objects.count() == 3
    assert not AuditEvent.objects.exclude(action="auth.login").exists()


def test_preview_without_a_selector_says_what_is_missing(world: World, client_as: ClientAs) -> None:
    response = client_as("superuser").post(
        reverse("manage:grant_preview", args=["etl-ops"]),
        {"profile": world.prod.pk, "level": "view"},
        headers={"HX-Request": "true"},
    )
    assert b"Enter at least one DAG id, pattern or tag to preview." in response.content


# --- markup ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("manage:profile_create", []),
        ("manage:profile_edit", ["prod"]),
        ("manage:profiles", []),
        ("manage:team_create", []),
        ("manage:team", [VIEWERS]),
    ],
)
def test_forms_label_every_field_and_carry_a_csrf_token(
    world: World, client_as: ClientAs, name: str, args: list[str]
) -> None:
    parser = FormControls()
    parser.feed(client_as("superuser").get(reverse(name, args=args)).content.decode())
    assert parser.forms >= 1 and parser.csrf_tokens == parser.forms
    unlabelled = [control for control in parser.controls if control not in parser.labelled]
    assert not unlabelled
    assert parser.controls or name == "manage:profiles"  # the list has buttons only


# --- no N+1 on list pages ---------------------------------------------------------------------


def count_queries(client: Client, path: str) -> int:
    """How many queries one GET of ``path`` makes."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_profile_list_queries_do_not_grow_with_rows(world: World, client_as: ClientAs) -> None:
    client = client_as("superuser")
    few = count_queries(client, reverse("manage:profiles"))
    for n in range(8):
        profile = ProfileFactory.create(slug=f"extra-{n}")
        GrantFactory.create(team=world.teams["etl-ops"], profile=profile, tags=["x"])
    assert count_queries(client, reverse("manage:profiles")) == few


@pytest.mark.parametrize("persona", ["superuser", "team_admin"])
def test_team_list_and_page_queries_do_not_grow_with_rows(
    world: World, client_as: ClientAs, persona: str
) -> None:
    client = client_as(persona)
    team_page = reverse("manage:team", args=[VIEWERS])
    few_teams, few_members = (
        count_queries(client, reverse("manage:teams")),
        count_queries(client, team_page),
    )
    for n in range(8):
        team = TeamFactory.create(slug=f"extra-{n}")
        user = UserFactory.create(username=f"member-{n}")
        MembershipFactory.create(team=team, user=world.users["team_admin"], role="admin")
        MembershipFactory.create(team=team, user=user)
        MembershipFactory.create(team=world.teams[VIEWERS], user=user)
        GrantFactory.create(team=world.teams[VIEWERS], profile=world.prod, tags=[f"t{n}"])
    assert count_queries(client, reverse("manage:teams")) == few_teams
    assert count_queries(client, team_page) == few_members
    page = client.get(reverse("manage:teams")).content.decode()
    assert page.count('href="/manage/teams/extra-') == 8
