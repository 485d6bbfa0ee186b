"""User administration and API token pages: who may open them, what they change, the audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from controlpanel.audit import Actor
from controlpanel.models import ApiToken, AuditEvent, DirectoryAccount
from controlpanel.permissions import ActionDenied
from controlpanel.services import tokens as token_services
from controlpanel.services import users as user_services
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.world import PERSONAS, World

ClientAs = Callable[[str], Client]
User = get_user_model()


def admins_only(status: int, others: int = 403) -> dict[str, int]:
    """persona -> status: the superuser gets ``status``, other personas ``others`` (a 403
    saying who may), anonymous visitors the login page."""
    statuses = {persona: others for persona in PERSONAS}
    statuses.update(superuser=status, anonymous=302)
    return statuses


def everyone(status: int) -> dict[str, int]:
    """The same status for every signed-in persona; anonymous visitors go to the login page."""
    return {persona: (302 if persona == "anonymous" else status) for persona in PERSONAS}


def viewer_pk(world: World) -> int:
    """The viewer persona's pk (any user but the superuser)."""
    return int(world.users["viewer"].pk)


def viewers_token(world: World) -> int:
    """A token of the viewer persona."""
    token, _ = token_services.create_token(Actor(source="cli"), world.users["viewer"], "viewer's")
    return int(token.pk)


@dataclass
class Case:
    """One request of the matrix: method, URL (from the world), POST data, expected statuses."""

    name: str
    method: str
    url: Callable[[World], str]
    expected: dict[str, int]
    data: Callable[[World], dict[str, str]] = field(default=lambda world: {})


def url(name: str, *args: Callable[[World], Any]) -> Callable[[World], str]:
    """A URL whose arguments depend on the world."""
    return lambda world: reverse(name, args=[a(world) for a in args])


NEW_USER = {"username": "dana", "email": "dana@example.invalid", "password_choice": "generate"}
CASES = [
    Case("users", "get", url("manage:users"), admins_only(200)),
    Case("users", "post", url("manage:users"), everyone(405) | {"anonymous": 302}),
    Case("user_create", "get", url("manage:user_create"), admins_only(200)),
    Case("user_create", "post", url("manage:user_create"), admins_only(200), lambda w: NEW_USER),
    Case("user", "get", url("manage:user", viewer_pk), admins_only(200)),
    Case("user_missing", "get", url("manage:user", lambda w: 99999), admins_only(404)),
    Case("user_edit", "get", url("manage:user_edit", viewer_pk), admins_only(200)),
    Case(
        "user_edit",
        "post",
        url("manage:user_edit", viewer_pk),
        admins_only(302),
        lambda w: {"email": "v@example.invalid", "is_active": "on"},
    ),
    Case("user_password", "get", url("manage:user_password", viewer_pk), admins_only(200)),
    Case(
        "user_password",
        "post",
        url("manage:user_password", viewer_pk),
        admins_only(200),
        lambda w: {"password_choice": "generate"},
    ),
    Case("tokens", "get", url("tokens"), everyone(200)),
    Case("tokens", "post", url("tokens"), everyone(200), lambda w: {"name": "ci"}),
    # someone else's token: only a panel admin may revoke it; to the others it does not exist
    Case("token_revoke", "get", url("token_revoke", viewers_token), admins_only(200, 404)),
    Case("token_revoke", "post", url("token_revoke", viewers_token), admins_only(302, 404)),
]
# the viewer's own token
CASES[-2].expected["viewer"] = 200
CASES[-1].expected["viewer"] = 302


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


def test_refused_writes_change_nothing(world: World, client_as: ClientAs) -> None:
    operator = client_as("operator")
    operator.post(reverse("manage:user_create"), NEW_USER)
    operator.post(reverse("manage:user_password", args=[viewer_pk(world)]), NEW_USER)
    assert not User.objects.filter(username="dana").exists()
    assert world.users["viewer"].password == User.objects.get(username="viewer").password
    token = viewers_token(world)
    assert operator.post(reverse("token_revoke", args=[token])).status_code == 404
    assert ApiToken.objects.get(pk=token).revoked_at is None


def test_every_form_needs_its_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["superuser"])
    token = viewers_token(world)
    for target in (
        reverse("manage:user_create"),
        reverse("manage:user_edit", args=[viewer_pk(world)]),
        reverse("manage:user_password", args=[viewer_pk(world)]),
        reverse("tokens"),
        reverse("token_revoke", args=[token]),
    ):
        assert client.post(target, NEW_USER | {"name": "x"}).status_code == 403, target
        page = client.get(target)
        assert b'name="csrfmiddlewaretoken"' in page.content, target
    assert not User.objects.filter(username="dana").exists()
    assert ApiToken.objects.get(pk=token).revoked_at is None


# --- users: create, edit, deactivate, reset password --------------------------------------------


def signs_in(username: str, password: str) -> bool:
    """Whether the login form lets ``username`` in with ``password`` (a fresh browser)."""
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def events(action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_creating_a_user_with_a_generated_password_shows_it_once(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    data = NEW_USER | {"first_name": "Dana", "last_name": "Scully", "is_auditor": "on"}
    page = admin.post(reverse("manage:user_create"), data)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    password = page.context["password"]
    assert password.encode() in page.content
    assert b"it will not be shown again" in page.content
    dana = User.objects.get(username="dana")
    assert dana.check_password(password) and dana.get_full_name() == "Dana Scully"
    assert not dana.is_superuser
    detail = admin.get(reverse("manage:user", args=[dana.pk]))
    assert password.encode() not in detail.content
    assert b"Audit reviewer" in detail.content

    [created] = events("user.create")
    assert (created.outcome, created.actor_username) == ("succeeded", "superuser")
    assert created.payload["user"] == "dana" and created.payload["is_auditor"] is True
    [auditor] = events("user.auditor_change")
    assert (auditor.actor_username, auditor.payload["user"]) == ("superuser", "dana")
    assert password not in str(AuditEvent.objects.values_list("payload", flat=True))
    assert signs_in("dana", password)


def test_a_panel_admin_and_a_user_without_password_yet(world: World, client_as: ClientAs) -> None:
    admin = client_as("superuser")
    data = NEW_USER | {"password_choice": "later", "is_superuser": "on"}
    response = admin.post(reverse("manage:user_create"), data)
    dana = User.objects.get(username="dana")
    assert response.status_code == 302
    assert response["Location"] == reverse("manage:user", args=[dana.pk])
    assert dana.is_superuser and not dana.has_usable_password()
    assert events("user.create")[0].payload["is_superuser"] is True
    assert b"None yet" in admin.get(response["Location"]).content


def test_a_typed_password_is_checked_by_the_same_rules_as_the_api(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    data = NEW_USER | {"password_choice": "type", "password": "123"}
    page = admin.post(reverse("manage:user_create"), data)
    assert page.status_code == 200
    assert "password" in page.context["form"].errors
    assert not User.objects.filter(username="dana").exists()
    assert events("user.create")[0].outcome == "failed"
    taken = admin.post(reverse("manage:user_create"), NEW_USER | {"username": "viewer"})
    assert "A user with that username already exists." in taken.context["form"].errors["username"]


def test_editing_sends_only_what_changed_and_deactivation_is_its_own_event(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    viewer = world.users["viewer"]
    target = reverse("manage:user_edit", args=[viewer.pk])
    admin.post(target, {"email": "v@example.invalid", "first_name": "Vera", "is_active": "on"})
    viewer.refresh_from_db()
    assert (viewer.email, viewer.first_name) == ("v@example.invalid", "Vera")
    assert viewer.is_active
    [update] = events("user.update")
    assert update.actor_username == "superuser" and update.payload["user"] == "viewer"
    assert update.payload["email"] == "v@example.invalid" and "is_active" not in update.payload
    assert not events("user.auditor_change")

    admin.post(target, {"email": "v@example.invalid", "is_auditor": "on"})
    viewer.refresh_from_db()
    assert not viewer.is_active
    [deactivated] = events("user.deactivate")
    assert (deactivated.actor_username, deactivated.payload) == ("superuser", {"user": "viewer"})
    [auditor] = events("user.auditor_change")
    assert auditor.payload == {"user": "viewer", "is_auditor": True, "was_auditor": False}
    # a deactivated user cannot sign in; ticking Active again lets them
    assert not signs_in("viewer", PASSWORD)
    admin.post(target, {"email": "v@example.invalid", "is_auditor": "on", "is_active": "on"})
    assert signs_in("viewer", PASSWORD)
    assert events("user.update")[-1].payload["is_active"] is True


def test_an_admin_cannot_deactivate_themselves(world: World, client_as: ClientAs) -> None:
    admin = client_as("superuser")
    me = world.users["superuser"]
    page = admin.post(reverse("manage:user_edit", args=[me.pk]), {"email": "a@example.invalid"})
    assert page.status_code == 200
    assert b"You cannot deactivate your own account." in page.content
    me.refresh_from_db()
    assert me.is_active
    assert events("user.deactivate")[0].outcome == "failed"


def test_resetting_a_password_generated_or_typed(world: World, client_as: ClientAs) -> None:
    admin = client_as("superuser")
    viewer = world.users["viewer"]
    signed_in = client_as("viewer")
    target = reverse("manage:user_password", args=[viewer.pk])
    page = admin.post(target, {"password_choice": "generate"})
    password = page.context["password"]
    assert password.encode() in page.content and "no-store" in page["Cache-Control"]
    assert signs_in("viewer", password)
    assert not signs_in("viewer", PASSWORD)
    # their other sessions end with the old password
    assert signed_in.get(reverse("tokens")).status_code == 302
    [reset] = events("user.password_reset")
    assert (reset.outcome, reset.actor_username) == ("succeeded", "superuser")
    assert reset.payload == {"user": "viewer", "generated": True}

    typed = admin.post(target, {"password_choice": "type", "password": "Another-pass-9876"})
    assert typed.status_code == 302
    assert signs_in("viewer", "Another-pass-9876")
    assert events("user.password_reset")[-1].payload["generated"] is False
    weak = admin.post(target, {"password_choice": "type", "password": "password"})
    assert weak.status_code == 200 and "password" in weak.context["form"].errors
    assert events("user.password_reset")[-1].outcome == "failed"


def test_the_directory_keeps_the_password_of_its_users(world: World, client_as: ClientAs) -> None:
    admin = client_as("superuser")
    alice = UserFactory.create(username="alice")
    alice.set_unusable_password()
    alice.save()
    DirectoryAccount.objects.create(user=alice, provider="oidc", subject="sub-alice")
    detail = admin.get(reverse("manage:user", args=[alice.pk]))
    assert b"signs in through the directory (OpenID Connect)" in detail.content
    assert reverse("manage:user_password", args=[alice.pk]).encode() not in detail.content
    page = admin.post(
        reverse("manage:user_password", args=[alice.pk]), {"password_choice": "generate"}
    )
    assert page.status_code == 200
    assert b"their password is the directory&#x27;s" in page.content
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    [refused] = events("user.password_reset")
    assert (refused.outcome, refused.payload["user"]) == ("failed", "alice")


def directory_user(username: str, **flags: bool) -> Any:
    """A user who signs in through OpenID Connect (no panel password)."""
    user = UserFactory.create(username=username)
    user.set_unusable_password()
    user.save()
    DirectoryAccount.objects.create(user=user, provider="oidc", subject=f"sub-{username}", **flags)
    return user


def test_the_api_refuses_a_password_for_a_directory_user_too(
    world: World, client_as: ClientAs
) -> None:
    directory_user("alice")
    response = client_as("superuser").patch(
        "/api/users/alice/", {"password": "A-good-pass-4821"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "the directory" in response.json()["errors"]["password"][0]
    assert not User.objects.get(username="alice").has_usable_password()
    [refused] = events("user.update")
    assert (refused.outcome, refused.actor_username) == ("failed", "superuser")


def test_the_edit_page_says_which_roles_the_directory_gave(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    given = directory_user("alice", auditor_from_directory=True)
    page = admin.get(reverse("manage:user_edit", args=[given.pk])).content.decode()
    assert "The directory gave the audit reviewer role" in page
    by_hand = directory_user("bob")
    page = admin.get(reverse("manage:user_edit", args=[by_hand.pk])).content.decode()
    assert "the directory only takes back the roles it gave" in page
    plain = admin.get(reverse("manage:user_edit", args=[viewer_pk(world)])).content.decode()
    assert "directory" not in plain


def test_only_panel_admins_reset_passwords_and_a_refusal_is_audited(world: World) -> None:
    viewer = world.users["viewer"]
    with pytest.raises(ActionDenied):
        user_services.reset_password(Actor(user=world.users["team_admin"]), viewer)
    [denied] = events("user.password_reset")
    assert (denied.outcome, denied.actor_username) == ("denied", "team_admin")
    assert denied.payload["user"] == "viewer"
    assert User.objects.get(pk=viewer.pk).check_password(PASSWORD)


def test_generated_passwords_pass_the_password_rules_and_differ() -> None:
    from django.contrib.auth.password_validation import validate_password

    made = {user_services.generate_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        validate_password(password)
        assert len(password) >= 20


# --- the list: search, filter, teams and roles, pages, queries --------------------------------


def test_the_list_shows_teams_and_roles_and_finds_by_name(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    world.users["outsider"].first_name = "Olga"
    world.users["outsider"].save()
    page = admin.get(reverse("manage:users")).content.decode()
    assert "Finance viewers</a> (team admin)" in page
    assert "Audit reviewer" in page and "Panel administrator" in page
    found = admin.get(reverse("manage:users"), {"q": "olg"})
    assert [u.username for u in found.context["page"].object_list] == ["outsider"]
    world.users["viewer"].is_active = False
    world.users["viewer"].save()
    inactive = admin.get(reverse("manage:users"), {"state": "inactive"})
    assert [u.username for u in inactive.context["page"].object_list] == ["viewer"]
    assert "Deactivated" in inactive.content.decode()
    active = admin.get(reverse("manage:users"), {"state": "active"}).context["page"].object_list
    assert "viewer" not in {u.username for u in active}


def test_the_list_is_paged(world: World, client_as: ClientAs) -> None:
    for n in range(55):
        UserFactory.create(username=f"bulk{n:02d}")
    admin = client_as("superuser")
    first = admin.get(reverse("manage:users"))
    assert len(first.context["page"].object_list) == 50
    assert b"Next page" in first.content
    second = admin.get(reverse("manage:users"), {"page": 2})
    assert len(second.context["page"].object_list) == 62 - 50


def count_queries(client: Client, path: str) -> int:
    """How many queries one page costs."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_user_pages_cost_the_same_queries_whatever_the_rows(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Any
) -> None:
    admin = client_as("superuser")
    users_page = reverse("manage:users")
    viewer_page = reverse("manage:user", args=[viewer_pk(world)])
    few = count_queries(admin, users_page), count_queries(admin, viewer_page)
    for n in range(10):
        user = UserFactory.create(username=f"more{n}")
        team = TeamFactory.create(slug=f"team-{n}")
        MembershipFactory.create(team=team, user=user)
        MembershipFactory.create(team=team, user=world.users["viewer"])
        DirectoryAccount.objects.create(user=user, provider="ldap", subject=f"cn=more{n}")
        token_services.create_token(Actor(source="cli"), world.users["viewer"], f"t{n}")
    assert (count_queries(admin, users_page), count_queries(admin, viewer_page)) == few
    with django_assert_max_num_queries(10):
        admin.get(users_page)


# --- API tokens ----------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works(world: World, client_as: ClientAs) -> None:
    client = client_as("operator")
    page = client.post(reverse("tokens"), {"name": "ci", "expires_days": "30", "read_only": "on"})
    plaintext = page.context["plaintext"]
    assert plaintext.encode() in page.content and "no-store" in page["Cache-Control"]
    assert b"it will not be shown again" in page.content
    assert plaintext.encode() not in client.get(reverse("tokens")).content
    token = ApiToken.objects.get(user=world.users["operator"])
    assert (token.name, token.read_only, token.expires_at is not None) == ("ci", True, True)
    me = Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert me.status_code == 200 and me.json()["username"] == "operator"
    [created] = events("token.create")
    assert (created.outcome, created.actor_username) == ("succeeded", "operator")
    assert created.payload["user"] == "operator" and created.payload["read_only"] is True
    assert plaintext not in str(created.payload)


def test_each_persona_sees_only_their_own_tokens(world: World, client_as: ClientAs) -> None:
    for persona, user in world.users.items():
        if user is not None:
            token_services.create_token(Actor(source="cli"), user, f"token of {persona}")
    for persona in PERSONAS:
        if persona == "anonymous":
            continue
        shown = client_as(persona).get(reverse("tokens")).context["tokens"]
        assert [t.name for t in shown] == [f"token of {persona}"], persona


def test_revoking_asks_first_then_stops_the_token(world: World, client_as: ClientAs) -> None:
    client = client_as("viewer")
    _, plaintext = token_services.create_token(Actor(source="cli"), world.users["viewer"], "cron")
    token = ApiToken.objects.get(name="cron")
    confirm = client.get(reverse("token_revoke", args=[token.pk]))
    assert b"Revoke the token" in confirm.content
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    done = client.post(reverse("token_revoke", args=[token.pk]))
    assert done["Location"] == reverse("tokens")
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401
    [revoked] = events("token.revoke")
    assert (revoked.outcome, revoked.actor_username) == ("succeeded", "viewer")
    assert (revoked.payload["user"], revoked.payload["id"]) == ("viewer", token.pk)


def test_an_admin_sees_and_revokes_anyones_token_from_their_page(
    world: World, client_as: ClientAs
) -> None:
    admin = client_as("superuser")
    token = viewers_token(world)
    detail = admin.get(reverse("manage:user", args=[viewer_pk(world)]))
    assert b"viewer&#x27;s" in detail.content
    assert reverse("token_revoke", args=[token]).encode() in detail.content
    done = admin.post(reverse("token_revoke", args=[token]))
    assert done["Location"] == reverse("manage:user", args=[viewer_pk(world)])
    [revoked] = events("token.revoke")
    assert (revoked.actor_username, revoked.payload["user"]) == ("superuser", "viewer")
    # the admin's own token page lists only the admin's tokens
    assert not admin.get(reverse("tokens")).context["tokens"]


def test_the_token_list_costs_the_same_queries_whatever_the_rows(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("viewer")
    few = count_queries(client, reverse("tokens"))
    for n in range(10):
        token_services.create_token(Actor(source="cli"), world.users["viewer"], f"t{n}")
    assert count_queries(client, reverse("tokens")) == few


def test_navigation_links_the_tokens_page_and_the_api_docs(
    world: World, client_as: ClientAs
) -> None:
    for persona in ("viewer", "superuser"):
        page = client_as(persona).get(reverse("runs")).content.decode()
        assert f'href="{reverse("tokens")}"' in page
        assert f'href="{reverse("api:docs")}"' in page
    assert reverse("api:docs") not in Client().get(reverse("login")).content.decode()
    index = client_as("superuser").get(reverse("manage:index")).content.decode()
    assert f'href="{reverse("manage:users")}"' in index
    team_admins = client_as("team_admin").get(reverse("manage:index")).content.decode()
    assert reverse("manage:users") not in team_admins


def test_the_pages_carry_no_inline_script_or_style(world: World, client_as: ClientAs) -> None:
    admin = client_as("superuser")
    viewer = viewer_pk(world)
    pages = [
        admin.get(path)
        for path in (
            reverse("manage:users"),
            reverse("manage:user", args=[viewer]),
            reverse("manage:user_edit", args=[viewer]),
            reverse("manage:user_password", args=[viewer]),
            reverse("token_revoke", args=[viewers_token(world)]),
        )
    ]
    pages.append(admin.post(reverse("manage:user_create"), NEW_USER))
    pages.append(admin.post(reverse("tokens"), {"name": "ci"}))
    for response in pages:
        page = response.content.decode()
        assert response.status_code == 200
        assert "<style" not in page and " style=" not in page
        for tag in page.split("<script")[1:]:
            assert tag.split(">", 1)[0].strip().startswith("src="), tag[:80]
    assert "/js/copy" in pages[-1].content.decode()


def test_a_signed_in_non_admin_is_told_who_manages_users(client_as: ClientAs) -> None:
    response = client_as("operator").get(reverse("manage:users"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Only panel admins manage users" in page and 'aria-label="Main"' in page
