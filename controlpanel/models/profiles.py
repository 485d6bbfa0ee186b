"""Connection profiles: how the panel reaches one Airflow deployment."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from controlpanel import crypto
from dags_api import BasicAuth, BearerToken, ConnectionSettings, Credentials

PLAIN_HTTP_WARNING = "This connection uses plain http://: the Airflow password travels unencrypted."


class AirflowProfile(models.Model):
    """One Airflow deployment the panel talks to, with its credentials encrypted at rest."""

    class AuthType(models.TextChoices):
        BASIC = "basic", "Username and password"
        BEARER = "bearer", "Bearer token"

    class ApiVersion(models.TextChoices):
        """Which REST API the Airflow serves."""

        AUTO = "auto", "Detect"
        V1 = "v1", "Airflow 2 (/api/v1)"
        V2 = "v2", "Airflow 3 (/api/v2)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    base_url = models.CharField(
        "Airflow URL",
        max_length=500,
        help_text="The Airflow webserver address, e.g. https://airflow.example.com",
    )
    auth_type = models.CharField(max_length=10, choices=AuthType.choices, default=AuthType.BASIC)
    username = models.CharField(max_length=200, blank=True)
    # The password or token, Fernet-encrypted; never rendered back (see crypto.py).
    secret_encrypted = models.TextField(blank=True, editable=False)
    verify_tls = models.BooleanField("verify TLS certificates", default=True)
    ca_bundle = models.TextField(
        "CA bundle",
        blank=True,
        help_text="PEM certificates to trust instead of the system ones (optional).",
    )
    timeout_seconds = models.FloatField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(300)],
    )
    allow_insecure_http = models.BooleanField(
        "allow plain http",
        default=False,
        help_text="Send credentials over unencrypted http://. Only for trusted networks.",
    )
    api_version = models.CharField(
        "Airflow API",
        max_length=4,
        choices=ApiVersion.choices,
        default=ApiVersion.AUTO,
        help_text=(
            "Airflow 2 serves /api/v1, Airflow 3 serves /api/v2. 'Detect' asks the server; "
            "Test connection stores what it found."
        ),
    )
    is_active = models.BooleanField(default=True)
    track_external_runs = models.BooleanField(
        "track runs started elsewhere",
        default=True,
        help_text="Also record runs of granted DAGs started by schedules or Airflow's UI.",
    )
    # The end of the last successful catalog sync; None: the DAG list was never read yet.
    catalog_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # --- secrets ------------------------------------------------------------------------

    def set_secret(self, plaintext: str) -> None:
        """Store a new password or token, encrypted with the newest key."""
        self.secret_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def reveal_secret(self) -> str:
        """The decrypted password or token, for building an Airflow client only."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def has_secret(self) -> bool:
        """True when a password or token is stored (shown as "set", never the value)."""
        return bool(self.secret_encrypted)

    # --- validation and use ---------------------------------------------------------------

    @property
    def is_plain_http(self) -> bool:
        """True when the base URL is http:// (requests travel unencrypted)."""
        return self.base_url.lower().startswith("http://")

    @property
    def security_warning(self) -> str:
        """The warning shown wherever an allowed plain-http profile appears, else ''."""
        return PLAIN_HTTP_WARNING if self.is_plain_http else ""

    def clean(self) -> None:
        """Refuse a malformed URL, and credentials over http:// unless explicitly allowed."""
        errors: dict[str, str] = {}
        try:
            ConnectionSettings(self.base_url)
        except ValueError:
            errors["base_url"] = "Enter the Airflow address starting with https:// or http://."
        if self.auth_type == self.AuthType.BASIC and not self.username:
            errors["username"] = "A username is needed for username and password login."
        if self.is_plain_http and not self.allow_insecure_http:
            errors["allow_insecure_http"] = (
                "This address is plain http://, so the credentials would travel unencrypted. "
                "Use https://, or tick 'allow plain http' if this network is trusted."
            )
        if errors:
            raise ValidationError(errors)

    def credentials(self) -> Credentials | None:
        """The credentials for dags_api, decrypted."""
        secret = self.reveal_secret()
        if self.auth_type == self.AuthType.BEARER:
            return BearerToken(secret) if secret else None
        return BasicAuth(self.username, secret) if self.username else None

    def connection_settings(self) -> ConnectionSettings:
        """Everything dags_api needs to reach this Airflow."""
        return ConnectionSettings(
            self.base_url,
            self.credentials(),
            verify_tls=self.verify_tls,
            ca_bundle=self._ca_bundle_path(),
            read_timeout=self.timeout_seconds,
            connect_timeout=min(10.0, self.timeout_seconds),
            allow_insecure_http=self.allow_insecure_http,
            api_version=self.api_version,  # type: ignore[arg-type]
        )

    def _ca_bundle_path(self) -> str | None:
        """requests wants a file: write the PEM once, named by its hash."""
        pem = self.ca_bundle.strip()
        if not pem:
            return None
        if not pem.startswith("-----BEGIN"):
            return pem  # a path on the panel's host
        folder = Path(settings.BASE_DIR) / "var" / "ca-bundles"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{hashlib.sha256(pem.encode()).hexdigest()[:24]}.pem"
        if not path.exists():
            path.write_text(pem + "\n")
        return str(path)
