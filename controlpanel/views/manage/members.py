"""A team's members: adding by username, removing, and changing roles (panel and team admins).

Adding offers a username picker (``member_candidates``); removing asks first (GET shows
what will happen, POST removes).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from controlpanel.audit import Actor
from controlpanel.forms import MemberAddForm, MemberRoleForm, add_service_errors
from controlpanel.models import TeamMembership
from controlpanel.permissions import access_for
from controlpanel.selectors.members import member_choices, membership_of, other_team_count
from controlpanel.selectors.teams import team_grants
from controlpanel.selectors.users import user_named
from controlpanel.services import teams as team_services
from controlpanel.views.manage.common import managed_team, require_form_methods
from controlpanel.views.manage.teams import candidates_url, render_team_page


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a user to the team by username."""
    team = managed_team(request, slug)
    form = MemberAddForm(request.POST, candidates_url=candidates_url(team))
    if not form.is_valid():
        return render_team_page(request, team, member_form=form)
    username = form.cleaned_data["username"].strip()
    user = user_named(username, active_only=True)
    if user is None:
        form.add_error(
            "username",
            f"There is no active user called '{username}'. "
            "Start typing a username or name and pick one from the list.",
        )
        return render_team_page(request, team, member_form=form)
    role = form.cleaned_data["role"]
    try:
        team_services.add_member(Actor.from_request(request), team, user, role)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render_team_page(request, team, member_form=form)
    label = TeamMembership.Role(role).label
    messages.success(request, f"Added {username} to {team.name} as {label}.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_safe
def member_candidates(request: HttpRequest, slug: str) -> HttpResponse:
    """The picker's options for what was typed so far (htmx swaps them into the datalist)."""
    team = managed_team(request, slug)
    typed = request.GET.get("username", "")
    choices = member_choices(access_for(request.user), team, typed)
    return render(request, "manage/_member_candidates.html", {"member_choices": choices})


@login_required
@require_form_methods
def member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Say what removing the member will do (GET), then take them out of the team (POST)."""
    team = managed_team(request, slug)
    membership = membership_of(team, user_id)
    if request.method != "POST":
        return _confirm_removal(request, membership)
    username = membership.user.get_username()
    try:
        team_services.remove_member(Actor.from_request(request), team, membership.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Removed {username} from {team.name}.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Make a member team admin, or a team admin a member."""
    team = managed_team(request, slug)
    membership = membership_of(team, user_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: member or team admin.")
        return redirect("manage:team", slug=team.slug)
    role = form.cleaned_data["role"]
    try:
        team_services.change_member_role(Actor.from_request(request), team, membership.user, role)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        label = TeamMembership.Role(role).label
        username = membership.user.get_username()
        messages.success(request, f"{username} is now {label} of {team.name}.")
    return redirect("manage:team", slug=team.slug)


def _confirm_removal(request: HttpRequest, membership: TeamMembership) -> HttpResponse:
    """The confirmation page: who leaves, the rights they lose, and any refusal ahead."""
    team = membership.team
    context = {
        "team": team,
        "membership": membership,
        "is_me": membership.user_id == request.user.pk,
        "refusal": team_services.removal_refusal(Actor.from_request(request), membership),
        "grants": team_grants(team),
        "other_teams": other_team_count(membership),
    }
    return render(request, "manage/member_remove.html", context)
