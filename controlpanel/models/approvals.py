"""Approval requests: a second person signs off before a run of a sensitive DAG starts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from .profiles import AirflowProfile
from .teams import Team


class ApprovalRequest(models.Model):
    """Someone asks to trigger a DAG whose grant requires approval; an approver decides.

    ``approver_teams`` are the approver teams of the grants that required approval when
    the request was made: their members may approve or reject. Once approved, the run is
    started with the requested conf (``Run.approval_request`` points back here).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger a run"
        PAUSE = "pause", "Pause the DAG"
        UNPAUSE = "unpause", "Unpause the DAG"
        RETRY = "retry", "Retry a run's failed tasks"

    profile = models.ForeignKey(
        AirflowProfile, on_delete=models.CASCADE, related_name="approval_requests"
    )
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.TRIGGER)
    # The run to retry (a retry request only).
    target_run = models.ForeignKey(
        "controlpanel.Run",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="retry_approvals",
    )
    dag_id = models.CharField(max_length=250)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="approval_requests"
    )
    conf = models.JSONField(default=dict, blank=True)
    logical_date = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    reason = models.TextField()
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    approver_teams = models.ManyToManyField(Team, blank=True, related_name="approval_requests")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decided_approvals",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    # Airflow (or the DAG's params) refusing the run at approval time, in plain words.
    trigger_error = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_approval_request_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"approval #{self.pk} of {self.dag_id} by {self.requested_by_id}: {self.state}"

    def as_payload(self) -> dict[str, Any]:
        """The request as audit payload."""
        return {
            "approval_request": self.pk,
            "action": self.action,
            "requested_by": self.requested_by.get_username(),
            "conf": self.conf,
            "logical_date": self.logical_date.isoformat() if self.logical_date else None,
            "note": self.note,
            "reason": self.reason,
            "state": self.state,
        }
