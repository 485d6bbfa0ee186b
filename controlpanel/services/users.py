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
from django.db import transaction

from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.permissions import ActionDenied, access_for
from controlpanel.services import teams

ONLY_ADMINS = "Only panel administrators manage user accounts."


def ensure_may_manage_users(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor is a panel admin."""
    if access_for(actor.user).is_superuser:
        return
    record_event(actor, action, outcome=Outcome.DENIED, payload=payload, message=ONLY_ADMINS)
    raise ActionDenied(ONLY_ADMINS)


def _refuse(actor: Actor, action: str, payload: dict[str, Any], exc: ValidationError) -> None:
    record_event(
        actor, action, outcome=Outcome.FAILED, payload=payload, message=" ".join(exc.messages)
    )


def create_user(
    actor: Actor, *, username: str, email: str, password: str, is_auditor: bool = False
) -> Any:
    """Add a user who can sign in with ``password`` (checked by Django's validators)."""
    payload = {"user": username, "email": email, "is_auditor": is_auditor}
    ensure_may_manage_users(actor, "user.create", payload)
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
        _refuse(actor, "user.create", payload, exc)
        if not hasattr(exc, "error_dict"):
            raise ValidationError({"password": exc.messages}) from None
        raise
    with transaction.atomic():
        user.save()
        record_event(actor, "user.create", outcome=Outcome.SUCCEEDED, payload=payload)
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
    ensure_may_manage_users(actor, "user.update", payload)
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
        _refuse(actor, "user.update", payload, exc)
        raise ValidationError({"password": exc.messages}) from None
    with transaction.atomic():
        user.save()
        record_event(actor, "user.update", outcome=Outcome.SUCCEEDED, payload=payload)
    if is_auditor is not None:
        teams.set_auditor(actor, user, is_auditor)
    return user


def deactivate_user(actor: Actor, user: Any) -> Any:
    """Stop a user from signing in (their tokens stop working too); history is kept."""
    payload = {"user": user.get_username()}
    ensure_may_manage_users(actor, "user.deactivate", payload)
    if actor.user is not None and actor.user.pk == user.pk:
        exc = ValidationError("You cannot deactivate your own account.")
        _refuse(actor, "user.deactivate", payload, exc)
        raise exc
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        record_event(actor, "user.deactivate", outcome=Outcome.SUCCEEDED, payload=payload)
    return user


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
    if not (actor.user is None and actor.source == "cli"):
        ensure_may_manage_users(actor, "auth.unlock", payload)
    attempts = AccessAttempt.objects.all()
    if username is not None:
        attempts = attempts.filter(username=username)
    if ip_address is not None:
        attempts = attempts.filter(ip_address=ip_address)
    with transaction.atomic():
        removed, _ = attempts.delete()
        record_event(
            actor,
            "auth.unlock",
            outcome=Outcome.SUCCEEDED,
            payload={**payload, "counters_removed": removed},
            message="" if removed else "Nothing was locked or counted for that.",
        )
    return removed
