"""The audit trail: an append-only, HMAC-chained record of every state-changing action."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from controlpanel.audit_keys import AuditKey

AUDITORS_GROUP = "Audit reviewers"

# Every action the audit trail records, by its code, with what it means in plain words.
# The one list: the History's action picker, its rows and event pages, and the API's
# ``action_label`` read it. Add a new action here when a service starts recording it.
AUDIT_ACTIONS: dict[str, str] = {
    "dag.trigger": "Triggered a run",
    "dag.pause": "Paused a DAG",
    "dag.unpause": "Unpaused a DAG",
    "run.retry": "Retried failed tasks",
    "run.set_state": "Marked a run succeeded or failed",
    "approval.request": "Asked for approval",
    "approval.approve": "Approved a request",
    "approval.reject": "Rejected a request",
    "approval.cancel": "Cancelled a request",
    "approval.expire": "A request expired",
    "profile.create": "Added an Airflow connection",
    "profile.update": "Changed an Airflow connection",
    "profile.delete": "Deleted an Airflow connection",
    "profile.test": "Tested an Airflow connection",
    "team.create": "Created a team",
    "team.update": "Changed a team",
    "team.delete": "Deleted a team",
    "member.add": "Added a team member",
    "member.remove": "Removed a team member",
    "member.role_change": "Changed a member's role",
    "grant.add": "Gave a team access to DAGs",
    "grant.remove": "Took DAG access from a team",
    "notification.subscribe": "Added a notification",
    "notification.update": "Changed a notification",
    "notification.unsubscribe": "Removed a notification",
    "notification.test": "Sent a test notification",
    "notification.send": "Sent a notification",
    "user.create": "Created a user",
    "user.update": "Changed a user",
    "user.deactivate": "Deactivated a user",
    "user.auditor_change": "Changed who reviews the audit trail",
    "user.admin_change": "Changed who is panel admin",
    "user.password_reset": "Reset a user's password",
    "token.create": "Created an API token",
    "token.revoke": "Revoked an API token",
    "api.write": "Wrote with a read-only API token",
    "auth.login": "Signed in",
    "auth.logout": "Signed out",
    "auth.lockout": "Locked out after failed sign-ins",
    "auth.unlock": "Unlocked a sign-in",
    "auth.password_change": "Changed a password",
    "secrets.rotate": "Re-encrypted the stored secrets",
    "history.prune": "Pruned old run history",
}


def action_label(code: str) -> str:
    """An audit action in plain words ("Triggered a run"); an unlisted code stays as it is."""
    return AUDIT_ACTIONS.get(code, code)


class AppendOnlyQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk update and delete are refused too, not only ``save()`` on an existing row."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit events are append-only and cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """One action someone (or something) attempted, and what came of it.

    Never updated or deleted by the app. ``hash`` covers the content and the previous
    event's hash, so editing or removing an event breaks the chain (``verify_audit``). It is
    an HMAC with a key kept outside the database (``key_id`` names it); events written
    before the keyed chain keep their plain SHA-256 (``algorithm``).
    """

    class Algorithm(models.TextChoices):
        SHA256 = "sha256", "SHA-256 (before the keyed chain)"
        HMAC_SHA256 = "hmac-sha256", "HMAC-SHA256"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        WORKER = "worker", "Worker"
        CLI = "cli", "Command line"
        DIRECTORY = "directory", "Directory sign-in"
        AIRFLOW_API = "airflow", "Airflow-compatible API"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        DENIED = "denied", "Denied"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    token_prefix = models.CharField("API token", max_length=20, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=50)
    profile_slug = models.CharField("profile", max_length=50, blank=True)
    dag_id = models.CharField("DAG", max_length=250, blank=True)
    dag_run_id = models.CharField("run", max_length=250, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.TextField(blank=True)
    request_id = models.CharField("request id", max_length=64, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    key_id = models.CharField("key id", max_length=16, blank=True, default="")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # The History lists newest first by (created_at, id), so each filter's index ends
        # with those: a page is a short index range scan whatever the filters and dates.
        # Plain btrees only (no LIKE companions): every index is paid on every write.
        indexes = [
            models.Index(fields=["created_at", "id"], name="audit_time"),
            models.Index(fields=["actor_username", "created_at", "id"], name="audit_actor_time"),
            models.Index(fields=["action", "created_at", "id"], name="audit_action_time"),
            models.Index(fields=["profile_slug", "created_at", "id"], name="audit_profile_time"),
            models.Index(fields=["dag_id", "created_at", "id"], name="audit_dag_time"),
            models.Index(fields=["outcome", "created_at", "id"], name="audit_outcome_time"),
            models.Index(fields=["dag_run_id"], name="audit_run"),
            models.Index(fields=["request_id"], name="audit_request"),
        ]
        constraints = [models.UniqueConstraint(fields=["hash"], name="audit_unique_hash")]
        permissions = [
            ("review_audit", "Can review all run history and the audit trail (read-only)"),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "anonymous"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only and cannot be deleted.")

    @property
    def action_label(self) -> str:
        """The action in plain words, as the History shows it."""
        return action_label(self.action)

    def content(self) -> dict[str, Any]:
        """The fields the hash covers, in a stable JSON-ready form."""
        return hashed_content({name: getattr(self, name) for name in HASHED_FIELDS})

    def compute_hash(self, key: AuditKey | None = None) -> str:
        """The link over the previous hash and this event's content.

        HMAC-SHA256 with ``key`` (which must be the one ``key_id`` names), or the plain
        sha256 of events written before the keyed chain when no key is given.
        """
        return link_hash(self.prev_hash, self.algorithm, self.key_id, self.content(), key)


# The fields an event's hash covers (``hashed_content``), as stored.
HASHED_FIELDS = (
    "created_at",
    "actor_username",
    "token_prefix",
    "source",
    "ip_address",
    "action",
    "profile_slug",
    "dag_id",
    "dag_run_id",
    "payload",
    "outcome",
    "message",
    "request_id",
)


def hashed_content(values: Mapping[str, Any]) -> dict[str, Any]:
    """What an event's hash covers, from its ``HASHED_FIELDS`` (an event's or a stored row's).

    A function of plain values, so verification can work from rows without building models.
    """
    content = {name: values[name] for name in HASHED_FIELDS[:-1]}
    content["created_at"] = values["created_at"].isoformat()
    content["ip_address"] = values["ip_address"] or ""
    if values["request_id"]:
        # Only when set, so events written before the field existed keep their hashes.
        content["request_id"] = values["request_id"]
    return content


# json.dumps(content, sort_keys=True, separators=(",", ":"), default=str), made once: a
# million events are verified in one go.
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def link_hash(
    prev_hash: str, algorithm: str, key_id: str, content: dict[str, Any], key: AuditKey | None
) -> str:
    """An event's link: HMAC-SHA256 with ``key``, or plain sha256 when ``key`` is None."""
    canonical = _canonical_json(content)
    if key is None:
        return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
    return key.sign(f"{algorithm}:{key_id}\n{prev_hash}\n{canonical}")


class AuditChainHead(models.Model):
    """The newest event's hash and the event count: one row, locked while appending.

    Updating it first serialises writers on every database, and it lets verification
    notice events removed from the end of the chain.
    """

    last_hash = models.CharField(max_length=64, default="0" * 64)
    event_count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"audit chain: {self.event_count} events"
