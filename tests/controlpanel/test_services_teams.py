"""Team services: who may change teams, members and grants, and what each change records."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, DagGrant, Team, TeamMembership
from controlpanel.permissions import ActionDenied, DagAction, access_for
from controlpanel.services import teams as services
from tests.factories import DagFactory, MembershipFactory, UserFactory
from tests.world import PERSONAS, World

ADMIN = TeamMembership.Role.ADMIN
MEMBER = TeamMembership.Role.MEMBER
NON_SUPERUSERS = [p for p in PERSONAS if p != "superuser"]


def actor(world: World, persona: str = "superuser") -> Actor:
    """The actor of one persona."""
    return Actor(user=world.users[persona])


def last_event(action: str) -> AuditEvent:
    """The newest audit event of one action."""
    event = AuditEvent.objects.filter(action=action).order_by("-id").first()
    assert event is not None, f"no {action} event"
    return event


def role_of(team: Team, user: Any) -> str | None:
    """The user's role in the team, or None."""
    membership = TeamMembership.objects.filter(team=team, user=user).first()
    return membership.role if membership else None


def fresh(user: Any) -> Any:
    """The user re-read from the database (no cached rights)."""
    return get_user_model().objects.get(pk=user.pk)


# --- teams ---------------------------------------------------------------------------------


def test_superuser_creates_a_team_and_it_is_audited(world: World) -> None:
    team = services.create_team(
        actor(world), name=" Data science ", slug="data-science", description="Models"
    )
    assert Team.objects.get(slug="data-science").name == "Data science"
    event = last_event("team.create")
    assert (event.outcome, event.actor_username) == ("succeeded", "superuser")
    assert event.payload == {
        "name": "Data science",
        "slug": "data-science",
        "description": "Models",
    }
    assert team.pk is not None


def test_a_taken_slug_is_refused_and_recorded_as_failed(world: World) -> None:
    with pytest.raises(ValidationError) as refused:
        services.create_team(actor(world), name="Another", slug="etl-ops")
    assert "slug" in refused.value.message_dict
    event = last_event("team.create")
    assert event.outcome == "failed" and "already exists" in event.message


def test_update_records_the_changes_and_a_refusal_leaves_the_team_as_it_was(
    world: World,
) -> None:
    team = world.teams["etl-ops"]
    services.update_team(actor(world), team, name="ETL on call", description="Night shift")
    assert last_event("team.update").payload == {
        "team": "etl-ops",
        "name": "ETL on call",
        "description": "Night shift",
    }
    with pytest.raises(ValidationError):
        services.update_team(actor(world), team, slug="finance-viewers")
    assert team.slug == "etl-ops"
    assert last_event("team.update").outcome == "failed"


@pytest.mark.parametrize("persona", NON_SUPERUSERS)
def test_only_superusers_create_and_change_teams_and_grants(world: World, persona: str) -> None:
    who = actor(world, persona)
    team = world.teams["finance-viewers"]  # team_admin's own team: still not theirs to change
    grant = team.grants.get()
    attempts = [
        ("team.create", lambda: services.create_team(who, name="Mine", slug="mine")),
        ("team.update", lambda: services.update_team(who, team, name="Mine")),
        (
            "grant.add",
            lambda: services.add_grant(
                who, team, profile=world.prod, dag_ids=["x"], dag_patterns=[], tags=[], level="view"
            ),
        ),
        ("grant.remove", lambda: services.remove_grant(who, grant)),
        ("user.auditor_change", lambda: services.set_auditor(who, world.users["outsider"], True)),
    ]
    for action, attempt in attempts:
        with pytest.raises(ActionDenied):
            attempt()
        event = last_event(action)
        assert event.outcome == "denied"
        assert event.actor_username == ("" if persona == "anonymous" else persona)
    assert not Team.objects.filter(slug="mine").exists()
    assert Team.objects.get(pk=team.pk).name == "Finance viewers"
    assert DagGrant.objects.filter(pk=grant.pk).exists()
    assert not access_for(fresh(world.users["outsider"])).is_auditor


# --- members -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["superuser", "team_admin"])
def test_superusers_and_the_teams_admins_manage_its_members(world: World, persona: str) -> None:
    team, who = world.teams["finance-viewers"], actor(world, persona)
    newcomer = UserFactory.create(username="newcomer")
    services.add_member(who, team, newcomer, MEMBER)
    assert role_of(team, newcomer) == MEMBER
    assert last_event("member.add").payload == {
        "team": "finance-viewers",
        "user": "newcomer",
        "role": "member",
    }
    assert access_for(fresh(newcomer)).can(DagAction.VIEW, world.dag("prod/finance_daily"))

    services.change_member_role(who, team, newcomer, ADMIN)
    assert role_of(team, newcomer) == ADMIN
    event = last_event("member.role_change")
    assert event.payload == {
        "team": "finance-viewers",
        "user": "newcomer",
        "role": "admin",
        "old_role": "member",
    }
    assert event.actor_username == persona

    services.remove_member(who, team, newcomer)
    assert role_of(team, newcomer) is None
    assert last_event("member.remove").payload == {
        "team": "finance-viewers",
        "user": "newcomer",
        "role": "admin",
    }
    assert list(access_for(fresh(newcomer)).visible_dags()) == []


@pytest.mark.parametrize("persona", ["team_admin", "viewer", "operator", "auditor", "outsider"])
def test_nobody_else_manages_members(world: World, persona: str) -> None:
    team = world.teams["etl-ops"]  # team_admin is admin of finance-viewers, not of this one
    who = actor(world, persona)
    target = world.users["operate_user"]
    attempts = [
        ("member.add", lambda: services.add_member(who, team, world.users["outsider"], MEMBER)),
        ("member.role_change", lambda: services.change_member_role(who, team, target, ADMIN)),
        ("member.remove", lambda: services.remove_member(who, team, target)),
    ]
    for action, attempt in attempts:
        with pytest.raises(ActionDenied):
            attempt()
        event = last_event(action)
        assert (event.outcome, event.actor_username) == ("denied", persona)
        assert event.payload["team"] == "etl-ops"
    assert role_of(team, target) == MEMBER
    assert role_of(team, world.users["outsider"]) is None


def test_adding_someone_twice_or_with_a_made_up_role_is_refused(world: World) -> None:
    team = world.teams["finance-viewers"]
    with pytest.raises(ValidationError, match="viewer is already in Finance viewers"):
        services.add_member(actor(world), team, world.users["viewer"], ADMIN)
    assert last_event("member.add").outcome == "failed"
    with pytest.raises(ValidationError, match="Choose a role"):
        services.add_member(actor(world), team, world.users["outsider"], "owner")
    assert role_of(team, world.users["outsider"]) is None
    with pytest.raises(ValidationError, match="outsider is not in Finance viewers"):
        services.remove_member(actor(world), team, world.users["outsider"])
    assert last_event("member.remove").outcome == "failed"


def test_the_last_team_admin_cannot_remove_or_demote_themselves(world: World) -> None:
    team, me = world.teams["finance-viewers"], world.users["team_admin"]
    for action, attempt in [
        ("member.remove", lambda: services.remove_member(actor(world, "team_admin"), team, me)),
        (
            "member.role_change",
            lambda: services.change_member_role(actor(world, "team_admin"), team, me, MEMBER),
        ),
    ]:
        with pytest.raises(ValidationError, match="You are the last team admin of Finance viewers"):
            attempt()
        assert last_event(action).outcome == "failed"
    assert role_of(team, me) == ADMIN


def test_a_team_admin_may_leave_when_another_admin_remains(world: World) -> None:
    team, me = world.teams["finance-viewers"], world.users["team_admin"]
    MembershipFactory.create(team=team, user=UserFactory.create(username="deputy"), role=ADMIN)
    services.remove_member(actor(world, "team_admin"), team, me)
    assert role_of(team, me) is None


def test_a_superuser_may_remove_the_last_team_admin(world: World) -> None:
    team, admin = world.teams["finance-viewers"], world.users["team_admin"]
    services.remove_member(actor(world), team, admin)
    assert role_of(team, admin) is None


# --- grants ----------------------------------------------------------------------------------


def test_add_grant_cleans_the_selector_and_gives_access(world: World) -> None:
    team = world.teams["etl-ops"]
    grant = services.add_grant(
        actor(world),
        team,
        profile=world.prod,
        dag_ids=[" marketing_sync ", "marketing_sync", ""],
        dag_patterns=["finance_m*", " "],
        tags=["reporting", "reporting"],
        level="trigger",
    )
    assert (grant.dag_ids, grant.dag_patterns, grant.tags) == (
        ["marketing_sync"],
        ["finance_m*"],
        ["reporting"],
    )
    assert grant.created_by == world.users["superuser"]
    event = last_event("grant.add")
    assert (event.outcome, event.profile_slug) == ("succeeded", "prod")
    assert event.payload == {
        "team": "etl-ops",
        "profile": "prod",
        "level": "trigger",
        "dag_ids": ["marketing_sync"],
        "dag_patterns": ["finance_m*"],
        "tags": ["reporting"],
        "requires_approval": False,
        "approver_team": None,
        "approval_for_operate": False,
    }
    visible = {d.dag_id for d in access_for(fresh(world.users["operate_user"])).visible_dags()}
    assert visible == {"orders_etl", "marketing_sync", "finance_monthly"}


@pytest.mark.parametrize(
    ("selector", "level", "message"),
    [
        ({"dag_ids": [" "], "dag_patterns": [""], "tags": []}, "view", "at least one"),
        ({"dag_ids": ["finance daily"], "dag_patterns": [], "tags": []}, "view", "not a DAG id"),
        ({"dag_ids": [], "dag_patterns": ["finance_[a-z]"], "tags": []}, "view", "not a DAG id"),
        ({"dag_ids": ["a"], "dag_patterns": [], "tags": []}, "admin", "Choose a level"),
    ],
)
def test_bad_grants_are_refused_and_recorded(
    world: World, selector: dict[str, Any], level: str, message: str
) -> None:
    team = world.teams["etl-ops"]
    with pytest.raises(ValidationError, match=message):
        services.add_grant(actor(world), team, profile=world.prod, level=level, **selector)
    assert team.grants.count() == 1
    event = last_event("grant.add")
    assert event.outcome == "failed" and message in event.message


def test_remove_grant_takes_the_access_away_and_is_audited(world: World) -> None:
    grant = world.teams["etl-ops"].grants.get()
    grant_id = grant.pk
    services.remove_grant(actor(world), grant)
    assert not DagGrant.objects.filter(pk=grant_id).exists()
    event = last_event("grant.remove")
    assert event.outcome == "succeeded" and event.profile_slug == "prod"
    assert event.payload == {
        "id": grant_id,
        "team": "etl-ops",
        "profile": "prod",
        "level": "operate",
        "dag_ids": [],
        "dag_patterns": [],
        "tags": ["etl"],
        "requires_approval": False,
        "approver_team": None,
        "approval_for_operate": False,
    }
    assert list(access_for(fresh(world.users["operate_user"])).visible_dags()) == []


def test_preview_matches_by_id_pattern_and_tag_on_one_profile_only(world: World) -> None:
    DagFactory.create(profile=world.prod, dag_id="finance.daily", tags=["x"])

    def preview(**selector: list[str]) -> list[str]:
        base: dict[str, list[str]] = {"dag_ids": [], "dag_patterns": [], "tags": []}
        return [d.dag_id for d in services.preview_grant(world.prod, **{**base, **selector})]

    assert preview(dag_ids=["finance_daily", "missing"]) == ["finance_daily"]
    assert preview(dag_patterns=["finance_*"]) == ["finance_daily", "finance_monthly"]
    assert preview(dag_patterns=["finance.d?ily"]) == ["finance.daily"]  # "." is literal
    assert preview(tags=["etl", "reporting"]) == ["finance_monthly", "orders_etl"]
    assert preview(tags=["Finance"]) == []  # tags match exactly
    assert preview(dag_ids=[" "]) == []
    assert [
        d.profile.slug
        for d in services.preview_grant(
            world.staging, dag_ids=["finance_daily"], dag_patterns=[], tags=[]
        )
    ] == ["staging"]
    assert DagGrant.objects.count() == 3  # nothing saved


# --- audit reviewers ---------------------------------------------------------------------------


def test_superuser_makes_and_unmakes_an_auditor(world: World) -> None:
    outsider = world.users["outsider"]
    assert not access_for(outsider).is_auditor
    services.set_auditor(actor(world), outsider, True)
    assert access_for(outsider).is_auditor  # the caches on the object were dropped
    assert access_for(fresh(outsider)).can_review_audit
    assert last_event("user.auditor_change").payload == {
        "user": "outsider",
        "is_auditor": True,
        "was_auditor": False,
    }
    services.set_auditor(actor(world), world.users["auditor"], False)
    assert not access_for(fresh(world.users["auditor"])).is_auditor
    event = last_event("user.auditor_change")
    assert event.payload["was_auditor"] is True and event.outcome == "succeeded"


# --- deleting a team -----------------------------------------------------------------------


def test_deleting_a_team_takes_its_members_and_grants_and_is_audited(world: World) -> None:
    team = world.teams["etl-ops"]
    services.delete_team(actor(world), team)
    assert not Team.objects.filter(slug="etl-ops").exists()
    assert not DagGrant.objects.filter(team__slug="etl-ops").exists()
    event = last_event("team.delete")
    assert (event.outcome, event.actor_username) == ("succeeded", "superuser")
    assert event.payload["team"] == "etl-ops" and event.payload["members"] == ["operate_user"]
    assert event.payload["grants"][0]["tags"] == ["etl"]


def test_only_a_panel_admin_deletes_a_team_and_the_denial_is_kept(world: World) -> None:
    team = world.teams["finance-viewers"]
    with pytest.raises(ActionDenied):
        services.delete_team(actor(world, "team_admin"), team)
    assert Team.objects.filter(pk=team.pk).exists()
    event = last_event("team.delete")
    assert (event.outcome, event.message) == ("denied", services.ONLY_ADMINS)
