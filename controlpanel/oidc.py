"""OpenID Connect sign-in through Authlib: the authorization code flow with PKCE.

Authlib does the protocol: discovery, state, nonce and PKCE verifier kept in the session,
the code exchange, the ID token's signature (the provider's published keys), issuer,
audience, expiry and nonce. This module configures it from the settings, checks that the
provider names itself as configured, and turns every way a sign-in can fail into a
sentence for people (``SignInFailed``) plus a reason for the audit trail.
"""

from __future__ import annotations

import functools
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from joserfc.errors import JoseError

from controlpanel.services.directory import DirectoryIdentity

PROVIDER = "oidc"
UNREACHABLE = "The sign-in service could not be reached. Try again in a moment."
WRONG_ISSUER = (
    "The sign-in service names itself differently from the panel's settings, so its answer "
    "cannot be trusted. Ask a panel administrator to check OIDC_ISSUER_URL."
)
EXPIRED = "This sign-in did not start here or has expired. Sign in again."
UNVERIFIED = (
    "The sign-in service's answer could not be verified, so it was not accepted. Sign in "
    "again; if it keeps happening, ask a panel administrator."
)
REFUSED = "The sign-in service did not sign you in: {reason}"
MISSING_CLAIM = (
    "The sign-in service did not say who you are (no {claim} claim). Ask a panel "
    "administrator to check OIDC_USERNAME_CLAIM."
)


class SignInFailed(Exception):
    """A sign-in that could not be completed: ``message`` for people, ``reason`` for audit."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def is_enabled() -> bool:
    """True when single sign-on is configured (``OIDC_ISSUER_URL``)."""
    return bool(settings.OIDC_ISSUER_URL)


@functools.lru_cache(maxsize=4)
def _client(
    issuer: str, client_id: str, secret: str, scopes: str, auth_method: str, timeout: float
) -> Any:
    """An Authlib client for one configuration; it caches the provider's metadata and keys."""
    registry = OAuth()
    return registry.register(
        "panel",
        client_id=client_id,
        client_secret=secret,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": auth_method,
            "default_timeout": timeout,
        },
    )


def client() -> Any:
    """The Authlib client for the current settings."""
    return _client(
        settings.OIDC_ISSUER_URL,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET,
        settings.OIDC_SCOPES,
        settings.OIDC_TOKEN_AUTH_METHOD,
        settings.OIDC_TIMEOUT_SECONDS,
    )


def _metadata(app: Any) -> dict[str, Any]:
    """The provider's discovery document, refused unless it names the configured issuer."""
    try:
        metadata: dict[str, Any] = app.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed(UNREACHABLE, f"discovery failed: {exc}") from exc
    issuer = str(metadata.get("issuer", "")).rstrip("/")
    if issuer != settings.OIDC_ISSUER_URL:
        app.server_metadata.clear()  # fetched again next time, in case it was a blip
        raise SignInFailed(WRONG_ISSUER, f"wrong issuer: {issuer!r}")
    return metadata


def start_sign_in(request: HttpRequest, redirect_uri: str) -> HttpResponse:
    """The redirect to the provider's login page (state, nonce and PKCE in the session)."""
    app = client()
    _metadata(app)
    response: HttpResponse = app.authorize_redirect(request, redirect_uri)
    return response


def finish_sign_in(request: HttpRequest) -> DirectoryIdentity:
    """Who the provider says signed in, from the callback; raises SignInFailed."""
    app = client()
    _metadata(app)
    try:
        token = app.authorize_access_token(request)
    except MismatchingStateError as exc:
        raise SignInFailed(EXPIRED, "state does not match this browser's sign-in") from exc
    except OAuthError as exc:
        reason = exc.description or exc.error or "no reason given"
        raise SignInFailed(REFUSED.format(reason=reason), f"provider: {exc.error}") from exc
    except (JoseError, AuthlibBaseError) as exc:
        raise SignInFailed(UNVERIFIED, f"ID token refused: {exc}") from exc
    except requests.RequestException as exc:
        raise SignInFailed(UNREACHABLE, f"token request failed: {exc}") from exc
    if not token.get("userinfo"):
        raise SignInFailed(UNVERIFIED, "no ID token in the token response")
    return identity_from_claims(dict(token["userinfo"]))


def identity_from_claims(claims: dict[str, Any]) -> DirectoryIdentity:
    """The directory identity in an ID token's claims (settings name the claims to read)."""
    username = claims.get(settings.OIDC_USERNAME_CLAIM)
    if not isinstance(username, str) or not username.strip():
        claim = settings.OIDC_USERNAME_CLAIM
        raise SignInFailed(MISSING_CLAIM.format(claim=claim), f"no {claim} claim")
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    email = claims.get("email")
    return DirectoryIdentity(
        provider=PROVIDER,
        subject=str(claims["sub"]),
        username=username.strip(),
        email=email if isinstance(email, str) else "",
        groups=tuple(str(group) for group in groups),
    )
