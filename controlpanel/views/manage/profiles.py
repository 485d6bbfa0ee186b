"""Connection profiles (panel admins only; to everyone else these pages do not exist)."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from controlpanel.audit import Actor
from controlpanel.forms import ProfileForm, add_service_errors
from controlpanel.models import AirflowProfile
from controlpanel.selectors.profiles import (
    profile_holdings,
    profile_named,
    profiles_with_grant_counts,
)
from controlpanel.services import profiles as profile_services
from controlpanel.views.manage.common import profile_manager, require_form_methods


@login_required
@require_safe
def profile_list(request: HttpRequest) -> HttpResponse:
    """Every profile with its address, login type and warnings; never a secret."""
    profile_manager(request)
    return render(request, "manage/profiles.html", {"profiles": profiles_with_grant_counts()})


@login_required
@require_form_methods
def profile_create(request: HttpRequest) -> HttpResponse:
    """Add a profile."""
    profile_manager(request)
    if request.method != "POST":
        form = ProfileForm()
    else:
        form = ProfileForm(request.POST)
        if form.is_valid():
            actor = Actor.from_request(request)
            try:
                profile = profile_services.create_profile(
                    actor, secret=form.cleaned_data["secret"], **form.profile_fields()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                reading = " Its DAG list is being read from Airflow." if profile.is_active else ""
                messages.success(request, f"Profile {profile.name} created.{reading}")
                _test_after_saving(request, actor, profile)
                return redirect("manage:profiles")
    return render(request, "manage/profile_form.html", {"form": form, "profile": None})


@login_required
@require_form_methods
def profile_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Change a profile; an empty password field keeps the stored secret."""
    profile_manager(request)
    profile = profile_named(slug)
    if request.method != "POST":
        form = ProfileForm(initial=ProfileForm.initial_for(profile), editing=True)
    else:
        form = ProfileForm(request.POST, editing=True)
        if form.is_valid():
            actor, secret = Actor.from_request(request), form.cleaned_data["secret"]
            fields = form.profile_fields()
            retest = profile_services.changes_connection(profile, secret, **fields)
            try:
                profile_services.update_profile(actor, profile, new_secret=secret, **fields)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Profile saved.")
                if retest:
                    _test_after_saving(request, actor, profile)
                return redirect("manage:profiles")
    return render(request, "manage/profile_form.html", {"form": form, "profile": profile})


@login_required
@require_form_methods
def profile_delete(request: HttpRequest, slug: str) -> HttpResponse:
    """Ask for confirmation (GET), then delete the profile and what hangs on it (POST)."""
    profile_manager(request)
    profile = profile_named(slug)
    if request.method == "POST":
        profile_services.delete_profile(Actor.from_request(request), profile)
        messages.success(request, f"Profile {profile.name} deleted.")
        return redirect("manage:profiles")
    context = {"profile": profile, **asdict(profile_holdings(profile))}
    return render(request, "manage/profile_delete.html", context)


@login_required
@require_POST
def profile_test(request: HttpRequest, slug: str) -> HttpResponse:
    """Test the connection and say what was found, in plain words."""
    profile_manager(request)
    profile = profile_named(slug)
    report = profile_services.test_profile(Actor.from_request(request), profile)
    level = messages.SUCCESS if report.ok else messages.ERROR
    messages.add_message(request, level, f"{profile.name}: {report.summary()}")
    for warning in report.warnings:
        messages.warning(request, f"{profile.name}: {warning}")
    return redirect("manage:profiles")


def _test_after_saving(request: HttpRequest, actor: Actor, profile: AirflowProfile) -> None:
    """Test a new or re-addressed connection at once and say what Airflow answered.

    Saving has already happened: a refusal is a warning, never a reason to undo it.
    """
    report = profile_services.test_after_saving(actor, profile)
    if report is None:
        messages.info(request, "The connection is not active, so it was not tested.")
        return
    level = messages.SUCCESS if report.ok else messages.WARNING
    messages.add_message(request, level, report.after_saving(profile.auth_type))
    said = (profile_services.CREDENTIALS_REJECTED, report.error or None)
    for warning in report.warnings:
        if not any(part and part in warning for part in said):  # not twice
            messages.warning(request, warning)
