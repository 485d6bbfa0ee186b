"""How to reach one Airflow deployment: URL, credentials, TLS and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

ApiVersion = Literal["v1", "v2"]
ApiVersionSetting = Literal["auto", "v1", "v2"]
API_VERSION_SETTINGS: tuple[ApiVersionSetting, ...] = ("auto", "v1", "v2")


@dataclass(frozen=True)
class BasicAuth:
    """Username and password of an Airflow user.

    Airflow 2 receives them as HTTP basic auth; on Airflow 3 the client exchanges them for
    a bearer token at ``/auth/token`` (basic auth is refused there).
    """

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BearerToken:
    """A static bearer token sent as ``Authorization: Bearer ...`` (Airflow 2 and 3)."""

    token: str = field(repr=False)


Credentials = BasicAuth | BearerToken


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the client needs to talk to one Airflow webserver.

    ``base_url`` is the webserver root (``https://airflow.example.com`` or with a path
    prefix), not the API root. TLS verification is on unless switched off; ``ca_bundle``
    is a path to a PEM file of CAs to trust instead of the system ones. ``api_version``
    picks the REST API: ``v1`` (Airflow 2), ``v2`` (Airflow 3) or ``auto`` (asked once per
    client, from ``/api/v2/version`` then ``/api/v1/version``). ``login_session`` (Airflow 2,
    basic credentials): log in once through the web login and send its session cookie
    rather than the password on every request; worth it for a long-lived client, and it
    needs ``airflow.api.auth.backend.session`` in Airflow's ``[api] auth_backends`` (without
    it the client notices and keeps to basic auth).
    """

    base_url: str
    credentials: Credentials | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    allow_insecure_http: bool = False
    max_retries: int = 3
    backoff_seconds: float = 0.5
    api_version: ApiVersionSetting = "auto"
    login_session: bool = False

    def __post_init__(self) -> None:
        if self.api_version not in API_VERSION_SETTINGS:
            raise ValueError(f"api_version must be auto, v1 or v2: {self.api_version!r}")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"Airflow URL must start with http:// or https://: {self.base_url!r}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def is_plain_http(self) -> bool:
        """True when requests would travel unencrypted."""
        return urlsplit(self.base_url).scheme == "http"

    @property
    def host(self) -> str:
        """host[:port] of the webserver, for messages."""
        return urlsplit(self.base_url).netloc

    @property
    def tls_verify(self) -> bool | str:
        """The value requests expects for ``verify``."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True
