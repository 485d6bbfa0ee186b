"""The keys that sign the audit chain and its checkpoints (HMAC-SHA256, with rotation).

Keys come from ``AUDIT_HMAC_KEYS`` (comma separated, newest first; or
``AUDIT_HMAC_KEYS_FILE``). They live outside the database, so someone who can write to the
database but does not hold a key cannot recompute the chain after changing it. The newest
key signs; every listed key verifies what it signed, found by its short key id.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

MIN_KEY_LENGTH = 32
HOW_TO_MAKE_A_KEY = (
    'Generate a key with: python -c "import secrets; print(secrets.token_urlsafe(32))" and '
    "set AUDIT_HMAC_KEYS (or AUDIT_HMAC_KEYS_FILE, the path of a file holding it)."
)


@dataclass(frozen=True)
class AuditKey:
    """One signing key and the short id events and checkpoints record to name it."""

    key_id: str
    secret: bytes

    def sign(self, message: str) -> str:
        """HMAC-SHA256 of ``message`` as 64 hex characters."""
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()


def key_id_of(secret: bytes) -> str:
    """A short, stable name for a key that reveals nothing useful about it."""
    return hashlib.sha256(b"audit-hmac-key-id\n" + secret).hexdigest()[:8]


def configured_keys() -> list[str]:
    """The keys as configured, blanks dropped, newest first."""
    return [key.strip() for key in settings.AUDIT_HMAC_KEYS if key.strip()]


def audit_keys() -> list[AuditKey]:
    """Every usable key, newest (the signing one) first.

    Without keys, DEBUG falls back to a key derived from the (development) SECRET_KEY;
    anywhere else the panel refuses, as it does for FIELD_ENCRYPTION_KEYS.
    """
    configured = [key.encode() for key in configured_keys()]
    if not configured:
        if not settings.DEBUG:
            raise ImproperlyConfigured(
                f"AUDIT_HMAC_KEYS is not set: the audit trail needs a key. {HOW_TO_MAKE_A_KEY}"
            )
        configured = [hashlib.sha256(f"audit-hmac:{settings.SECRET_KEY}".encode()).digest()]
    return [AuditKey(key_id_of(secret), secret) for secret in configured]


def signing_key() -> AuditKey:
    """The key new events and checkpoints are signed with: the first one listed."""
    return audit_keys()[0]


def verification_keys() -> dict[str, AuditKey]:
    """Every listed key by its id: old events verify as long as their key stays listed."""
    return {key.key_id: key for key in audit_keys()}


def check_audit_hmac_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A system check: refuse to start without a key (unless DEBUG) or with a weak one.

    Positions, never values, are named: a near-miss key is still a secret.
    """
    keys = configured_keys()
    if not keys and not settings.DEBUG:
        return [
            Error(
                "AUDIT_HMAC_KEYS is not set, so audit events cannot be signed.",
                hint=HOW_TO_MAKE_A_KEY,
                id="controlpanel.E003",
            )
        ]
    errors: list[CheckMessage] = [
        Error(
            f"Key number {position} in AUDIT_HMAC_KEYS is shorter than {MIN_KEY_LENGTH} "
            "characters.",
            hint=HOW_TO_MAKE_A_KEY,
            id="controlpanel.E004",
        )
        for position, key in enumerate(keys, start=1)
        if len(key) < MIN_KEY_LENGTH
    ]
    if len({key_id_of(key.encode()) for key in keys}) != len(keys):
        errors.append(Error("AUDIT_HMAC_KEYS lists the same key twice.", id="controlpanel.E005"))
    return errors
