"""Panel user accounts: create, change and deactivate them (panel admins only, audited).

Audit-reviewer changes go through ``services.teams.set_auditor``.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ObjectDoesNotExist, ValidationError

from controlpanel.audit import Actor, Outcome, audited, record_event
from controlpanel.permissions import access_for, require
from controlpanel.services import teams

ONLY_ADMINS = "Only panel administrators manage user accounts."
DIRECTORY_OWNS_SIGN_IN = (
    "{username} signs in through the directory: their password is the directory's, not the panel's."
)


def ensure_may_manage_users(actor: Actor, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor is a panel admin.

    For API views that refuse a request before reading its body.
    """
    with audited(actor, action, payload=payload, check_only=True):
        _require_admin(actor)


def _require_admin(actor: Actor) -> None:
    require(access_for(actor.user).can_manage_users, ONLY_ADMINS)


def create_user(
    actor: Actor,
    *,
    username: str,
    email: str,
    password: str,
    is_auditor: bool = False,
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
    password_later: bool = False,
) -> Any:
    """Add a user who can sign in with ``password`` (checked by Django's validators).

    ``password_later``: no password yet (they cannot sign in with one until an admin
    resets it). ``is_superuser`` makes a panel administrator.
    """
    payload = {"user": username, "email": email, "is_auditor": is_auditor}
    payload.update({"is_superuser": True} if is_superuser else {})
    payload.update({"password_later": True} if password_later else {})
    with audited(actor, "user.create", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        user_model = get_user_model()
        user = user_model(
            username=username.strip(),
            email=email.strip(),
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            is_superuser=is_superuser,
            is_staff=is_superuser,
        )
        try:
            if user_model.objects.filter(username=user.username).exists():
                raise ValidationError({"username": ["A user with that username already exists."]})
            _set_new_password(user, password, password_later)
            user.full_clean()
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise ValidationError({"password": exc.messages}) from None
            raise
        user.save()
    if is_auditor:
        teams.set_auditor(actor, user, True)
    return user


def _set_new_password(user: Any, password: str, password_later: bool) -> None:
    """A new user's password, or none for now (an unusable one) when ``password_later``."""
    if password_later and not password:
        user.set_unusable_password()
        return
    if not password:
        raise ValidationError({"password": ["Give the new user a password."]})
    validate_password(password, user)
    user.set_password(password)


def update_user(
    actor: Actor,
    user: Any,
    *,
    email: str | None = None,
    password: str | None = None,
    is_auditor: bool | None = None,
    is_active: bool | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> Any:
    """Change a user's email, name, password, active flag or audit-reviewer role."""
    payload: dict[str, Any] = {"user": user.get_username()}
    changes: dict[str, Any] = {"email": email, "is_active": is_active}
    changes.update(first_name=first_name, last_name=last_name)
    payload.update({k: v for k, v in changes.items() if v is not None})
    payload["password_changed"] = bool(password)
    with audited(actor, "user.update", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        for name in ("email", "first_name", "last_name"):
            if (value := changes[name]) is not None:
                setattr(user, name, str(value).strip())
        if is_active is not None:
            user.is_active = is_active
        try:
            if password:
                _refuse_directory_password(user)
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


def generate_password() -> str:
    """A random password for an admin to hand over once (about 100 bits, no look-alikes)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


def reset_password(actor: Actor, user: Any, password: str | None = None) -> str:
    """Set a user's password for them (panel admins only); returns it to be shown once.

    ``None``: a generated one. Their other sessions end (Django checks the password hash).
    Refused for a user who signs in through the directory: the directory owns it.
    """
    payload = {"user": user.get_username(), "generated": not password}
    with audited(actor, "user.password_reset", payload=payload, failed=(ValidationError,)):
        _require_admin(actor)
        new_password = password or generate_password()
        try:
            _refuse_directory_password(user)
            validate_password(new_password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user.set_password(new_password)
        user.save(update_fields=["password"])
    return new_password


def _refuse_directory_password(user: Any) -> None:
    """The directory owns its users' sign-in: a panel password would be a way in it cannot close."""
    if directory_provider(user):
        raise ValidationError(DIRECTORY_OWNS_SIGN_IN.format(username=user.get_username()))


def directory_provider(user: Any) -> str:
    """The directory a user signs in through ("OpenID Connect", "LDAP"), or "" for none."""
    try:
        account = user.directory_account
    except ObjectDoesNotExist:
        return ""
    return str(account.get_provider_display())


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
