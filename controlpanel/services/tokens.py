"""API tokens: create (shown once) and revoke them; both audited, refusals too.

A user creates and revokes their own tokens; a superuser (or ``manage.py``) for anyone.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import ApiToken, hash_token
from controlpanel.permissions import ActionDenied, access_for

TOKEN_PREFIX_LENGTH = 8
MAX_EXPIRES_DAYS = 3650
ONLY_OWN_TOKENS = "You may only manage your own API tokens; a panel administrator may manage any."


def _may_manage_tokens_of(actor: Actor, user: Any) -> bool:
    if actor.user is None and actor.source == "cli":
        return True  # whoever runs manage.py already holds the server's own rights
    access = access_for(actor.user)
    if not access.is_authenticated:
        return False
    return access.is_superuser or actor.user.pk == user.pk


def _require(actor: Actor, user: Any, action: str, payload: dict[str, Any]) -> None:
    """Raise ActionDenied, recorded as denied, unless the actor may manage ``user``'s tokens."""
    if _may_manage_tokens_of(actor, user):
        return
    record_event(actor, action, outcome=Outcome.DENIED, payload=payload, message=ONLY_OWN_TOKENS)
    raise ActionDenied(ONLY_OWN_TOKENS)


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
    _require(actor, user, "token.create", payload)
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        message = f"A token expires after 1 to {MAX_EXPIRES_DAYS} days."
        record_event(
            actor, "token.create", outcome=Outcome.FAILED, payload=payload, message=message
        )
        raise ValueError(message)
    plaintext = "acp_" + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=plaintext[:TOKEN_PREFIX_LENGTH],
            token_hash=hash_token(plaintext),
            expires_at=expires_at,
            read_only=read_only,
        )
        record_event(
            actor,
            "token.create",
            outcome=Outcome.SUCCEEDED,
            payload={**payload, "id": token.pk, "prefix": token.prefix},
        )
    return token, plaintext


def revoke_token(actor: Actor, token: ApiToken) -> ApiToken:
    """Stop a token from working, at once and for good (revoking twice changes nothing)."""
    payload = {"id": token.pk, "prefix": token.prefix, "user": token.user.get_username()}
    _require(actor, token.user, "token.revoke", payload)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
                revoked_at=token.revoked_at
            )
        record_event(actor, "token.revoke", outcome=Outcome.SUCCEEDED, payload=payload)
    return token


def find_token(plaintext: str) -> ApiToken | None:
    """The usable token with this plaintext, or None (unknown, revoked or expired)."""
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(plaintext)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token
