"""Reads of teams, their grants and their notification subscriptions (pages and API)."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.http import Http404

from controlpanel.models import DagGrant, Subscription, Team
from controlpanel.permissions import Access


def all_teams() -> QuerySet[Team]:
    """Every team: what a grant may name by its slug as its approver team."""
    return Team.objects.all()


def teams_by_name() -> QuerySet[Team]:
    """Every team by name (the audit history's team filter)."""
    return Team.objects.order_by("name")


def visible_teams_by_name(access: Access) -> QuerySet[Team]:
    """The teams ``access`` may see (every one for panel admins), by name."""
    return access.visible_teams().order_by("name")


def visible_teams_with_counts(access: Access) -> QuerySet[Team]:
    """The visible teams by name, each with ``member_count`` and ``grant_count`` (one query)."""
    return (
        access.visible_teams()
        .annotate(
            member_count=Count("memberships", distinct=True),
            grant_count=Count("grants", distinct=True),
        )
        .order_by("name")
    )


def visible_team(access: Access, slug: str) -> Team:
    """The team if ``access`` may see it, else 404 (the same as for one that does not exist)."""
    team = access.visible_teams().filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    return team


def team_grants(team: Team) -> QuerySet[DagGrant]:
    """The team's grants by profile name, with profile and approver team (one query)."""
    return team.grants.select_related("profile", "approver_team").order_by("profile__name", "id")


def team_grants_as_added(team: Team) -> QuerySet[DagGrant]:
    """The team's grants oldest first (the API's list), with profile and approver team."""
    return team.grants.select_related("profile", "approver_team").order_by("id")


def team_grant(team: Team, grant_id: int) -> DagGrant:
    """One of the team's grants, with its team and profile, else 404."""
    grant = team.grants.select_related("profile", "team").filter(pk=grant_id).first()
    if grant is None:
        raise Http404("No such grant.")
    return grant


def team_subscriptions(team: Team) -> QuerySet[Subscription]:
    """The team's notification subscriptions oldest first, with team and profile."""
    return team.subscriptions.select_related("team", "profile").order_by("id")


def team_subscription(team: Team, subscription_id: int) -> Subscription:
    """One of the team's notification subscriptions, with team and profile, else 404."""
    sub = team.subscriptions.select_related("team", "profile").filter(pk=subscription_id).first()
    if sub is None:
        raise Http404("No such notification subscription.")
    return sub
