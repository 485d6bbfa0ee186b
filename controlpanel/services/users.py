"""Panel user accounts: create, change and deactivate them (panel admins only, audited).

Audit-reviewer changes go through ``services.teams.set_auditor``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from controlpanel.audit import Actor, Outcome, audited, record_event
from controlpanel.permissions import access_for, require
from controlpanel.services import teams

ONLY_ADMINS = "Only panel administrators manage user accounts."


def ensure_may_manage_users(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor is a panel admin.

    For API views that refuse a request before reading its body.
    """
    with audited(actor, action, payload=payload, check_only=True):
        _require_admin(actor)


def _require_admin(actor: Actor) -> None:
    require(access_for(actor.user).is_superuser, ONLY_ADMINS)


def create_user(
    actor: Actor, *, username: str, email: str, password: str, is_auditor: bool = False
) -> Any:
    """Add a user who can sign in with ``password`` (checked by Django's validators)."""
    payload = {"user": username, "email": email, "is_auditor": is_auditor}
    with audited(actor, "user.create", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        user_model = get_user_model()
        user = user_model(username=username.strip(), email=email.strip())
        try:
            if user_model.objects.filter(username=user.username).exists():
                raise ValidationError({"username": ["A user with that username already exists."]})
            if not password:
                raise ValidationError({"password": ["Give the new user a password."]})
            validate_password(password, user)
            user.set_password(password)
            user.full_clean()
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise ValidationError({"password": exc.messages}) from None
            raise
        user.save()
    if is_auditor:
        teams.set_auditor(actor, user, True)
    return user


def update_user(
    actor: Actor,
    user: Any,
    *,
    email: str | None = None,
    password: str | None = None,
    is_auditor: bool | None = None,
    is_active: bool | None = None,
) -> Any:
    """Change a user's email, password, active flag or audit-reviewer role."""
    payload: dict[str, Any] = {"user": user.get_username()}
    payload.update(
        {k: v for k, v in {"email": email, "is_active": is_active}.items() if v is not None}
    )
    payload["password_changed"] = bool(password)
    with audited(actor, "user.update", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        if email is not None:
            user.email = email.strip()
        if is_active is not None:
            user.is_active = is_active
        try:
            if password:
                validate_password(password, user)
                user.set_password(password)
        except ValidationError as exc:
            user.refresh_from_db()
            raise ValidationError({"password": exc.messages}) from None
        user.save()
    if is_auditor is not None:
        teams.set_auditor(actor, user, is_auditor)
    return user


def deactivate_user(actor: Actor, user: Any) -> Any:
    """Stop a user from signing in (their tokens stop working too); history is kept."""
    payload = {"user": user.get_username()}
    with audited(actor, "user.deactivate", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        if actor.user is not None and actor.user.pk == user.pk:
            raise ValidationError("You cannot deactivate your own account.")
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def change_own_password(actor: Actor, user: Any, new_password: str) -> None:
    """Set the signed-in user's new password (their form checked the current one)."""
    with audited(actor, "auth.password_change"):
        user.set_password(new_password)
        user.save()


def record_wrong_current_password(actor: Actor) -> None:
    """Record a password change refused for a wrong current password.

    Someone at an unlocked screen may be probing it.
    """
    message = "The current password was wrong."
    record_event(actor, "auth.password_change", outcome=Outcome.FAILED, message=message)


def record_password_login_refused(actor: Actor, message: str) -> None:
    """Record a right password refused because this page is not open to the user.

    The break-glass password page takes superusers only.
    """
    record_event(actor, "auth.login", outcome=Outcome.DENIED, message=message)


def unlock_logins(
    actor: Actor, *, username: str | None = None, ip_address: str | None = None
) -> int:
    """Lift login lockouts: forget the failed logins counted for a username, an address or both.

    ``None`` matches any; at least one must be given. Panel admins only (and ``manage.py``).
    Returns how many (username, address) counters were removed, 0 when none matched.
    """
    if username is None and ip_address is None:
        raise ValueError("Name a username, an IP address or both to unlock.")
    if ip_address is not None:
        try:
            ip_address = str(ipaddress.ip_address(ip_address.strip()))
        except ValueError:
            raise ValueError(f"{ip_address!r} is not an IP address.") from None
    payload = {"user": username, "ip_address": ip_address}
    with audited(actor, "auth.unlock", payload=payload) as event:
        if not (actor.user is None and actor.source == "cli"):
            _require_admin(actor)
        attempts = AccessAttempt.objects.all()
        if username is not None:
            attempts = attempts.filter(username=username)
        if ip_address is not None:
            attempts = attempts.filter(ip_address=ip_address)
        removed, _ = attempts.delete()
        event.payload["counters_removed"] = removed
        event.message = "" if removed else "Nothing was locked or counted for that."
    return removed
