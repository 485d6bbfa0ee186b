"""``/api/runs/``: runs, their task instances and timelines, and retries."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.api.serializers.base import reason_field, username_or_none
from controlpanel.models import Run, StateChange, TaskInstance


class RunSummarySerializer(serializers.ModelSerializer[Run]):
    class Meta:
        model = Run
        fields = ["id", "dag_run_id", "state", "created_at", "start_date", "end_date"]
        read_only_fields = fields


class TaskInstanceSerializer(serializers.ModelSerializer[TaskInstance]):
    # Airflow's task_display_name, else the task id (as Airflow itself answers).
    display_name = serializers.CharField(source="label", read_only=True)

    class Meta:
        model = TaskInstance
        fields = [
            "task_id",
            "display_name",
            "map_index",
            "try_number",
            "state",
            "start_date",
            "end_date",
            "duration",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer[Run]):
    profile = serializers.CharField(source="profile.slug", read_only=True)
    triggered_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()
    task_instances = TaskInstanceSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "profile",
            "dag_id",
            "dag_run_id",
            "state",
            "conf",
            "note",
            "logical_date",
            "triggered_by",
            "approved_by",
            "approval_request",
            "source",
            "created_at",
            "start_date",
            "end_date",
            "stale",
            "task_instances",
        ]
        read_only_fields = fields

    def get_triggered_by(self, run: Run) -> str | None:
        return username_or_none(run.triggered_by)

    def get_approved_by(self, run: Run) -> str | None:
        """Who approved the request this run carries out (null without approval)."""
        return username_or_none(run.approved_by)

    def get_stale(self, run: Run) -> str | None:
        """Why the run looks stuck (e.g. the DAG is paused), or null."""
        return run.stale_reason or None


class RunBriefSerializer(RunSerializer):
    class Meta(RunSerializer.Meta):
        fields = [f for f in RunSerializer.Meta.fields if f != "task_instances"]
        read_only_fields = fields


class StateChangeSerializer(serializers.ModelSerializer[StateChange]):
    retry_requested_by = serializers.SerializerMethodField()

    class Meta:
        model = StateChange
        fields = [
            "task_id",
            "map_index",
            "try_number",
            "from_state",
            "to_state",
            "observed_at",
            "retry",
            "retry_requested_by",
        ]
        read_only_fields = fields

    def get_retry_requested_by(self, change: StateChange) -> str | None:
        """Who asked the panel for this retry (null: not a retry, or retried in Airflow)."""
        return username_or_none(change.retry_requested_by)


class RetryRequestSerializer(serializers.Serializer[Any]):
    reason = reason_field()


class RetryResultSerializer(serializers.Serializer[Any]):
    cleared_tasks = serializers.ListField(child=serializers.CharField())
    run = RunSerializer()
