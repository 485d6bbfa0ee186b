"""Airflow's request bodies, checked as Airflow checks them (unknown keys are refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

from controlpanel.airflow_compat import shapes

NOT_OFFERED = "is not supported by the panel's Airflow-compatible API."


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys it does not declare, as Airflow's API does (400 on v1, 422 on v2)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("The body must be a JSON object.")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class DagPatchBody(StrictSerializer):
    """``PATCH /dags/{dag_id}``."""

    is_paused = serializers.BooleanField()


class RunPatchBody(StrictSerializer):
    """``PATCH .../dagRuns/{run_id}``: the state only (notes are not offered)."""

    state = serializers.ChoiceField(choices=["success", "failed"])


class ClearBody(StrictSerializer):
    """``POST .../dagRuns/{run_id}/clear``."""

    dry_run = serializers.BooleanField(default=True)
    only_failed = serializers.BooleanField(required=False)


class _Page(StrictSerializer):
    page_offset = serializers.IntegerField(required=False, min_value=0)
    page_limit = serializers.IntegerField(required=False, min_value=0)
    order_by = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class RunsBatchBody(_Page):
    """``POST /dags/~/dagRuns/list``."""

    dag_ids = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    states = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)


class TaskInstancesBatchBody(_Page):
    """``POST /dags/~/dagRuns/~/taskInstances/list``."""

    dag_ids = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    dag_run_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True
    )
    task_ids = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    state = serializers.ListField(
        child=serializers.CharField(allow_null=True), required=False, allow_null=True
    )


class TriggerBody(StrictSerializer):
    """``POST /dags/{dag_id}/dagRuns``: Airflow 2's and 3's fields."""

    dag_run_id = serializers.RegexField(
        r"^[A-Za-z0-9_.~:+-]+$", max_length=250, required=False, allow_null=True
    )
    logical_date = serializers.DateTimeField(required=False, allow_null=True)
    execution_date = serializers.DateTimeField(required=False, allow_null=True)
    conf = serializers.DictField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    data_interval_start = serializers.DateTimeField(required=False, allow_null=True)
    data_interval_end = serializers.DateTimeField(required=False, allow_null=True)
    run_after = serializers.DateTimeField(required=False, allow_null=True)


@dataclass(frozen=True)
class TriggerInput:
    """What a trigger asks for, in the panel's terms."""

    conf: dict[str, Any]
    logical_date: datetime | None
    note: str | None
    dag_run_id: str | None


def trigger_input(api: str, data: Any) -> TriggerInput:
    """A trigger body read as Airflow ``api`` reads it; ValidationError otherwise."""
    if api == shapes.V2 and isinstance(data, dict) and "execution_date" in data:
        raise serializers.ValidationError({"execution_date": ["Unknown field."]})
    if api == shapes.V2 and isinstance(data, dict) and "logical_date" not in data:
        raise serializers.ValidationError({"logical_date": ["Field required."]})
    body = TriggerBody(data=data)
    body.is_valid(raise_exception=True)
    given = body.validated_data
    for field in ("data_interval_start", "data_interval_end", "run_after"):
        if given.get(field) is not None:
            raise serializers.ValidationError({field: [f"'{field}' {NOT_OFFERED}"]})
    if given.get("execution_date") and given.get("logical_date"):
        raise serializers.ValidationError("Give logical_date or execution_date, not both.")
    return TriggerInput(
        conf=given.get("conf") or {},
        logical_date=given.get("logical_date") or given.get("execution_date"),
        note=given.get("note"),
        dag_run_id=given.get("dag_run_id"),
    )
