"""``/api/dags/``: DAGs with their params, pausing, and triggering a run."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from controlpanel.api.serializers.base import reason_field
from controlpanel.api.serializers.runs import RunSummarySerializer


class DagSerializer(serializers.Serializer[Any]):
    profile = serializers.CharField(source="profile.slug")
    dag_id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    is_paused = serializers.BooleanField()
    permissions = serializers.ListField(child=serializers.CharField())
    last_run = RunSummarySerializer(allow_null=True)


class ParamSerializer(serializers.Serializer[Any]):
    schema = serializers.DictField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField(allow_null=True)


class DagDetailSerializer(DagSerializer):
    params = serializers.DictField(
        child=ParamSerializer(),
        source="ordered_params",
        help_text="The DAG's params, in the order the DAG's author wrote them.",
    )


class DagPatchSerializer(serializers.Serializer[Any]):
    is_paused = serializers.BooleanField()
    # Where grants put pausing behind approval: why (the request is made instead).
    reason = reason_field()


class TriggerSerializer(serializers.Serializer[Any]):
    conf = serializers.DictField(required=False, default=dict)
    logical_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    reason = reason_field(trim_whitespace=True)

    def validate_logical_date(self, value: Any) -> Any:
        raw = self.initial_data.get("logical_date") if isinstance(self.initial_data, dict) else None
        if value is not None and isinstance(raw, str) and not _has_timezone(raw):
            raise serializers.ValidationError("Give the logical date with a time zone.")
        return value


def _has_timezone(text: str) -> bool:
    parsed = parse_datetime(text)
    return parsed is not None and parsed.tzinfo is not None
