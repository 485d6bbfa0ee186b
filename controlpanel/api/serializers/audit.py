"""``/api/audit/``: audit events, with the action in plain words."""

from __future__ import annotations

from rest_framework import serializers

from controlpanel.models import AuditEvent

AUDIT_FIELDS = [
    "id",
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
]


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    action_label = serializers.CharField(
        read_only=True, help_text='The action in plain words ("Triggered a run").'
    )

    class Meta:
        model = AuditEvent
        fields = [*AUDIT_FIELDS, "action_label"]
        read_only_fields = fields
