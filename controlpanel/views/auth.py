"""Log in, log out and change password: Django's auth views with the panel's templates.

Logins and logouts are audited by ``controlpanel.signals`` (so the admin's login page is
covered too); password changes by ``services.users``, in the transaction that saves them.
Included by ``urls.py`` under ``accounts/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from controlpanel import ldap_backend, oidc
from controlpanel.audit import Actor, client_ip
from controlpanel.services import users as user_services


class LoginForm(AuthenticationForm):
    """Django's login form with messages that say what happened in plain words."""

    error_messages = {
        "invalid_login": (
            "That username and password do not match an account. "
            "Check both and try again; they are case-sensitive."
        ),
        "inactive": "This account is disabled. Ask a panel administrator to enable it.",
    }

    def get_invalid_login_error(self) -> ValidationError:
        """Why the sign-in failed: the panel's refusal of a directory user, or no match."""
        refusal = getattr(self.request, ldap_backend.REFUSAL_ATTRIBUTE, None)
        if refusal:
            return ValidationError(refusal, code="directory_refused")
        return super().get_invalid_login_error()

    def confirm_login_allowed(self, user: Any) -> None:
        """With ``PASSWORD_LOGIN`` off, only directory users and superusers get in here."""
        super().confirm_login_allowed(user)
        if settings.PASSWORD_LOGIN or getattr(user, "backend", "") == ldap_backend.BACKEND:
            return
        refuse_unless_superuser(self.request, user)


PASSWORD_LOGIN_OFF = "Password sign-in is off on this panel: use single sign-on."  # noqa: S105
ONLY_SUPERUSERS = "Only panel administrators may sign in with a password here."


class LoginView(auth_views.LoginView):
    """The login page: single sign-on when configured, the password form unless turned off."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    break_glass = False

    def password_allowed(self) -> bool:
        """Whether this page takes passwords (``PASSWORD_LOGIN``, LDAP, the break-glass page)."""
        return self.break_glass or bool(settings.PASSWORD_LOGIN) or ldap_backend.is_enabled()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Refuse a password without checking it when password sign-in is off."""
        if not self.password_allowed():
            context = self.get_context_data(sso_error=PASSWORD_LOGIN_OFF)
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Add what the page offers: single sign-on, the password form or both."""
        context = super().get_context_data(**kwargs)
        context.update(sign_in_choices(context.get("next", ""), break_glass=self.break_glass))
        context["password_login"] = self.password_allowed()
        return context


def sign_in_choices(next_url: str, *, break_glass: bool = False) -> dict[str, Any]:
    """The login page's single sign-on control, for every page that shows the login form."""
    sso_url = reverse("oidc_login")
    if next_url:
        sso_url += "?" + urlencode({"next": next_url})
    return {
        "sso_enabled": oidc.is_enabled() and not break_glass,
        "sso_label": settings.OIDC_LOGIN_LABEL,
        "sso_url": sso_url,
        "password_login": True,
        "break_glass": break_glass,
    }


class SuperuserLoginForm(LoginForm):
    """The break-glass password form: only superusers get in; others are refused (audited)."""

    def confirm_login_allowed(self, user: Any) -> None:
        """Refuse anyone but an active superuser, after the password matched."""
        AuthenticationForm.confirm_login_allowed(self, user)
        refuse_unless_superuser(self.request, user)


def refuse_unless_superuser(request: HttpRequest | None, user: Any) -> None:
    """Refuse (audited) a password sign-in by anyone but a superuser."""
    if not user.is_superuser:
        actor = Actor(user=user, ip_address=client_ip(request) if request else None)
        user_services.record_password_login_refused(actor, ONLY_SUPERUSERS)
        raise ValidationError(ONLY_SUPERUSERS, code="not_superuser")


class BreakGlassLoginView(LoginView):
    """Password sign-in for superusers while ``PASSWORD_LOGIN`` is off (the directory down)."""

    authentication_form = SuperuserLoginForm
    break_glass = True


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login: Django's, or the break-glass page while password sign-in is off."""
    if settings.PASSWORD_LOGIN:
        return admin.site.login(request)
    target = reverse("login_password")
    if request.GET.get("next"):
        target += "?" + urlencode({"next": request.GET["next"]})
    return HttpResponseRedirect(target)


USERNAME_LENGTH = 150  # django.contrib.auth's username max_length


def lockout_message(request: HttpRequest | None = None) -> str:
    """What a locked-out person reads: what happened, how long, and who can help."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else 0
    return (
        "Too many failed logins for this username from your address, so logins for it are "
        f"paused for {minutes} minute{'s' if minutes != 1 else ''}. Wait and try again, or "
        "ask a panel administrator to unlock it."
    )


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> Any:
    """The username django-axes counts failures for (its AXES_USERNAME_CALLABLE).

    As typed, but cut to the 150 characters a username can have: axes keeps it in a
    255-character column, and PostgreSQL refuses longer values where SQLite stores them.
    """
    source = credentials if credentials else getattr(request, "POST", {})
    username = source.get("username")
    return username[:USERNAME_LENGTH] if isinstance(username, str) else username


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login page with the lockout message, answered 429 (django-axes' lockout callable).

    Used for the panel's and the admin's login pages alike; the password was not checked.
    """
    form = LoginForm(request)
    form.initial["username"] = (credentials or {}).get("username", "")
    context = {
        "form": form,
        "lockout_message": lockout_message(request),
        **sign_in_choices("", break_glass=request.path == reverse("login_password")),
    }
    return render(request, "registration/login.html", context, status=429)


class LogoutView(auth_views.LogoutView):
    """Log out on POST only: a GET (a link, an image tag) must not end a session."""

    http_method_names = ["post", "options"]


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password; both the change and a wrong current password are audited."""

    template_name = "registration/password_change_form.html"

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        """Save the new password (audited), keeping this session signed in."""
        new_password = form.cleaned_data["new_password1"]
        user_services.change_own_password(Actor.from_request(self.request), form.user, new_password)
        update_session_auth_hash(self.request, form.user)
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        """Record a wrong current password (someone at an unlocked screen probing it)."""
        if form.has_error("old_password", "password_incorrect"):
            user_services.record_wrong_current_password(Actor.from_request(self.request))
        return super().form_invalid(form)


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    """Confirms the change."""

    template_name = "registration/password_change_done.html"


urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("login/password/", BreakGlassLoginView.as_view(), name="login_password"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("password_change/", PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", PasswordChangeDoneView.as_view(), name="password_change_done"),
]
