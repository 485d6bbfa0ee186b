"""Directory groups on teams through the API, and API tokens of directory users."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent
from controlpanel.services import tokens
from controlpanel.services.directory import DirectoryIdentity, sign_in_from_directory
from tests.api.conftest import ApiWorld, Caller

FINANCE_DN = "cn=finance,ou=groups,dc=example,dc=org"
TEAM = "/api/teams/finance-viewers/"


def test_a_panel_admin_sets_the_groups_and_every_member_reads_them(
    api_world: ApiWorld, call: Caller
) -> None:
    assert call("superuser", "GET", TEAM).json()["directory_groups"] == []
    body = {"directory_groups": [f" {FINANCE_DN} ", "finance", "finance", ""]}
    response = call("superuser", "PATCH", TEAM, body, via="token")
    assert response.status_code == 400  # an empty name is refused, not dropped
    body = {"directory_groups": [f" {FINANCE_DN} ", "finance", "finance"]}
    response = call("superuser", "PATCH", TEAM, body)
    assert response.status_code == 200, response.json()
    assert response.json()["directory_groups"] == [FINANCE_DN, "finance"]
    assert call("viewer", "GET", TEAM).json()["directory_groups"] == [FINANCE_DN, "finance"]
    event = AuditEvent.objects.filter(action="team.update").latest("id")
    assert event.outcome == AuditEvent.Outcome.SUCCEEDED
    assert event.payload == {"team": "finance-viewers", "directory_groups": [FINANCE_DN, "finance"]}


@pytest.mark.parametrize(
    "groups",
    [
        "finance",  # not a list
        [{"name": "finance"}],
        ["x" * 1001],
        [f"group-{number}" for number in range(101)],
    ],
)
def test_groups_that_are_not_a_short_list_of_names_are_refused(
    api_world: ApiWorld, call: Caller, groups: Any
) -> None:
    response = call("superuser", "PATCH", TEAM, {"directory_groups": groups})
    assert response.status_code == 400
    assert "directory_groups" in response.json()["errors"]
    assert call("superuser", "GET", TEAM).json()["directory_groups"] == []


def test_a_team_created_with_groups_and_members_say_how_they_joined(
    api_world: ApiWorld, call: Caller
) -> None:
    body = {"name": "Data", "slug": "data", "directory_groups": ["data-team"]}
    created = call("superuser", "POST", "/api/teams/", body)
    assert created.status_code == 201
    assert created.json()["directory_groups"] == ["data-team"]
    sign_in_from_directory(DirectoryIdentity("oidc", "sub-dana", "dana", groups=("data-team",)))
    call("superuser", "POST", "/api/teams/data/members/", {"username": "outsider"})
    members = call("superuser", "GET", "/api/teams/data/members/").json()["results"]
    assert [(m["username"], m["source"]) for m in members] == [
        ("dana", "directory"),
        ("outsider", "manual"),
    ]


def test_a_directory_user_who_loses_all_access_keeps_tokens_that_see_nothing(
    api_world: ApiWorld,
) -> None:
    """The token still authenticates, but its rights are the user's: none any more."""
    team = api_world.world.teams["finance-viewers"]
    team.directory_groups = [FINANCE_DN]
    team.save()
    identity = DirectoryIdentity("oidc", "sub-dana", "dana", groups=(FINANCE_DN,))
    user, _ = sign_in_from_directory(identity)
    _, plaintext = tokens.create_token(Actor(user=user), user, "dana's script")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    def dag_ids() -> list[str]:
        return [row["dag_id"] for row in client.get("/api/dags/").json()["results"]]

    assert dag_ids() == ["finance_daily", "finance_monthly"]
    assert client.get("/api/dags/prod/finance_daily/").status_code == 200

    sign_in_from_directory(DirectoryIdentity("oidc", "sub-dana", "dana", groups=()))

    me = client.get("/api/me/")
    assert me.status_code == 200 and me.json()["teams"] == []
    assert dag_ids() == []
    assert client.get("/api/dags/prod/finance_daily/").status_code == 404
    assert client.get(f"/api/runs/{api_world.runs['finance'].pk}/").status_code == 404
    assert client.get("/api/teams/finance-viewers/").status_code == 404
