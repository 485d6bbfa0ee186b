"""How Airflow clients authenticate, with panel API tokens.

Airflow 2 clients send HTTP basic credentials: the panel username and an API token as the
password. Airflow 3 clients send ``Authorization: Bearer <token>`` (the panel's own
``BearerTokenAuthentication``). Only the token's hash is looked up, never a password
hasher: a basic-auth request costs what a bearer request costs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from controlpanel.api.authentication import UNUSABLE_KEY_MESSAGE, note_use
from controlpanel.models import ApiToken
from controlpanel.services.tokens import find_token

BASIC_FORMAT = "Send the panel username and an API token of the panel as basic credentials."


class TokenBasicAuthentication(BaseAuthentication):
    """HTTP basic with ``username:<panel API token>``; ``request.auth`` is the ``ApiToken``."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"basic":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(BASIC_FORMAT)
        try:
            username, _, plaintext = base64.b64decode(parts[1]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed(BASIC_FORMAT) from None
        token = find_token(plaintext) if plaintext else None
        if token is None or not hmac.compare_digest(
            token.user.get_username().encode(), username.encode()
        ):
            raise AuthenticationFailed(UNUSABLE_KEY_MESSAGE)
        note_use(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="airflow"'
