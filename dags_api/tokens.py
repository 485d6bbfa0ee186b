"""Airflow 3 login: a username and password exchanged for a bearer token (JWT).

Airflow 3 refuses HTTP basic auth on its REST API. ``POST /auth/token`` with the user's
name and password answers ``{"access_token": ...}``; the token is cached per client and
fetched again shortly before it expires (read from the JWT's ``exp`` claim, unverified: the
client only needs to know when to ask again) or when Airflow refuses it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from .config import BasicAuth
from .errors import AirflowServerError

# Ask for a new token this long before the old one expires: requests take time in flight.
EXPIRY_MARGIN_SECONDS = 60.0

SendToken = Callable[[dict[str, Any]], requests.Response]


class TokenExchange:
    """Fetches, caches and renews the bearer token of one Airflow 3 user."""

    def __init__(
        self,
        credentials: BasicAuth,
        send: SendToken,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._send = send  # POSTs the body to /auth/token and raises typed errors
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None
        self.fetched_at: float | None = None
        self.fetch_count = 0

    def token(self) -> str:
        """A token that is valid for at least the next minute, fetching one if needed."""
        with self._lock:
            now = self._clock()
            expired = self._expires_at is not None and now >= self._expires_at - (
                EXPIRY_MARGIN_SECONDS
            )
            if self._token is None or expired:
                self._token = self._fetch()
                self._expires_at = jwt_expiry(self._token)
                self.fetched_at = now
            return self._token

    def forget(self, token: str) -> None:
        """Drop ``token`` after Airflow refused it, so the next call fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None
                self._expires_at = None

    def _fetch(self) -> str:
        self.fetch_count += 1
        body = {"username": self._credentials.username, "password": self._credentials.password}
        response = self._send(body)
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise AirflowServerError(
                "Airflow answered the login request in an unexpected shape.",
                detail=f"HTTP {response.status_code}: {response.text[:300]}",
                status_code=response.status_code,
            ) from exc
        if not isinstance(token, str) or not token:
            raise AirflowServerError(
                "Airflow answered the login request without a token.",
                detail=response.text[:300],
                status_code=response.status_code,
            )
        return token


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (seconds since the epoch) of a JWT, or None if it has none.

    The signature is not checked: Airflow checks it; the client only plans its renewal.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None
