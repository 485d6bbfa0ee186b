"""The team page's members: removal asks first, the username picker and who it lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from controlpanel.models import AuditEvent, TeamMembership
from controlpanel.permissions import access_for
from controlpanel.selectors.members import MEMBER_CHOICES_SHOWN
from tests.factories import MembershipFactory, UserFactory
from tests.world import World

ClientAs = Callable[[str], Client]
VIEWERS = "finance-viewers"


def remove_url(world: World, persona: str) -> str:
    """The removal (confirmation on GET) of a persona from finance-viewers."""
    return reverse("manage:member_remove", args=[VIEWERS, world.users[persona].pk])


def options(html: str) -> dict[str, str]:
    """username -> label of the picker's <option>s."""
    return dict(re.findall(r'<option value="([^"]*)">([^<]*)</option>', html))


# --- removing asks first ------------------------------------------------------------------------


def test_the_team_page_links_to_a_confirmation_instead_of_removing_at_once(
    world: World, client_as: ClientAs
) -> None:
    page = client_as("team_admin").get(reverse("manage:team", args=[VIEWERS])).content.decode()
    link = f'href="{remove_url(world, "viewer")}"'
    assert link in page and "Remove viewer…" in page
    # No form posts straight to the removal any more.
    assert f'action="{remove_url(world, "viewer")}"' not in page


def test_the_confirmation_says_what_happens_and_changes_nothing(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("team_admin")
    page = client.get(remove_url(world, "viewer")).content.decode()
    assert "Remove viewer from Finance viewers?" in page
    assert "View on patterns finance_* (Production)" in page  # the rights that end
    assert 'method="post"' in page and "csrfmiddlewaretoken" in page
    assert "Keep viewer in the team" in page
    assert TeamMembership.objects.filter(user=world.users["viewer"]).exists()
    assert not AuditEvent.objects.filter(action="member.remove").exists()

    done = client.post(remove_url(world, "viewer"), follow=True)
    assert b"Removed viewer from Finance viewers." in done.content
    assert not TeamMembership.objects.filter(user=world.users["viewer"]).exists()
    assert AuditEvent.objects.get(action="member.remove").outcome == "succeeded"


def test_the_confirmation_names_other_teams_and_directory_groups(
    world: World, client_as: ClientAs
) -> None:
    viewer = world.users["viewer"]
    MembershipFactory.create(team=world.teams["etl-ops"], user=viewer)
    TeamMembership.objects.filter(team__slug=VIEWERS, user=viewer).update(source="directory")
    page = client_as("superuser").get(remove_url(world, "viewer")).content.decode()
    assert "unless another of\ntheir 1 other team grants it too" in page
    assert "joined through a directory group" in page


def test_the_last_team_admin_is_warned_before_pressing_the_button(
    world: World, client_as: ClientAs
) -> None:
    page = client_as("team_admin").get(remove_url(world, "team_admin")).content.decode()
    assert "Remove yourself from Finance viewers?" in page
    assert "You are the last team admin of Finance viewers" in page
    assert "You will no longer manage this team" in page


# --- the username picker ------------------------------------------------------------------------


def test_the_picker_is_a_datalist_of_people_not_yet_in_the_team(
    world: World, client_as: ClientAs
) -> None:
    UserFactory.create(username="gone", is_active=False)
    UserFactory.create(username="ada", first_name="Ada", last_name="Lovelace")
    page = client_as("team_admin").get(reverse("manage:team", args=[VIEWERS])).content.decode()
    assert 'list="member-candidates"' in page and '<datalist id="member-candidates">' in page
    assert 'autocomplete="off"' in page
    shown = options(page.split('<datalist id="member-candidates">')[1].split("</datalist>")[0])
    assert "ada" in shown and shown["ada"] == "Ada Lovelace"
    assert {"outsider", "operator", "auditor", "superuser"} <= set(shown)
    assert not {"viewer", "team_admin", "gone"} & set(shown)  # members and inactive users


def test_a_team_admin_never_sees_an_email_address_a_panel_admin_does(
    world: World, client_as: ClientAs
) -> None:
    team_page = reverse("manage:team", args=[VIEWERS])
    candidates = reverse("manage:member_candidates", args=[VIEWERS])
    for response in (
        client_as("team_admin").get(team_page),
        client_as("team_admin").get(candidates, {"username": "out"}),
    ):
        assert b"@example.invalid" not in response.content
    admin = options(client_as("superuser").get(candidates, {"username": "out"}).content.decode())
    assert admin == {"outsider": "&lt;outsider@example.invalid&gt;"}


def test_the_picker_narrows_to_what_was_typed_by_username_or_name(
    world: World, client_as: ClientAs
) -> None:
    UserFactory.create(username="a.turing", first_name="Alan", last_name="Turing")
    client = client_as("team_admin")
    url = reverse("manage:member_candidates", args=[VIEWERS])
    assert set(options(client.get(url, {"username": "TUR"}).content.decode())) == {"a.turing"}
    assert set(options(client.get(url, {"username": "alan"}).content.decode())) == {"a.turing"}
    assert options(client.get(url, {"username": "viewer"}).content.decode()) == {}  # a member


def test_the_picker_sends_a_bounded_list_in_one_query(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    for n in range(MEMBER_CHOICES_SHOWN + 10):
        UserFactory.create(username=f"person{n:02d}")
    client = client_as("team_admin")
    url = reverse("manage:member_candidates", args=[VIEWERS])
    client.get(url)
    # session, user, the team, the viewer's memberships, the candidates, the approvals badge
    with django_assert_max_num_queries(6):
        html = client.get(url, {"username": "person"}).content.decode()
    assert len(options(html)) == MEMBER_CHOICES_SHOWN


def test_an_unknown_username_is_a_clear_error(world: World, client_as: ClientAs) -> None:
    response = client_as("team_admin").post(
        reverse("manage:member_add", args=[VIEWERS]), {"username": "nobdy", "role": "member"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is no active user called &#x27;nobdy&#x27;." in page
    assert "pick one from the list" in page
    assert 'list="member-candidates"' in page  # the picker is still there


@pytest.mark.parametrize("persona", ["viewer", "operator", "auditor", "outsider"])
def test_only_who_manages_the_team_gets_candidates(world: World, persona: str) -> None:
    access = access_for(world.users[persona])
    assert not access.member_candidates(world.teams[VIEWERS]).exists()
    assert not access.sees_user_emails


def test_team_admins_get_candidates_for_their_team_only(world: World) -> None:
    access = access_for(world.users["team_admin"])
    assert access.member_candidates(world.teams[VIEWERS]).filter(username="outsider").exists()
    assert not access.member_candidates(world.teams["etl-ops"]).exists()
    assert not access.sees_user_emails
    assert access_for(world.users["superuser"]).sees_user_emails
