"""System checks run by ``manage.py check``, ``migrate`` and ``runserver`` at start-up.

A missing or malformed encryption key otherwise only shows when someone first saves or
uses a connection profile; the check makes the panel refuse to start instead.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error

HOW_TO_MAKE_A_KEY = (
    'Generate a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())" and set FIELD_ENCRYPTION_KEYS (or '
    "FIELD_ENCRYPTION_KEYS_FILE, the path of a file holding it)."
)


def check_field_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report an error when connection secrets could not be encrypted or decrypted.

    Without keys, DEBUG falls back to a development key (crypto.py), so only production
    needs them; a malformed key breaks every environment, so it is reported always.
    """
    keys = [key.strip() for key in settings.FIELD_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        if settings.DEBUG:
            return []
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is not set, so connection passwords and tokens "
                "cannot be stored encrypted.",
                hint=HOW_TO_MAKE_A_KEY,
                id="controlpanel.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            # The position, never the value: a near-miss key is still a secret.
            errors.append(
                Error(
                    f"Key number {position} in FIELD_ENCRYPTION_KEYS is not a Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    hint=HOW_TO_MAKE_A_KEY,
                    id="controlpanel.E002",
                )
            )
    return errors
