"""User accounts (panel admins only; to everyone else these pages do not exist).

Every change goes through ``services.users`` (and ``services.teams`` for the audit-reviewer
role), as the API's do, so the audit trail reads the same whichever way it was made.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from controlpanel.account_forms import PasswordResetForm, UserCreateForm, UserEditForm
from controlpanel.audit import Actor
from controlpanel.forms import add_service_errors
from controlpanel.selectors.users import USER_STATES, tokens_of, user_for_admin, users_for_admin
from controlpanel.services import users as user_services
from controlpanel.views.manage.common import require_form_methods, user_manager

USERS_PER_PAGE = 50


@login_required
@require_safe
def user_list(request: HttpRequest) -> HttpResponse:
    """Every user with their teams and roles; searchable by name, filtered by state."""
    user_manager(request)
    params = {"q": request.GET.get("q", "").strip(), "state": request.GET.get("state", "")}
    found = users_for_admin(params["q"], params["state"])
    page = Paginator(found, USERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "params": params, "states": USER_STATES}
    return render(request, "manage/users.html", context)


@login_required
@require_safe
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    """One user: who they are, their roles, their teams and their API tokens."""
    user_manager(request)
    user = user_for_admin(user_id)
    context = {
        "account": user,
        "directory": user_services.directory_provider(user),
        "tokens": tokens_of(user),
    }
    return render(request, "manage/user_detail.html", context)


@never_cache
@login_required
@require_form_methods
def user_create(request: HttpRequest) -> HttpResponse:
    """Add a user; a generated password is shown once, on the page that answers the form."""
    user_manager(request)
    form = UserCreateForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        data = form.cleaned_data
        generated = user_services.generate_password() if form.generates() else ""
        try:
            user = user_services.create_user(
                Actor.from_request(request),
                username=data["username"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=form.chosen_password() or generated,
                password_later=form.leaves_for_later(),
                is_auditor=data["is_auditor"],
                is_superuser=data["is_superuser"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"User {user.get_username()} created.")
            if generated:
                return _show_password(request, user, generated)
            return redirect("manage:user", user.pk)
    return render(request, "manage/user_form.html", {"form": form})


def _show_password(request: HttpRequest, user: Any, password: str) -> HttpResponse:
    """The one page that shows a password the panel made up (never stored, never cached)."""
    context = {"account": user, "password": password}
    return render(request, "manage/user_password_shown.html", context)


@login_required
@require_form_methods
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    """Change email, name, the audit-reviewer role; deactivate or reactivate."""
    user_manager(request)
    user = user_for_admin(user_id)
    initial = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_auditor": user.is_auditor,
        "is_active": user.is_active,
    }
    form = UserEditForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_valid():
        try:
            _save_user(Actor.from_request(request), user, form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"User {user.get_username()} saved.")
            return redirect("manage:user", user.pk)
    context = {"form": form, "account": user, "directory": user_services.directory_provider(user)}
    return render(request, "manage/user_edit.html", context)


def _save_user(actor: Actor, user: Any, data: dict[str, Any]) -> None:
    """Send only what changed to the services: one audited event per kind of change."""
    was_auditor, was_active = bool(user.is_auditor), user.is_active
    user_services.update_user(
        actor,
        user,
        email=data["email"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        is_auditor=data["is_auditor"] if data["is_auditor"] != was_auditor else None,
        is_active=True if data["is_active"] and not was_active else None,
    )
    if was_active and not data["is_active"]:
        user_services.deactivate_user(actor, user)


@never_cache
@login_required
@require_form_methods
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    """Set someone's password: typed or generated, shown once. Not for directory users."""
    user_manager(request)
    user = user_for_admin(user_id)
    form = PasswordResetForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            password = user_services.reset_password(
                Actor.from_request(request), user, form.chosen_password() or None
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The password of {user.get_username()} was changed.")
            if form.chosen_password():
                return redirect("manage:user", user.pk)
            return _show_password(request, user, password)
    context = {"form": form, "account": user, "directory": user_services.directory_provider(user)}
    return render(request, "manage/user_password.html", context)
