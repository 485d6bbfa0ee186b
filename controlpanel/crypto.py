"""Encryption at rest for connection secrets (Fernet, with key rotation).

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma separated, newest first; or
``FIELD_ENCRYPTION_KEYS_FILE``). The newest key encrypts, every key decrypts, and
``manage.py rotate_encryption_keys`` re-encrypts every stored secret with the newest one.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _keys() -> list[bytes]:
    configured = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    if configured:
        return [k.encode() for k in configured]
    if settings.DEBUG:
        # Development only: a key derived from the (development) SECRET_KEY.
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS is not set: the panel needs a key to encrypt connection "
        'secrets. Generate one with: python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"'
    )


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes)."
        ) from exc


def encrypt(plaintext: str) -> str:
    """Encrypt with the newest key; the result is safe to store in a text column."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with whichever configured key made ``token``."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS."
        ) from exc


def reencrypt(token: str) -> str:
    """The same secret encrypted with the newest key (for key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from exc
