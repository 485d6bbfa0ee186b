"""How to reach one Airflow deployment: URL, credentials, TLS and timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BasicAuth:
    """HTTP basic credentials of an Airflow user."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BearerToken:
    """A bearer token sent as ``Authorization: Bearer ...``."""

    token: str = field(repr=False)


Credentials = BasicAuth | BearerToken


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the client needs to talk to one Airflow webserver.

    ``base_url`` is the webserver root (``https://airflow.example.com`` or with a path
    prefix), not the API root. TLS verification is on unless switched off; ``ca_bundle``
    is a path to a PEM file of CAs to trust instead of the system ones.
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

    def __post_init__(self) -> None:
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
