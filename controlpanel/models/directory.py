"""Panel users who sign in through the organisation's directory (OpenID Connect, LDAP)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DirectoryAccount(models.Model):
    """A panel user's link to their directory identity, and the roles the directory gave.

    The link is the provider's stable id (the OpenID Connect ``sub``, the LDAP DN), not the
    username, so a new account with a recycled name never inherits someone else's. The role
    flags say which roles the directory granted, so it only ever takes back its own.
    """

    class Provider(models.TextChoices):
        OIDC = "oidc", "OpenID Connect"
        LDAP = "ldap", "LDAP"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_account"
    )
    provider = models.CharField(max_length=10, choices=Provider.choices)
    subject = models.CharField(max_length=500)
    groups = models.JSONField(default=list, blank=True)  # as of the last sign-in
    admin_from_directory = models.BooleanField(default=False)
    auditor_from_directory = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subject"], name="one_account_per_identity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_provider_display()})"
