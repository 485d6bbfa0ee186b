"""Audit trail entries for logins, failed logins and logouts, from Django's auth signals.

Signals rather than view code, so the admin's login page and any later login path (API
tokens aside) are covered too. ``connect_signals`` is called once from ``apps.ready()``.
"""

from __future__ import annotations

from typing import Any

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


def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record a successful login."""
    record_event(
        Actor(user=user, ip_address=_ip(request), source=AuditEvent.Source.WEB),
        "auth.login",
        outcome=AuditEvent.Outcome.SUCCEEDED,
    )


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Record a failed login with the attempted username only.

    The credentials dict is never stored: Django masks the password in it, but a custom
    backend could pass other secrets (tokens, one-time codes) under other keys.
    """
    username_field = get_user_model().USERNAME_FIELD
    attempted = credentials.get("username") or credentials.get(username_field) or ""
    record_event(
        Actor(
            user=None,
            username=str(attempted)[:USERNAME_LIMIT],
            ip_address=_ip(request),
            source=AuditEvent.Source.WEB,
        ),
        "auth.login",
        outcome=AuditEvent.Outcome.FAILED,
        message="Wrong username or password, or the account is disabled.",
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
