"""``manage.py rotate_encryption_keys``: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from controlpanel import crypto
from controlpanel.audit import Actor, record_event
from controlpanel.models import AirflowProfile, AuditEvent, Subscription


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
            with transaction.atomic():
                count = self._rotate_all()
                webhooks = self._rotate_webhook_secrets()
                payload = {"profiles": count, **({"webhooks": webhooks} if webhooks else {})}
                record_event(
                    Actor.system(source=AuditEvent.Source.CLI),
                    "secrets.rotate",
                    outcome=AuditEvent.Outcome.SUCCEEDED,
                    payload=payload,
                )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        count += webhooks
        noun = "secret" if count == 1 else "secrets"
        self.stdout.write(f"Re-encrypted {count} {noun} with the newest key.")

    def _rotate_all(self) -> int:
        """Re-encrypt in memory first, then write: a failure leaves every row as it was."""
        profiles = (
            AirflowProfile.objects.select_for_update()
            .exclude(secret_encrypted="")
            .order_by("pk")
            .only("pk", "slug", "secret_encrypted")
        )
        rotated: dict[int, str] = {}
        for profile in profiles:
            try:
                rotated[profile.pk] = crypto.reencrypt(profile.secret_encrypted)
            except crypto.SecretUnreadable:
                raise CommandError(
                    f"The secret of profile '{profile.slug}' cannot be decrypted with any key "
                    "in FIELD_ENCRYPTION_KEYS, so nothing was changed. Add the key it was "
                    "encrypted with, or enter that profile's password or token again."
                ) from None
        for pk, token in rotated.items():
            # update(), not save(): only the ciphertext changes, so updated_at (which
            # people read as "someone edited this profile") stays as it was.
            AirflowProfile.objects.filter(pk=pk).update(secret_encrypted=token)
        return len(rotated)

    def _rotate_webhook_secrets(self) -> int:
        """The notification webhooks' signing secrets, all or nothing like the profiles'."""
        subscriptions = (
            Subscription.objects.select_for_update()
            .exclude(secret_encrypted="")
            .order_by("pk")
            .only("pk", "secret_encrypted")
        )
        rotated: dict[int, str] = {}
        for subscription in subscriptions:
            try:
                rotated[subscription.pk] = crypto.reencrypt(subscription.secret_encrypted)
            except crypto.SecretUnreadable:
                raise CommandError(
                    f"The signing secret of notification {subscription.pk} cannot be decrypted "
                    "with any key in FIELD_ENCRYPTION_KEYS, so nothing was changed. Add the key "
                    "it was encrypted with, or enter that webhook's secret again."
                ) from None
        for pk, token in rotated.items():
            Subscription.objects.filter(pk=pk).update(secret_encrypted=token)
        return len(rotated)
