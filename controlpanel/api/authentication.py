"""``Authorization: Bearer <token>`` authentication with the panel's API tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from controlpanel.models import ApiToken
from controlpanel.services.tokens import find_token, note_use

UNUSABLE_KEY_MESSAGE = "The API token is unknown, revoked or expired."


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticates a request by its API token; ``request.auth`` is then the ``ApiToken``."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        try:
            plaintext = parts[1].decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed(UNUSABLE_KEY_MESSAGE) from None
        token = find_token(plaintext)
        if token is None:
            raise AuthenticationFailed(UNUSABLE_KEY_MESSAGE)
        note_use(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return f'{self.keyword} realm="api"'


def token_of(request: Request) -> ApiToken | None:
    """The API token the request came with, or None for a browser session."""
    return request.auth if isinstance(request.auth, ApiToken) else None


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = "controlpanel.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token of the panel."}
