"""A team's grants: adding, removing and previewing which DAGs they select (panel admins)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from controlpanel.audit import Actor
from controlpanel.forms import GrantForm, add_service_errors
from controlpanel.permissions import access_for
from controlpanel.selectors.teams import team_grant
from controlpanel.services import teams as team_services
from controlpanel.views.manage.common import managed_team
from controlpanel.views.manage.teams import render_team_page


@login_required
@require_POST
def grant_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Give the team access to some DAGs of a profile (panel admins)."""
    team = managed_team(request, slug)
    actor = Actor.from_request(request)
    team_services.ensure_may_manage_teams(actor, "grant.add", {"team": team.slug})
    form = GrantForm(request.POST)
    if not form.is_valid():
        return render_team_page(request, team, grant_form=form)
    profile, selector = form.cleaned_data["profile"], form.selector()
    try:
        team_services.add_grant(
            actor,
            team,
            profile=profile,
            level=form.cleaned_data["level"],
            **form.approval(),
            **selector,
        )
    except ValidationError as exc:
        add_service_errors(form, exc)
        return render_team_page(request, team, grant_form=form)
    messages.success(request, "Grant added.")
    for warning in team_services.unknown_dag_warnings(profile, selector["dag_ids"]):
        messages.warning(request, warning)
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def grant_remove(request: HttpRequest, slug: str, grant_id: int) -> HttpResponse:
    """Take a grant away from the team (panel admins)."""
    team = managed_team(request, slug)
    grant = team_grant(team, grant_id)
    team_services.remove_grant(Actor.from_request(request), grant)
    messages.success(request, f"Grant removed: {grant.level} on {grant.selector_text}.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def grant_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Which catalog DAGs the grant form selects now: a partial for htmx, else the page."""
    team = managed_team(request, slug)
    if not access_for(request.user).can_manage_teams():
        raise PermissionDenied("Only panel administrators may change grants.")
    form = GrantForm(request.POST)
    preview: dict[str, Any] = {"dags": [], "errors": []}
    if form.is_valid() and not any(form.selector().values()):
        preview["errors"] = ["Enter at least one DAG id, pattern or tag to preview."]
    elif form.is_valid():
        profile, selector = form.cleaned_data["profile"], form.selector()
        preview["profile"] = profile
        preview["catalog_read"] = team_services.catalog_was_read(profile)
        preview["dags"] = team_services.preview_grant(profile, **selector)
        preview["warnings"] = team_services.unknown_dag_warnings(profile, selector["dag_ids"])
    else:
        preview["errors"] = [error for errors in form.errors.values() for error in errors]
    if request.headers.get("HX-Request") == "true":
        return render(request, "manage/_grant_preview.html", {"preview": preview})
    return render_team_page(request, team, grant_form=form, preview=preview)
