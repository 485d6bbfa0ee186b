"""Directory sign-in: first sign-in makes the account, every sign-in syncs teams and roles."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from pytest_django import DjangoAssertNumQueries

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, DirectoryAccount, TeamMembership
from controlpanel.permissions import ActionDenied, access_for
from controlpanel.services import directory
from controlpanel.services import teams as team_services
from controlpanel.services import users as user_services
from controlpanel.services.directory import (
    DirectoryIdentity,
    reconcile_directory_user,
    sign_in_from_directory,
)
from tests.factories import MembershipFactory, UserFactory
from tests.world import World, make_auditor

FINANCE_DN = "cn=Finance,ou=groups,dc=example,dc=org"
VIEWERS = "finance-viewers"
OPS = "etl-ops"


@pytest.fixture
def mapped(world: World, settings: Any) -> World:
    """finance-viewers maps the finance group (by DN), etl-ops the "etl" group by name."""
    world.teams[VIEWERS].directory_groups = [FINANCE_DN]
    world.teams[VIEWERS].save()
    world.teams[OPS].directory_groups = ["etl", "data-platform"]
    world.teams[OPS].save()
    settings.DIRECTORY_ROLE_GROUPS = {
        "oidc": {"admin": ["panel-admins"], "auditor": ["auditors"]},
        "ldap": {"admin": [], "auditor": []},
    }
    return world


def sign_in(*groups: str, username: str = "dana", subject: str = "sub-dana") -> Any:
    """Sign dana in through OpenID Connect with these groups; the user re-read afterwards."""
    identity = DirectoryIdentity(
        provider="oidc",
        subject=subject,
        username=username,
        email=f"{username}@example.invalid",
        groups=groups,
    )
    user, _ = sign_in_from_directory(identity, ip_address="192.0.2.7")
    return get_user_model().objects.get(pk=user.pk)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def teams_of(user: Any) -> dict[str, str]:
    """team slug -> how the user joined it."""
    rows = TeamMembership.objects.filter(user=user).values_list("team__slug", "source")
    return dict(rows)


def visible_dag_ids(user: Any) -> set[str]:
    return {f"{d.profile.slug}/{d.dag_id}" for d in access_for(user).visible_dags()}


# --- first sign-in -----------------------------------------------------------------------


def test_first_sign_in_creates_the_user_and_puts_them_in_the_mapped_team(mapped: World) -> None:
    user = sign_in("cn=finance,OU=Groups,dc=example,dc=org", "unmapped")

    assert not user.has_usable_password()  # signs in through the directory only
    account = DirectoryAccount.objects.get(user=user)
    assert (account.provider, account.subject) == ("oidc", "sub-dana")
    assert teams_of(user) == {VIEWERS: "directory"}  # DNs compare without regard to case
    assert visible_dag_ids(user) == {"prod/finance_daily", "prod/finance_monthly"}
    [created] = events("user.create")
    assert created.source == AuditEvent.Source.DIRECTORY
    assert created.actor == user
    assert created.ip_address == "192.0.2.7"
    assert created.payload == {
        "user": "dana",
        "email": "dana@example.invalid",
        "source": "directory",
        "provider": "oidc",
    }
    [added] = events("member.add")
    assert added.source == AuditEvent.Source.DIRECTORY
    assert added.payload == {
        "team": VIEWERS,
        "user": "dana",
        "role": "member",
        "groups": [FINANCE_DN],
        "source": "directory",
        "provider": "oidc",
    }


def test_the_successful_login_event_is_left_to_the_session_login(mapped: World) -> None:
    """django.contrib.auth.login records auth.login (signals): no second one from here."""
    sign_in(FINANCE_DN)
    assert events("auth.login") == []


def test_a_username_the_panel_cannot_use_is_refused_and_nothing_is_created(mapped: World) -> None:
    with pytest.raises(ValidationError):
        sign_in(FINANCE_DN, username="dana smith")
    assert not get_user_model().objects.filter(username="dana smith").exists()
    assert not DirectoryAccount.objects.exists()
    [attempt] = events("auth.login")
    assert attempt.outcome == AuditEvent.Outcome.FAILED
    assert attempt.actor_username == "dana smith"
    assert events("user.create") == events("member.add") == []


def test_an_account_made_by_hand_is_never_taken_over(mapped: World) -> None:
    """A directory user whose username is a hand-made account's is refused, not linked."""
    with pytest.raises(ActionDenied, match="rename or remove it first"):
        sign_in(FINANCE_DN, "panel-admins", username="outsider")
    outsider = get_user_model().objects.get(username="outsider")
    assert not outsider.is_superuser
    assert not DirectoryAccount.objects.exists()
    assert teams_of(outsider) == {}
    [attempt] = events("auth.login")
    assert attempt.outcome == AuditEvent.Outcome.DENIED
    assert attempt.source == AuditEvent.Source.DIRECTORY
    assert attempt.payload == {"provider": "oidc", "groups": [FINANCE_DN, "panel-admins"]}


def test_the_account_follows_the_subject_not_the_username(mapped: World) -> None:
    """Someone else given a recycled username later is not the same panel account."""
    sign_in(FINANCE_DN)
    with pytest.raises(ActionDenied):
        sign_in(FINANCE_DN, subject="sub-someone-else")
    assert DirectoryAccount.objects.count() == 1


# --- later sign-ins ----------------------------------------------------------------------


def test_someone_who_leaves_a_group_leaves_the_team_at_the_next_sign_in(mapped: World) -> None:
    sign_in(FINANCE_DN, "etl")
    user = sign_in("etl")

    assert teams_of(user) == {OPS: "directory"}
    assert visible_dag_ids(user) == {"prod/orders_etl"}
    [removed] = events("member.remove")
    assert removed.source == AuditEvent.Source.DIRECTORY
    assert removed.actor == user
    assert removed.payload == {
        "team": VIEWERS,
        "user": "dana",
        "role": "member",
        "source": "directory",
        "provider": "oidc",
    }
    account = DirectoryAccount.objects.get(user=user)
    assert account.groups == ["etl"]
    assert account.last_sign_in_at is not None


def test_a_sign_in_that_changes_nothing_writes_nothing(mapped: World) -> None:
    sign_in(FINANCE_DN, "etl")
    before = AuditEvent.objects.count()
    sign_in(FINANCE_DN, "etl")
    assert AuditEvent.objects.count() == before
    assert teams_of(get_user_model().objects.get(username="dana")) == {
        VIEWERS: "directory",
        OPS: "directory",
    }


def test_memberships_added_by_hand_are_never_removed_by_the_sync(mapped: World) -> None:
    user = sign_in(FINANCE_DN)
    superuser = Actor(user=mapped.users["superuser"])
    team_services.add_member(superuser, mapped.teams[OPS], user, "member")
    team_services.add_member(superuser, mapped.teams["finance-triggerers"], user, "member")

    user = sign_in()  # in no group any more

    assert teams_of(user) == {OPS: "manual", "finance-triggerers": "manual"}
    assert [e.payload["team"] for e in events("member.remove")] == [VIEWERS]


def test_a_hand_made_membership_in_a_mapped_team_is_kept_as_it_is(mapped: World) -> None:
    """Already in the team by hand: the group changes nothing, leaving it neither."""
    user = sign_in()
    MembershipFactory.create(team=mapped.teams[VIEWERS], user=user, role="admin")
    sign_in(FINANCE_DN)
    user = sign_in()
    membership = TeamMembership.objects.get(user=user)
    assert (membership.team.slug, membership.source, membership.role) == (
        VIEWERS,
        "manual",
        "admin",
    )
    assert events("member.add") == events("member.remove") == []


def test_a_team_no_longer_mapping_the_group_loses_its_directory_members(mapped: World) -> None:
    sign_in(FINANCE_DN)
    team_services.update_team(
        Actor(user=mapped.users["superuser"]), mapped.teams[VIEWERS], directory_groups=[]
    )
    user = sign_in(FINANCE_DN)
    assert teams_of(user) == {}


def test_a_user_disabled_in_the_panel_stays_refused(mapped: World) -> None:
    user = sign_in(FINANCE_DN)
    user_services.deactivate_user(Actor(user=mapped.users["superuser"]), user)

    with pytest.raises(ActionDenied, match="disabled in the panel"):
        sign_in("etl", "panel-admins")

    user.refresh_from_db()
    assert not user.is_active and not user.is_superuser
    assert teams_of(user) == {VIEWERS: "directory"}  # nothing synced while refused
    [attempt] = events("auth.login")
    assert (attempt.outcome, attempt.actor) == (AuditEvent.Outcome.DENIED, user)
    assert attempt.message == "This account is disabled in the panel: ask a panel administrator."


# --- roles ---------------------------------------------------------------------------------


def test_auditor_and_admin_groups_grant_the_roles_and_take_them_back(mapped: World) -> None:
    user = sign_in("auditors", "panel-admins")
    assert access_for(user).is_auditor and access_for(user).is_superuser
    assert [e.payload for e in events("user.auditor_change")] == [
        {
            "user": "dana",
            "is_auditor": True,
            "was_auditor": False,
            "source": "directory",
            "provider": "oidc",
        }
    ]
    [granted] = events("user.admin_change")
    assert granted.payload["is_admin"] is True
    assert granted.source == AuditEvent.Source.DIRECTORY

    user = sign_in("auditors")
    assert access_for(user).is_auditor and not access_for(user).is_superuser
    assert not user.is_staff
    assert [e.payload["is_admin"] for e in events("user.admin_change")] == [True, False]

    user = sign_in()
    assert not access_for(user).is_auditor
    assert [e.payload["is_auditor"] for e in events("user.auditor_change")] == [True, False]


def test_roles_given_by_hand_are_never_taken_back_by_the_sync(mapped: World) -> None:
    user = sign_in()
    user.is_superuser = True
    user.save()
    make_auditor(user)

    sign_in("auditors", "panel-admins")  # already has both: nothing granted, nothing noted
    user = sign_in()

    assert access_for(user).is_superuser and access_for(user).is_auditor
    assert events("user.admin_change") == events("user.auditor_change") == []


def test_each_provider_uses_its_own_role_groups(mapped: World) -> None:
    """The mapping is per provider: LDAP's (empty here) does not read OpenID Connect's."""
    identity = DirectoryIdentity(
        provider="ldap", subject="uid=lee,dc=example,dc=org", username="lee", groups=("auditors",)
    )
    user, changes = sign_in_from_directory(identity)
    assert changes.created and changes.roles_granted == []
    assert not access_for(user).is_auditor


def test_reconcile_reports_what_it_changed(mapped: World) -> None:
    sign_in(FINANCE_DN)
    account = DirectoryAccount.objects.select_related("user").get()
    actor = Actor(user=account.user, source=AuditEvent.Source.DIRECTORY)
    changes = reconcile_directory_user(actor, account, ["data-platform", "auditors"])
    assert changes.teams_joined == [OPS]
    assert changes.teams_left == [VIEWERS]
    assert changes.roles_granted == ["auditor"]
    assert changes.roles_revoked == []


def test_the_sign_in_query_count_does_not_grow_with_the_number_of_teams(
    mapped: World, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    for number in range(30):
        team = team_services.create_team(
            Actor(user=mapped.users["superuser"]), name=f"Team {number}", slug=f"team-{number}"
        )
        team.directory_groups = [f"group-{number}"]
        team.save()
    sign_in()
    UserFactory.create(username="unrelated")
    with django_assert_max_num_queries(16):
        sign_in("group-1")


# --- two first sign-ins at the same moment ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_first_sign_ins_at_the_same_moment_make_one_account(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both threads find no account and insert; the later one uses the earlier one's account.

    A barrier lines both up just before the insert, where the race was (the second got a
    500 from the unique username); transaction=True: each thread commits for real.
    PostgreSQL only: SQLite's deferred transactions make the second writer fail with
    "database is locked" before any insert, whatever the service does.
    """
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (as in production)")
    settings.DIRECTORY_ROLE_GROUPS = {"oidc": {"admin": [], "auditor": []}}
    identity = DirectoryIdentity("oidc", "sub-zoe", "zoe", groups=())
    both_looked = threading.Barrier(2, timeout=30)
    real_create = directory._create_account
    results: list[Any] = []
    errors: list[BaseException] = []

    def create_after_both_looked(actor: Actor, ident: DirectoryIdentity) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_looked.wait()  # only the first attempt of each thread meets here
        return real_create(actor, ident)

    def sign_in() -> None:
        try:
            results.append(sign_in_from_directory(identity))
        except BaseException as exc:  # reported below
            errors.append(exc)
            both_looked.abort()
        finally:
            connection.close()

    monkeypatch.setattr(directory, "_create_account", create_after_both_looked)
    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len({user.pk for user, _ in results}) == 1
    assert sorted(changes.created for _, changes in results) == [False, True]
    assert DirectoryAccount.objects.filter(subject="sub-zoe").count() == 1
    assert AuditEvent.objects.filter(action="user.create").count() == 1
