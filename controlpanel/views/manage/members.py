"""A team's members: adding by username, removing, and changing roles (panel and team admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from controlpanel.audit import Actor
from controlpanel.forms import MemberAddForm, MemberRoleForm, add_service_errors
from controlpanel.models import TeamMembership
from controlpanel.services import teams as team_services
from controlpanel.views.manage.common import managed_team
from controlpanel.views.manage.teams import render_team_page


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a user to the team by username."""
    team = managed_team(request, slug)
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return render_team_page(request, team, member_form=form)
    username = form.cleaned_data["username"].strip()
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        form.add_error("username", f"There is no active user called '{username}'.")
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
@require_POST
def member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Take a user out of the team."""
    team = managed_team(request, slug)
    membership = get_object_or_404(
        TeamMembership.objects.select_related("user"), team=team, user_id=user_id
    )
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
    membership = get_object_or_404(
        TeamMembership.objects.select_related("user"), team=team, user_id=user_id
    )
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
