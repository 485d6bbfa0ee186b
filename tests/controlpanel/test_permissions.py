"""The permission module: every persona x every DAG action, grants by id, pattern and tag."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import Http404

from controlpanel.permissions import ActionDenied, DagAction, access_for
from tests.factories import GrantFactory, MembershipFactory, RunFactory, TeamFactory, UserFactory
from tests.world import PERSONAS, World

V, T, P, R, S = (
    DagAction.VIEW,
    DagAction.TRIGGER,
    DagAction.PAUSE,
    DagAction.RETRY,
    DagAction.SET_RUN_STATE,
)
ALL = {V, T, P, R, S}

# persona -> DAG ("profile/dag_id") -> the actions allowed there; absent: not even visible.
EXPECTED: dict[str, dict[str, set[DagAction]]] = {
    "superuser": {
        "prod/finance_daily": ALL,
        "prod/finance_monthly": ALL,
        "prod/marketing_sync": ALL,
        "prod/orders_etl": ALL,
        "staging/finance_daily": ALL,
        "staging/orders_etl": ALL,
    },
    "team_admin": {"prod/finance_daily": {V}, "prod/finance_monthly": {V}},  # by pattern
    "viewer": {"prod/finance_daily": {V}, "prod/finance_monthly": {V}},
    "operator": {"prod/finance_daily": {V, T}},  # by id
    "operate_user": {"prod/orders_etl": ALL},  # by tag; staging's orders_etl is not granted
    "auditor": {},
    "outsider": {},
    "anonymous": {},
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_sees_and_may_do_exactly_what_its_grants_say(
    world: World, persona: str
) -> None:
    access = access_for(world.users[persona])
    expected = EXPECTED[persona]
    visible = {f"{d.profile.slug}/{d.dag_id}" for d in access.visible_dags()}
    assert visible == set(expected)
    for key, dag in world.dags.items():
        allowed = {action for action in DagAction if access.can(action, dag)}
        assert allowed == expected.get(key, set()), f"{persona} on {key}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_get_dag_is_404_when_invisible_and_denied_when_visible_but_not_allowed(
    world: World, persona: str
) -> None:
    access = access_for(world.users[persona])
    for key in world.dags:
        profile_slug, dag_id = key.split("/")
        for action in DagAction:
            allowed = EXPECTED[persona].get(key)
            if allowed is None:
                with pytest.raises(Http404):
                    access.get_dag(profile_slug, dag_id, action)
            elif action in allowed:
                assert access.get_dag(profile_slug, dag_id, action).dag_id == dag_id
            else:
                with pytest.raises(ActionDenied) as err:
                    access.get_dag(profile_slug, dag_id, action)
                assert dag_id in err.value.message


def test_grant_on_one_profile_does_not_leak_the_same_dag_id_on_another(world: World) -> None:
    access = access_for(world.users["operator"])
    assert access.can(T, world.dag("prod/finance_daily"))
    assert not access.can(V, world.dag("staging/finance_daily"))
    assert [d.dag_id for d in access.visible_dags(world.staging)] == []


def test_rights_are_the_union_of_the_users_teams(world: World) -> None:
    viewer = world.users["viewer"]
    MembershipFactory.create(team=world.teams["etl-ops"], user=viewer)
    access = access_for(viewer)
    assert access.dag_permissions(world.dag("prod/finance_daily")) == ["view"]
    assert access.dag_permissions(world.dag("prod/orders_etl")) == ["view", "trigger", "operate"]
    assert {d.dag_id for d in access.visible_dags()} == {
        "finance_daily",
        "finance_monthly",
        "orders_etl",
    }


def test_tag_grants_match_exact_tags_only(world: World) -> None:
    user = UserFactory.create(username="tag_user")
    team = TeamFactory.create(slug="tagged")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(team=team, profile=world.prod, tags=["Finance", "report"], level="view")
    # "Finance" is not "finance", "report" is not "reporting": nothing matches.
    assert list(access_for(user).visible_dags()) == []


def test_patterns_are_globs_not_regexes(world: World) -> None:
    user = UserFactory.create(username="glob_user")
    team = TeamFactory.create(slug="globbers")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(team=team, profile=world.prod, dag_patterns=["*_etl", "finance.daily"])
    # "." is a literal dot in a glob, so finance.daily does not match finance_daily.
    assert {d.dag_id for d in access_for(user).visible_dags()} == {"orders_etl"}


def test_visible_runs_follow_visible_dags_and_auditors_see_all(world: World) -> None:
    mine = RunFactory.create(profile=world.prod, dag_id="finance_daily")
    other_profile = RunFactory.create(profile=world.staging, dag_id="finance_daily")
    hidden = RunFactory.create(profile=world.prod, dag_id="marketing_sync")
    assert set(access_for(world.users["viewer"]).visible_runs()) == {mine}
    assert set(access_for(world.users["auditor"]).visible_runs()) == {mine, other_profile, hidden}
    assert set(access_for(world.users["outsider"]).visible_runs()) == set()
    assert set(access_for(world.users["superuser"]).visible_runs()) == {mine, other_profile, hidden}


def test_team_admins_manage_only_their_own_team(world: World) -> None:
    access = access_for(world.users["team_admin"])
    assert access.can_manage_members(world.teams["finance-viewers"])
    assert not access.can_manage_members(world.teams["etl-ops"])
    assert not access.can_manage_teams()
    assert not access.can_manage_profiles
    assert not access_for(world.users["viewer"]).can_manage_members(world.teams["finance-viewers"])
    assert access_for(world.users["superuser"]).can_manage_members(world.teams["etl-ops"])


def test_auditor_role_reviews_audit_and_nothing_else(world: World) -> None:
    auditor = access_for(world.users["auditor"])
    assert auditor.is_auditor and auditor.can_review_audit
    assert not auditor.can_manage_profiles and not auditor.can_manage_teams()
    assert list(auditor.visible_dags()) == []
    assert not access_for(world.users["outsider"]).can_review_audit


def test_deactivated_user_has_no_rights(world: World) -> None:
    operator = world.users["operator"]
    operator.is_active = False
    operator.save()
    assert list(access_for(operator).visible_dags()) == []


def test_visible_dags_is_one_query_for_thousands(
    world: World, django_assert_num_queries: Any
) -> None:
    from controlpanel.models import Dag

    Dag.objects.bulk_create(
        [
            Dag(
                profile=world.prod,
                dag_id=f"finance_bulk_{i}",
                tag_index="|finance|",
                tags=["finance"],
            )
            for i in range(2000)
        ]
    )
    access = access_for(world.users["viewer"])
    access.grants()  # one query for the grants
    with django_assert_num_queries(1):
        assert len(list(access.visible_dags())) == 2002


# --- pages everyone may know exist: who manages something, and what a refusal says ---------


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_manage_anything_and_read_the_history(world: World, persona: str) -> None:
    access = access_for(world.users[persona])
    assert access.can_manage_anything() is (persona in {"superuser", "team_admin"})
    if persona in {"superuser", "auditor"}:
        access.require_audit_review()
    else:
        with pytest.raises(ActionDenied, match="ask an admin to give you the auditor role"):
            access.require_audit_review()


@pytest.mark.parametrize(
    ("persona", "team", "answer"),
    [
        ("superuser", "etl-ops", "team"),
        ("team_admin", "finance-viewers", "team"),
        ("viewer", "finance-viewers", "403"),  # a member knows the team exists
        ("team_admin", "etl-ops", "404"),  # not a member: the team does not exist for them
        ("outsider", "finance-viewers", "404"),
        ("superuser", "no-such-team", "404"),
    ],
)
def test_a_managed_team_or_the_refusal_that_fits(
    world: World, persona: str, team: str, answer: str
) -> None:
    access = access_for(world.users[persona])
    if answer == "team":
        assert access.get_managed_team(team).slug == team
    elif answer == "403":
        with pytest.raises(ActionDenied, match="Only this team's admins and panel admins"):
            access.get_managed_team(team)
    else:
        with pytest.raises(Http404):
            access.get_managed_team(team)
