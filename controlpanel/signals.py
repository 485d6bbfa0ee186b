"""Audit trail entries for logins, failed logins, lockouts and logouts, from auth signals.

Signals rather than view code, so the admin's login page and any later login path (API
tokens aside) are covered too. ``connect_signals`` is called once from ``apps.ready()``.
Lockouts come from django-axes' ``user_locked_out`` signal (settings: "Login lockout").
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from controlpanel.audit import Actor, client_ip, record_event
from controlpanel.models import AuditEvent

# AuditEvent.actor_username's length: a longer attempted name is cut, not refused, so a
# junk login attempt cannot turn into a database error (PostgreSQL enforces the limit).
USERNAME_LIMIT = AuditEvent._meta.get_field("actor_username").max_length or 150


def _ip(request: HttpRequest | None) -> str | None:
    """The client address, or None when the signal came without a request."""
    return client_ip(request) if request is not None else None


def _refused_while_locked_out(request: HttpRequest | None) -> bool:
    """True when django-axes refused the attempt before any password was checked.

    Its backend flags the request as locked out before authenticating; the attempt that
    reaches the limit is flagged later, by its failure handler, which also counts it.
    """
    return bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )


# Set on the request by a directory sign-in (e.g. "oidc") before it logs the user in.
DIRECTORY_PROVIDER_ATTRIBUTE = "directory_provider"
# Set on the request when the panel refused someone the directory accepted (a disabled user).
DIRECTORY_REFUSAL_ATTRIBUTE = "directory_refusal"


def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record a successful login (through the directory when the request says so)."""
    provider = getattr(request, DIRECTORY_PROVIDER_ATTRIBUTE, None)
    source = AuditEvent.Source.DIRECTORY if provider else AuditEvent.Source.WEB
    record_event(
        Actor(user=user, ip_address=_ip(request), source=source),
        "auth.login",
        outcome=AuditEvent.Outcome.SUCCEEDED,
        payload={"provider": provider} if provider else None,
    )


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Record a failed login with the attempted username only.

    The credentials dict is never stored: Django masks the password in it, but a custom
    backend could pass other secrets (tokens, one-time codes) under other keys.
    """
    if getattr(request, DIRECTORY_REFUSAL_ATTRIBUTE, None):
        return  # the directory accepted the password; the panel's refusal is recorded already
    username_field = get_user_model().USERNAME_FIELD
    attempted = credentials.get("username") or credentials.get(username_field) or ""
    actor = _anonymous(str(attempted), request)
    if _refused_while_locked_out(request):
        record_event(
            actor,
            "auth.login",
            outcome=AuditEvent.Outcome.DENIED,
            message="Refused without checking the password: locked out after too many failures.",
        )
        return
    record_event(
        actor,
        "auth.login",
        outcome=AuditEvent.Outcome.FAILED,
        message="Wrong username or password, or the account is disabled.",
    )


def _anonymous(attempted: str, request: HttpRequest | None) -> Actor:
    """Someone not logged in, named by the username they typed (cut to the column's size)."""
    return Actor(
        user=None,
        username=attempted[:USERNAME_LIMIT],
        ip_address=_ip(request),
        source=AuditEvent.Source.WEB,
    )


def record_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """Record the failed login that started a lockout (not each refused attempt after it)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else 0
    record_event(
        _anonymous(username or "", request),
        "auth.lockout",
        outcome=AuditEvent.Outcome.DENIED,
        payload={"failures": failures, "cooloff_minutes": minutes},
        message=(
            f"{failures} failed logins for this username from {ip_address or 'an unknown address'}"
            f": its logins from there are refused for {minutes} minutes."
        ),
    )


def record_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record a logout; a visitor who was not logged in has nothing to record."""
    if user is None:
        return
    record_event(
        Actor(user=user, ip_address=_ip(request), source=AuditEvent.Source.WEB),
        "auth.logout",
        outcome=AuditEvent.Outcome.SUCCEEDED,
    )


def connect_signals() -> None:
    """Connect the receivers; the dispatch uids make a second call harmless."""
    user_logged_in.connect(record_login, dispatch_uid="controlpanel.audit.login")
    user_login_failed.connect(record_login_failure, dispatch_uid="controlpanel.audit.login_failed")
    user_logged_out.connect(record_logout, dispatch_uid="controlpanel.audit.logout")
    user_locked_out.connect(record_lockout, dispatch_uid="controlpanel.audit.lockout")
