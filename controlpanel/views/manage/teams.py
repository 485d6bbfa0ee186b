"""Teams: the list, creating and renaming (panel admins), and the team page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from controlpanel.audit import Actor
from controlpanel.forms import GrantForm, MemberAddForm, TeamForm, add_service_errors
from controlpanel.models import Team, TeamMembership
from controlpanel.permissions import access_for
from controlpanel.selectors.members import member_choices, team_members
from controlpanel.selectors.teams import team_grants, team_subscriptions, visible_teams_with_counts
from controlpanel.services import notifications as notification_services
from controlpanel.services import teams as team_services
from controlpanel.views.manage.common import (
    forbid_get_unless,
    managed_team,
    require_form_methods,
)


@login_required
@require_safe
def team_list(request: HttpRequest) -> HttpResponse:
    """The teams the user manages: all for panel admins, their own for team admins."""
    access = access_for(request.user)
    access.require_team_pages()
    teams = visible_teams_with_counts(access)
    managed = [team for team in teams if access.can_manage_members(team)]
    context = {"teams": managed, "can_create": access.can_manage_teams()}
    return render(request, "manage/teams.html", context)


@login_required
@require_form_methods
def team_create(request: HttpRequest) -> HttpResponse:
    """Add a team (panel admins; team admins get 403, everyone else 404)."""
    access = access_for(request.user)
    access.require_team_pages()
    forbid_get_unless(access.can_manage_teams(), request)
    if request.method != "POST":
        form = TeamForm()
    else:
        actor = Actor.from_request(request)
        team_services.ensure_may_manage_teams(actor, "team.create", {})
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                team = team_services.create_team(actor, **form.team_fields())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Team {team.name} created.")
                return redirect("manage:team", slug=team.slug)
    return render(request, "manage/team_form.html", {"form": form, "team": None})


@login_required
@require_form_methods
def team_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Rename a team, change its description or its directory groups (panel admins)."""
    team = managed_team(request, slug)
    forbid_get_unless(access_for(request.user).can_manage_teams(), request)
    if request.method != "POST":
        form = TeamForm(initial=TeamForm.initial_for(team))
    else:
        actor = Actor.from_request(request)
        team_services.ensure_may_manage_teams(actor, "team.update", {"team": team.slug})
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                team_services.update_team(actor, team, **form.team_fields())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Team saved.")
                return redirect("manage:team", slug=team.slug)
    return render(request, "manage/team_form.html", {"form": form, "team": team})


@login_required
@require_safe
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A team's members, grants and notifications."""
    return render_team_page(request, managed_team(request, slug))


def render_team_page(
    request: HttpRequest,
    team: Team,
    *,
    member_form: MemberAddForm | None = None,
    grant_form: GrantForm | None = None,
    preview: dict[str, Any] | None = None,
) -> HttpResponse:
    """The team page, with a posted form and its errors when one was refused."""
    access = access_for(request.user)
    context = {
        "team": team,
        "memberships": team_members(team),
        "grants": team_grants(team),
        "can_change_team": access.can_manage_teams(),
        "member_form": member_form or MemberAddForm(candidates_url=candidates_url(team)),
        "member_choices": member_choices(access, team),
        "grant_form": grant_form or GrantForm(),
        "roles": TeamMembership.Role.choices,
        "preview": preview,
        "subscriptions": team_subscriptions(team),
        "deliveries": notification_services.recent_deliveries(team),
    }
    return render(request, "manage/team_detail.html", context)


def candidates_url(team: Team) -> str:
    """Where the member picker asks for the users matching what was typed."""
    return reverse("manage:member_candidates", args=[team.slug])
