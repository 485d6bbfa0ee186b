"""API tokens: create (shown once) and revoke them, both audited (refusals too); note their use.

A user creates and revokes their own tokens; a superuser (or ``manage.py``) for anyone.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from controlpanel.audit import Actor, audited
from controlpanel.models import ApiToken, hash_token
from controlpanel.permissions import access_for, require

TOKEN_PREFIX_LENGTH = 8
MAX_EXPIRES_DAYS = 3650
ONLY_OWN_TOKENS = "You may only manage your own API tokens; a panel administrator may manage any."
READ_ONLY_MESSAGE = "This API token is read-only: it cannot change anything."
# Writing last_used_at on every request would make every read a write; a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _may_manage_tokens_of(actor: Actor, user: Any) -> bool:
    if actor.user is None and actor.source == "cli":
        return True  # whoever runs manage.py already holds the server's own rights
    return access_for(actor.user).can_manage_tokens_of(user)


def check_may_write(actor: Actor, token: ApiToken, method: str, path: str) -> None:
    """Raise ActionDenied, recorded as denied (``api.write``), for a read-only token's write."""
    payload = {"method": method, "path": path}
    with audited(actor, "api.write", payload=payload, check_only=True):
        require(not token.read_only, READ_ONLY_MESSAGE, code="read_only_token")


def create_token(
    actor: Actor,
    user: Any,
    name: str,
    expires_days: int | None = None,
    read_only: bool = False,
) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns it with its plaintext, which is never stored.

    ``expires_days`` None means it never expires. Raises ValueError for a bad expiry.
    """
    name = (name or "").strip() or "API token"
    payload: dict[str, Any] = {
        "user": user.get_username(),
        "name": name,
        "expires_days": expires_days,
        "read_only": read_only,
    }
    with audited(actor, "token.create", payload=payload, failed=(ValueError,)) as event:
        require(_may_manage_tokens_of(actor, user), ONLY_OWN_TOKENS)
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
            raise ValueError(f"A token expires after 1 to {MAX_EXPIRES_DAYS} days.")
        plaintext = "acp_" + secrets.token_urlsafe(32)
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=plaintext[:TOKEN_PREFIX_LENGTH],
            token_hash=hash_token(plaintext),
            expires_at=expires_at,
            read_only=read_only,
        )
        event.payload.update(id=token.pk, prefix=token.prefix)
    return token, plaintext


def revoke_token(actor: Actor, token: ApiToken) -> ApiToken:
    """Stop a token from working, at once and for good (revoking twice changes nothing).

    The conditional update decides which request revoked it: a revoke that finds it already
    revoked (also by a concurrent one) says so in its event (``already_revoked``), so one
    event records the change.
    """
    payload = {"id": token.pk, "prefix": token.prefix, "user": token.user.get_username()}
    with audited(actor, "token.revoke", payload=payload) as event:
        require(_may_manage_tokens_of(actor, token.user), ONLY_OWN_TOKENS)
        now = timezone.now()
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if revoked:
            token.revoked_at = now
        else:
            token.refresh_from_db(fields=["revoked_at"])
            event.payload["already_revoked"] = True
            event.message = "The token was already revoked; nothing changed."
    return token


def find_token(plaintext: str) -> ApiToken | None:
    """The usable token with this plaintext, or None (unknown, revoked or expired)."""
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(plaintext)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token


def note_use(token: ApiToken) -> None:
    """Record when the token was last used (at most once a minute).

    Not audited: it is bookkeeping for the token lists, written by the authentication of
    every API call (the panel's and the Airflow-compatible one).
    """
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
