"""Management pages: connection profiles (panel admins) and teams (panel and team admins).

Thin views: parse the form, ask ``controlpanel.permissions`` and the services, render.
Someone who may not see a thing gets 404; someone who may see it but not change it gets
403, and the service records the denial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from controlpanel.audit import Actor
from controlpanel.forms import (
    GrantForm,
    MemberAddForm,
    MemberRoleForm,
    ProfileForm,
    SubscriptionForm,
    TeamForm,
    add_service_errors,
)
from controlpanel.models import AirflowProfile, DagGrant, Subscription, Team, TeamMembership
from controlpanel.permissions import Access, ActionDenied, access_for
from controlpanel.services import notifications as notification_services
from controlpanel.services import profiles as profile_services
from controlpanel.services import teams as team_services

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


# --- shared helpers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """A form's change went through; ``result`` is what the service returned."""

    result: Any


def _submit(
    request: HttpRequest, form: Form, change: Callable[[], Any], done: Callable[[Any], str]
) -> Done | None:
    """Hand a valid form to the service call ``change`` and flash ``done(result)``.

    None means: show the form again, with the service's reasons on it when it refused the
    change. A refusal for lack of rights (ActionDenied, already audited) becomes a 403.
    """
    if not form.is_valid():
        return None
    try:
        with denied_as_403():
            result = change()
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None
    messages.success(request, done(result))
    return Done(result)


@contextmanager
def denied_as_403() -> Iterator[None]:
    """Turn a service's ActionDenied (already audited) into Django's 403."""
    try:
        yield
    except ActionDenied as exc:
        raise PermissionDenied(exc.message) from exc


def _profile_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else may not see profiles at all (404)."""
    access = access_for(request.user)
    if not access.can_manage_profiles:
        raise Http404("No such page.")
    return access


def _may_see_teams(access: Access) -> bool:
    """Panel admins, and team admins of at least one team."""
    return access.is_superuser or TeamMembership.Role.ADMIN in access.memberships().values()


def _managed_team(request: HttpRequest, slug: str) -> Team:
    """The team if the user manages its members (panel or team admin), else 404."""
    team = get_object_or_404(Team, slug=slug)
    if not access_for(request.user).can_manage_members(team):
        raise Http404("No such team.")
    return team


def _forbid_get_unless(allowed: bool, request: HttpRequest) -> None:
    """A GET of a form its viewer may not submit is refused without an audit event."""
    if request.method != "POST" and not allowed:
        raise PermissionDenied("Only panel administrators may do this.")


@login_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """What the user may manage here: profiles, teams, or nothing."""
    access = access_for(request.user)
    context = {
        "can_manage_profiles": access.can_manage_profiles,
        "may_see_teams": _may_see_teams(access),
    }
    return render(request, "manage/index.html", context)


# --- connection profiles -------------------------------------------------------------------


@login_required
@require_safe
def profile_list(request: HttpRequest) -> HttpResponse:
    """Every profile with its address, login type and warnings; never a secret."""
    _profile_manager(request)
    profiles = AirflowProfile.objects.annotate(grant_count=Count("grants")).order_by("name")
    return render(request, "manage/profiles.html", {"profiles": profiles})


@login_required
@require_form_methods
def profile_create(request: HttpRequest) -> HttpResponse:
    """Add a profile."""
    _profile_manager(request)
    form = ProfileForm(request.POST) if request.method == "POST" else ProfileForm()
    if request.method == "POST" and _submit(
        request,
        form,
        lambda: profile_services.create_profile(
            Actor.from_request(request), secret=form.cleaned_data["secret"], **form.profile_fields()
        ),
        lambda profile: f"Profile {profile.name} created.",
    ):
        return redirect("manage:profiles")
    return render(request, "manage/profile_form.html", {"form": form, "profile": None})


@login_required
@require_form_methods
def profile_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a profile; an empty password field keeps the stored secret."""
    _profile_manager(request)
    profile = get_object_or_404(AirflowProfile, slug=slug)
    if request.method != "POST":
        form = ProfileForm(initial=ProfileForm.initial_for(profile), editing=True)
    else:
        form = ProfileForm(request.POST, editing=True)
        if _submit(
            request,
            form,
            lambda: profile_services.update_profile(
                Actor.from_request(request),
                profile,
                new_secret=form.cleaned_data["secret"],
                **form.profile_fields(),
            ),
            lambda _: "Profile saved.",
        ):
            return redirect("manage:profiles")
    return render(request, "manage/profile_form.html", {"form": form, "profile": profile})


@login_required
@require_form_methods
def profile_delete(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask for confirmation (GET), then delete the profile and what hangs on it (POST)."""
    _profile_manager(request)
    profile = get_object_or_404(AirflowProfile, slug=slug)
    if request.method == "POST":
        with denied_as_403():
            profile_services.delete_profile(Actor.from_request(request), profile)
        messages.success(request, f"Profile {profile.name} deleted.")
        return redirect("manage:profiles")
    context = {
        "profile": profile,
        "dag_count": profile.dags.count(),
        "run_count": profile.runs.count(),
        "grant_count": profile.grants.count(),
    }
    return render(request, "manage/profile_delete.html", context)


@login_required
@require_POST
def profile_test(request: HttpRequest, slug: str) -> HttpResponse:
    """Test the connection and say what was found, in plain words."""
    _profile_manager(request)
    profile = get_object_or_404(AirflowProfile, slug=slug)
    with denied_as_403():
        report = profile_services.test_profile(Actor.from_request(request), profile)
    level = messages.SUCCESS if report.ok else messages.ERROR
    messages.add_message(request, level, f"{profile.name}: {report.summary()}")
    for warning in report.warnings:
        messages.warning(request, f"{profile.name}: {warning}")
    return redirect("manage:profiles")


# --- teams ---------------------------------------------------------------------------------


@login_required
@require_safe
def team_list(request: HttpRequest) -> HttpResponse:
    """The teams the user manages: all for panel admins, their own for team admins."""
    access = access_for(request.user)
    if not _may_see_teams(access):
        raise Http404("No such page.")
    teams = access.visible_teams().annotate(
        member_count=Count("memberships", distinct=True),
        grant_count=Count("grants", distinct=True),
    )
    managed = [team for team in teams.order_by("name") if access.can_manage_members(team)]
    context = {"teams": managed, "can_create": access.can_manage_teams()}
    return render(request, "manage/teams.html", context)


@login_required
@require_form_methods
def team_create(request: HttpRequest) -> HttpResponse:
    """Add a team (panel admins; team admins get 403, everyone else 404)."""
    access = access_for(request.user)
    if not _may_see_teams(access):
        raise Http404("No such page.")
    _forbid_get_unless(access.can_manage_teams(), request)
    form = TeamForm(request.POST) if request.method == "POST" else TeamForm()
    if request.method == "POST":
        actor = Actor.from_request(request)
        with denied_as_403():
            team_services.ensure_may_manage_teams(actor, "team.create", {})
        done = _submit(
            request,
            form,
            lambda: team_services.create_team(actor, **form.team_fields()),
            lambda team: f"Team {team.name} created.",
        )
        if done:
            return redirect("manage:team", slug=done.result.slug)
    return render(request, "manage/team_form.html", {"form": form, "team": None})


@login_required
@require_form_methods
def team_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Rename a team or change its description (panel admins)."""
    team = _managed_team(request, slug)
    _forbid_get_unless(access_for(request.user).can_manage_teams(), request)
    if request.method != "POST":
        form = TeamForm(
            initial={"name": team.name, "slug": team.slug, "description": team.description}
        )
    else:
        actor = Actor.from_request(request)
        with denied_as_403():
            team_services.ensure_may_manage_teams(actor, "team.update", {"team": team.slug})
        form = TeamForm(request.POST)
        if _submit(
            request,
            form,
            lambda: team_services.update_team(actor, team, **form.team_fields()),
            lambda _: "Team saved.",
        ):
            return redirect("manage:team", slug=team.slug)
    return render(request, "manage/team_form.html", {"form": form, "team": team})


def _render_team(
    request: HttpRequest,
    team: Team,
    *,
    member_form: MemberAddForm | None = None,
    grant_form: GrantForm | None = None,
    preview: dict[str, Any] | None = None,
) -> HttpResponse:
    """The team page: members (with their forms) and grants (with the grant form)."""
    context = {
        "team": team,
        "memberships": team.memberships.select_related("user").order_by("user__username"),
        "grants": team.grants.select_related("profile").order_by("profile__name", "id"),
        "can_change_team": access_for(request.user).can_manage_teams(),
        "member_form": member_form or MemberAddForm(),
        "grant_form": grant_form or GrantForm(),
        "roles": TeamMembership.Role.choices,
        "preview": preview,
        "subscriptions": team.subscriptions.select_related("profile").order_by("id"),
        "deliveries": notification_services.recent_deliveries(team),
    }
    return render(request, "manage/team_detail.html", context)


@login_required
@require_safe
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A team's members and grants."""
    return _render_team(request, _managed_team(request, slug))


# --- members -------------------------------------------------------------------------------


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a user to the team by username."""
    team = _managed_team(request, slug)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        username = form.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            form.add_error("username", f"There is no active user called '{username}'.")
            return _render_team(request, team, member_form=form)
        try:
            with denied_as_403():
                team_services.add_member(
                    Actor.from_request(request), team, user, form.cleaned_data["role"]
                )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            role = TeamMembership.Role(form.cleaned_data["role"]).label
            messages.success(request, f"Added {username} to {team.name} as {role}.")
            return redirect("manage:team", slug=team.slug)
    return _render_team(request, team, member_form=form)


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, user_id: int) -> HttpResponse:
    """Take a user out of the team."""
    team = _managed_team(request, slug)
    membership = get_object_or_404(
        TeamMembership.objects.select_related("user"), team=team, user_id=user_id
    )
    username = membership.user.get_username()
    try:
        with denied_as_403():
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
    team = _managed_team(request, slug)
    membership = get_object_or_404(
        TeamMembership.objects.select_related("user"), team=team, user_id=user_id
    )
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: member or team admin.")
        return redirect("manage:team", slug=team.slug)
    role = form.cleaned_data["role"]
    try:
        with denied_as_403():
            team_services.change_member_role(
                Actor.from_request(request), team, membership.user, role
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        label = TeamMembership.Role(role).label
        messages.success(
            request, f"{membership.user.get_username()} is now {label} of {team.name}."
        )
    return redirect("manage:team", slug=team.slug)


# --- grants --------------------------------------------------------------------------------


@login_required
@require_POST
def grant_add(request: HttpRequest, slug: str) -> HttpResponse:
    """Give the team access to some DAGs of a profile (panel admins)."""
    team = _managed_team(request, slug)
    actor = Actor.from_request(request)
    with denied_as_403():
        team_services.ensure_may_manage_teams(actor, "grant.add", {"team": team.slug})
    form = GrantForm(request.POST)
    if _submit(
        request,
        form,
        lambda: team_services.add_grant(
            actor,
            team,
            profile=form.cleaned_data["profile"],
            level=form.cleaned_data["level"],
            **form.selector(),
        ),
        lambda _: "Grant added.",
    ):
        return redirect("manage:team", slug=team.slug)
    return _render_team(request, team, grant_form=form)


@login_required
@require_POST
def grant_remove(request: HttpRequest, slug: str, grant_id: int) -> HttpResponse:
    """Take a grant away from the team (panel admins)."""
    team = _managed_team(request, slug)
    grant = get_object_or_404(
        DagGrant.objects.select_related("team", "profile"), pk=grant_id, team=team
    )
    with denied_as_403():
        team_services.remove_grant(Actor.from_request(request), grant)
    messages.success(request, f"Grant removed: {grant.level} on {grant.selector_text}.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def grant_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """Which catalog DAGs the grant form selects now: a partial for htmx, else the page."""
    team = _managed_team(request, slug)
    if not access_for(request.user).can_manage_teams():
        raise PermissionDenied("Only panel administrators may change grants.")
    form = GrantForm(request.POST)
    preview: dict[str, Any] = {"dags": [], "errors": []}
    if form.is_valid() and not any(form.selector().values()):
        preview["errors"] = ["Enter at least one DAG id, pattern or tag to preview."]
    elif form.is_valid():
        profile = form.cleaned_data["profile"]
        preview["profile"] = profile
        preview["dags"] = team_services.preview_grant(profile, **form.selector())
    else:
        preview["errors"] = [error for errors in form.errors.values() for error in errors]
    if request.headers.get("HX-Request") == "true":
        return render(request, "manage/_grant_preview.html", {"preview": preview})
    return _render_team(request, team, grant_form=form, preview=preview)


# --- notifications -------------------------------------------------------------------------


def _subscription(team: Team, subscription_id: int) -> Subscription:
    return get_object_or_404(
        Subscription.objects.select_related("team", "profile"), pk=subscription_id, team=team
    )


@login_required
@require_form_methods
def subscription_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Subscribe the team to run notifications (panel admins and its team admins)."""
    team = _managed_team(request, slug)
    if request.method != "POST":
        form = SubscriptionForm(team=team)
    else:
        form = SubscriptionForm(request.POST, team=team)
        if _submit(
            request,
            form,
            lambda: notification_services.subscribe(
                Actor.from_request(request),
                team,
                secret=form.cleaned_data["secret"],
                **form.subscription_fields(),
            ),
            lambda _: "Notification added.",
        ):
            return redirect("manage:team", slug=team.slug)
    context = {"form": form, "team": team, "subscription": None}
    return render(request, "manage/subscription_form.html", context)


@login_required
@require_form_methods
def subscription_edit(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Change a subscription; an empty secret field keeps the stored signing secret."""
    team = _managed_team(request, slug)
    subscription = _subscription(team, subscription_id)
    if request.method != "POST":
        initial = SubscriptionForm.initial_for(subscription)
        form = SubscriptionForm(initial=initial, team=team, editing=True)
    else:
        form = SubscriptionForm(request.POST, team=team, editing=True)
        if _submit(
            request,
            form,
            lambda: notification_services.update_subscription(
                Actor.from_request(request),
                subscription,
                new_secret=form.new_secret(),
                **form.subscription_fields(),
            ),
            lambda _: "Notification saved.",
        ):
            return redirect("manage:team", slug=team.slug)
    context = {"form": form, "team": team, "subscription": subscription}
    return render(request, "manage/subscription_form.html", context)


@login_required
@require_POST
def subscription_delete(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Stop a notification."""
    team = _managed_team(request, slug)
    subscription = _subscription(team, subscription_id)
    with denied_as_403():
        notification_services.unsubscribe(Actor.from_request(request), subscription)
    messages.success(request, f"Notification to {subscription.target_text} removed.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def subscription_test(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Send a sample notification now and say how it went."""
    team = _managed_team(request, slug)
    subscription = _subscription(team, subscription_id)
    with denied_as_403():
        result = notification_services.send_test(Actor.from_request(request), subscription)
    if result.ok:
        messages.success(request, f"Test notification sent to {subscription.target_text}.")
    else:
        messages.error(request, f"Test notification failed: {result.error}")
    return redirect("manage:team", slug=team.slug)
