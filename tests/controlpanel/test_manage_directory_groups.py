"""Directory groups on the team page: set by panel admins, shown with how members joined."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from controlpanel.models import AuditEvent, Team
from controlpanel.services.directory import DirectoryIdentity, sign_in_from_directory
from tests.world import World

ClientAs = Callable[[str], Client]
FINANCE_DN = "cn=finance,ou=groups,dc=example,dc=org"


def test_a_panel_admin_maps_groups_one_a_line_and_the_team_page_shows_them(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("superuser")
    edit = reverse("manage:team_edit", args=["finance-viewers"])
    form = {
        "name": "Finance viewers",
        "slug": "finance-viewers",
        "description": "",
        "directory_groups": f"{FINANCE_DN}\r\n\r\n  finance-readers  \r\n",
    }
    saved = client.post(edit, form, follow=True)
    assert b"Team saved." in saved.content
    team = Team.objects.get(slug="finance-viewers")
    assert team.directory_groups == [FINANCE_DN, "finance-readers"]  # DNs keep their commas
    event = AuditEvent.objects.filter(action="team.update").latest("id")
    assert event.payload["directory_groups"] == [FINANCE_DN, "finance-readers"]

    page = client.get(reverse("manage:team", args=["finance-viewers"])).content.decode()
    assert f"<code>{FINANCE_DN}</code>, <code>finance-readers</code>" in page
    assert page.count("Added by hand") == 2  # team_admin and viewer
    assert "From a directory group" not in page

    sign_in_from_directory(
        DirectoryIdentity("oidc", "sub-dana", "dana", groups=("finance-readers",))
    )
    page = client.get(reverse("manage:team", args=["finance-viewers"])).content.decode()
    assert "From a directory group" in page

    again = client.get(edit).content.decode()
    assert f"{FINANCE_DN}\nfinance-readers</textarea>" in again


def test_an_overlong_group_is_shown_under_its_field_and_nothing_changes(
    world: World, client_as: ClientAs
) -> None:
    form = {"name": "Finance viewers", "slug": "finance-viewers", "directory_groups": "x" * 1001}
    response = client_as("superuser").post(
        reverse("manage:team_edit", args=["finance-viewers"]), form
    )
    assert response.status_code == 200
    assert "A directory group is a name or DN of 1 to 1000 characters." in response.content.decode()
    assert Team.objects.get(slug="finance-viewers").directory_groups == []
    event = AuditEvent.objects.filter(action="team.update").latest("id")
    assert event.outcome == AuditEvent.Outcome.FAILED


def test_team_admins_see_the_groups_but_cannot_change_them(
    world: World, client_as: ClientAs
) -> None:
    team = world.teams["finance-viewers"]
    team.directory_groups = [FINANCE_DN]
    team.save()
    client = client_as("team_admin")
    page = client.get(reverse("manage:team", args=["finance-viewers"])).content.decode()
    assert f"<code>{FINANCE_DN}</code>" in page
    assert "directory groups</a>" not in page  # no edit link
    form = {"name": "Finance viewers", "slug": "finance-viewers", "directory_groups": "everyone"}
    refused = client.post(reverse("manage:team_edit", args=["finance-viewers"]), form)
    assert refused.status_code == 403
    assert Team.objects.get(slug="finance-viewers").directory_groups == [FINANCE_DN]
