"""Maintenance run by an operator (``manage.py``): forget old run history, rotate secrets.

Both audited like every other change, in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from controlpanel import crypto
from controlpanel.audit import Actor, audited
from controlpanel.models import AirflowProfile, Run, StateChange, Subscription, TaskInstance


class SecretsNotRotated(Exception):
    """A stored secret cannot be decrypted with any key, so no secret was changed."""


@dataclass(frozen=True)
class HistoryToPrune:
    """The finished runs that ended before ``cutoff``, and how many rows go with them."""

    cutoff: datetime
    runs: QuerySet[Run]
    counts: dict[str, int]


def history_to_prune(days: int) -> HistoryToPrune:
    """What pruning with a retention of ``days`` would delete (nothing is deleted)."""
    cutoff = timezone.now() - timedelta(days=days)
    runs = Run.objects.filter(is_finished=True, end_date__lt=cutoff)
    counts = {
        "runs": runs.count(),
        "task_instances": TaskInstance.objects.filter(run__in=runs).count(),
        "state_changes": StateChange.objects.filter(run__in=runs).count(),
    }
    return HistoryToPrune(cutoff, runs, counts)


def prune_history(actor: Actor, days: int) -> HistoryToPrune:
    """Delete finished runs older than ``days`` with their task history (audit kept)."""
    prune = history_to_prune(days)
    payload: dict[str, Any] = {"days": days, "cutoff": prune.cutoff.isoformat(), **prune.counts}
    with audited(actor, "history.prune", payload=payload):
        prune.runs.delete()
    return prune


@dataclass(frozen=True)
class Rotated:
    """How many secrets were re-encrypted with the newest key."""

    profiles: int
    webhooks: int


def rotate_secrets(actor: Actor) -> Rotated:
    """Re-encrypt every profile secret and webhook signing secret with the newest key.

    All or nothing: raises SecretsNotRotated (nothing changed) if one cannot be decrypted,
    so the old key is never removed while a secret still depends on it.
    """
    with audited(actor, "secrets.rotate") as event:
        profiles = _reencrypt(
            AirflowProfile.objects.only("pk", "slug", "secret_encrypted"),
            lambda p: (
                f"The secret of profile '{p.slug}' cannot be decrypted with any key "
                "in FIELD_ENCRYPTION_KEYS, so nothing was changed. Add the key it was "
                "encrypted with, or enter that profile's password or token again."
            ),
        )
        webhooks = _reencrypt(
            Subscription.objects.only("pk", "secret_encrypted"),
            lambda s: (
                f"The signing secret of notification {s.pk} cannot be decrypted "
                "with any key in FIELD_ENCRYPTION_KEYS, so nothing was changed. Add the key "
                "it was encrypted with, or enter that webhook's secret again."
            ),
        )
        event.payload = {"profiles": profiles, **({"webhooks": webhooks} if webhooks else {})}
    return Rotated(profiles, webhooks)


def _reencrypt(rows: QuerySet[Any], problem: Any) -> int:
    """Re-encrypt in memory first, then write: a failure leaves every row as it was.

    ``update()``, not ``save()``: only the ciphertext changes, so ``updated_at`` (which
    people read as "someone edited this") stays as it was.
    """
    rotated: dict[int, str] = {}
    for row in rows.select_for_update().exclude(secret_encrypted="").order_by("pk"):
        try:
            rotated[row.pk] = crypto.reencrypt(row.secret_encrypted)
        except crypto.SecretUnreadable:
            raise SecretsNotRotated(problem(row)) from None
    for pk, token in rotated.items():
        rows.model.objects.filter(pk=pk).update(secret_encrypted=token)
    return len(rotated)
