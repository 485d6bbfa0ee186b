"""``manage.py rotate_encryption_keys``: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent
from controlpanel.services import maintenance


class Command(BaseCommand):
    """Key rotation, step two: after the new key was put first in FIELD_ENCRYPTION_KEYS.

    All or nothing: if any secret cannot be decrypted, nothing is changed, so the old key
    is never removed while a secret still depends on it.
    """

    help = (
        "Re-encrypt every connection profile's password or token (and webhook signing "
        "secret) with the newest key in "
        "FIELD_ENCRYPTION_KEYS (the first one). Run it after putting a new key first; "
        "then the old key can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        """Re-encrypt all secrets and record one audit event, in one transaction."""
        try:
            rotated = maintenance.rotate_secrets(Actor.system(source=AuditEvent.Source.CLI))
        except (ImproperlyConfigured, maintenance.SecretsNotRotated) as exc:
            raise CommandError(str(exc)) from exc
        count = rotated.profiles + rotated.webhooks
        noun = "secret" if count == 1 else "secrets"
        self.stdout.write(f"Re-encrypted {count} {noun} with the newest key.")
