"""``/api/approvals/``: requests for a second person's approval, and decisions on them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.api.serializers.base import reason_field, username_or_none
from controlpanel.models import ApprovalRequest


class ApprovalRequestSerializer(serializers.ModelSerializer[ApprovalRequest]):
    profile = serializers.CharField(source="profile.slug", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.SerializerMethodField()
    approver_teams = serializers.SerializerMethodField()
    run = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "profile",
            "dag_id",
            "action",
            "target_run",
            "state",
            "requested_by",
            "conf",
            "logical_date",
            "note",
            "reason",
            "created_at",
            "expires_at",
            "approver_teams",
            "decided_by",
            "decided_at",
            "comment",
            "trigger_error",
            "run",
        ]
        read_only_fields = fields

    def get_decided_by(self, approval: ApprovalRequest) -> str | None:
        return username_or_none(approval.decided_by)

    def get_approver_teams(self, approval: ApprovalRequest) -> list[str]:
        # The list (selectors.approvals.approval_list) prefetches them: no query per row.
        return [team.slug for team in approval.approver_teams.all()]

    def get_run(self, approval: ApprovalRequest) -> int | None:
        """The id of the run the approval started (``/api/runs/{id}/``), or null."""
        run = getattr(approval, "run", None)
        return run.pk if run is not None else None


class ApprovalCreatedSerializer(serializers.Serializer[Any]):
    approval_request = ApprovalRequestSerializer()


class DecisionSerializer(serializers.Serializer[Any]):
    comment = reason_field()
