"""``/api/dags/`` and ``/api/runs/``: the catalog, pausing, triggering, runs, logs, retry."""

from __future__ import annotations

import contextlib
from datetime import UTC
from typing import Any

from django.http import HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel import limits, selectors
from controlpanel.api import serializers as s
from controlpanel.api.base import ApiView
from controlpanel.models import Dag, Run
from controlpanel.permissions import Access
from controlpanel.services import actions, catalog, dags, task_logs
from dags_api import AirflowError

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def _flag(request: Request, name: str) -> bool | None:
    value = request.query_params.get(name, "").strip().lower()
    if not value:
        return None
    if value in TRUE_WORDS | FALSE_WORDS:
        return value in TRUE_WORDS
    raise serializers.ValidationError({name: ["Use true or false."]})


def _moment(request: Request, name: str) -> Any:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    problem = {name: ["Use an ISO 8601 date and time with a zone."]}
    try:
        moment = parse_datetime(value)
        if moment is None or moment.tzinfo is None:
            raise serializers.ValidationError(problem)
        # In UTC: PostgreSQL refuses offsets Python accepts (such as -21:14).
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise serializers.ValidationError(problem) from None


def dag_data(
    dag: Dag, access: Access, last_run: Run | None, detail: bool = False
) -> dict[str, Any]:
    """A catalog DAG in the contract's shape."""
    data: dict[str, Any] = {
        "profile": dag.profile.slug,
        "dag_id": dag.dag_id,
        "display_name": dag.label,
        "description": dag.description,
        "tags": dag.tags,
        "is_paused": dag.is_paused,
        "permissions": access.dag_permissions(dag),
        "last_run": s.RunSummarySerializer(last_run).data if last_run else None,
    }
    if detail:
        data["params"] = dag.ordered_params
    return data


@extend_schema(
    parameters=[
        OpenApiParameter("profile", str),
        OpenApiParameter("tag", str),
        OpenApiParameter("search", str),
        OpenApiParameter("paused", bool),
    ]
)
class DagsView(ApiView):
    """The DAGs the caller may see, with what they may do to each and the last run."""

    list_view = True
    serializer_class = s.DagSerializer

    def get(self, request: Request) -> Response:
        params = request.query_params
        filters = selectors.DagFilters(
            search=params.get("search", ""),
            tag=params.get("tag", ""),
            profile=params.get("profile", ""),
            paused=_flag(request, "paused"),
        )
        page = self.paginate_queryset(selectors.catalog_dags(self.access, filters))
        rows = list(page or [])
        runs = selectors.last_runs(rows)
        access = self.access
        data = [dag_data(d, access, runs.get(d.pk)) for d in rows]
        return self.get_paginated_response(data)


class DagView(ApiView):
    """One DAG with its params; PATCH ``{"is_paused": bool}`` pauses or unpauses it (operate)."""

    serializer_class = s.DagDetailSerializer

    def get(self, request: Request, profile: str, dag_id: str) -> Response:
        dag = self.access.get_dag(profile, dag_id)
        if not dag.params and dag.params_synced_at is None:
            with contextlib.suppress(AirflowError):  # shown without params rather than failing
                dag = catalog.refresh_dag(dag.profile, dag.dag_id)
        return Response(dag_data(dag, self.access, selectors.newest_run(dag), detail=True))

    @extend_schema(
        request=s.DagPatchSerializer,
        responses={200: s.DagDetailSerializer, 202: s.ApprovalCreatedSerializer},
    )
    def patch(self, request: Request, profile: str, dag_id: str) -> Response:
        actor = self.actor()
        paused = bool(request.data.get("is_paused")) if isinstance(request.data, dict) else False
        dag = dags.find_dag(actor, profile, dag_id, "dag.pause" if paused else "dag.unpause")
        body = s.DagPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = actions.set_paused(
            actor, dag, body.validated_data["is_paused"], reason=body.validated_data["reason"]
        )
        if isinstance(result, actions.ApprovalRequested):
            return _approval_response(result)
        return Response(dag_data(dag, self.access, selectors.newest_run(dag), detail=True))


def _approval_response(result: actions.ApprovalRequested) -> Response:
    """202 with the approval request made instead of acting."""
    data = {"approval_request": s.ApprovalRequestSerializer(result.approval).data}
    return Response(data, status=status.HTTP_202_ACCEPTED)


class DagRunsView(ApiView):
    """Start a run; an ``Idempotency-Key`` header makes resubmissions return the same run.

    Where the caller's grants require approval, the run is requested instead (202, with
    the ``approval_request``; ``reason`` is then required).
    """

    serializer_class = s.RunSerializer

    @extend_schema(
        request=s.TriggerSerializer,
        responses={201: s.RunSerializer, 200: s.RunSerializer, 202: s.ApprovalCreatedSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request, profile: str, dag_id: str) -> Response:
        actor = self.actor()
        dag = dags.find_dag(actor, profile, dag_id, "dag.trigger")
        body = s.TriggerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 200:
            raise serializers.ValidationError({"Idempotency-Key": ["At most 200 characters."]})
        wish = actions.TriggerInput(
            conf=body.validated_data["conf"],
            logical_date=body.validated_data["logical_date"],
            note=body.validated_data["note"] or "",
            reason=body.validated_data["reason"],
            idempotency_key=key,
        )
        result = actions.trigger(actor, dag, wish)
        if isinstance(result, actions.ApprovalRequested):
            return _approval_response(result)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(s.RunSerializer(result.run).data, status=code)


@extend_schema(
    parameters=[
        OpenApiParameter("profile", str),
        OpenApiParameter("dag_id", str),
        OpenApiParameter("state", str),
        OpenApiParameter("triggered_by", str),
        OpenApiParameter("since", OpenApiTypes.DATETIME),
    ]
)
class RunsView(ApiView):
    """Runs the caller may see, newest first."""

    list_view = True
    serializer_class = s.RunBriefSerializer

    def get(self, request: Request) -> Response:
        params = request.query_params
        filters = selectors.RunFilters(
            dag_id=params.get("dag_id", ""),
            profile=params.get("profile", ""),
            state=params.get("state", ""),
            triggered_by=params.get("triggered_by", ""),
            since=_moment(request, "since"),
        )
        runs = selectors.runs_for(self.access, filters)
        return self.paginated(runs.order_by("-created_at", "-id"), s.RunBriefSerializer)


class RunView(ApiView):
    """One run with its task instances and why it looks stuck (``stale``)."""

    serializer_class = s.RunSerializer

    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.visible_run(self.access, run_id)
        return Response(s.RunSerializer(run).data)


class RunHistoryView(ApiView):
    """The state changes the panel observed for the run and its task instances."""

    list_view = True
    serializer_class = s.StateChangeSerializer

    def get(self, request: Request, run_id: int) -> Response:
        run = selectors.visible_run(self.access, run_id)
        return self.paginated(
            selectors.run_timeline(run).order_by("observed_at", "id"), s.StateChangeSerializer
        )


class TaskLogView(ApiView):
    """The log text of one try of one task instance (``?try=N&map_index=M``)."""

    serializer_class = s.TaskInstanceSerializer

    @extend_schema(
        parameters=[OpenApiParameter("try", int), OpenApiParameter("map_index", int)],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request, run_id: int, task_id: str) -> HttpResponse:
        run = selectors.visible_run(self.access, run_id)
        limits.check_id("task_id", task_id)
        log = task_logs.read_task_log(
            run,
            task_id,
            map_index=self._number(
                request, "map_index", -1, limits.MAP_INDEX_MIN, limits.MAP_INDEX_MAX
            ),
            try_number=self._number(request, "try", 0, 0, limits.TRY_NUMBER_MAX),
        )
        return HttpResponse(log.text, content_type="text/plain; charset=utf-8")

    @staticmethod
    def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
        """A whole-number query parameter within Airflow's range (0 for try: the latest)."""
        value = request.query_params.get(name, "").strip()
        return limits.whole_number(name, value, low, high) if value else default


class RunRetryView(ApiView):
    """Clear the run's failed tasks so Airflow runs them again (operate)."""

    serializer_class = s.RetryResultSerializer

    @extend_schema(
        request=s.RetryRequestSerializer,
        responses={200: s.RetryResultSerializer, 202: s.ApprovalCreatedSerializer},
    )
    def post(self, request: Request, run_id: int) -> Response:
        run = selectors.visible_run(self.access, run_id)
        body = s.RetryRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        result = actions.retry(self.actor(), run, reason=body.validated_data["reason"])
        if isinstance(result, actions.ApprovalRequested):
            return _approval_response(result)
        run = selectors.visible_run(self.access, run.pk)
        data = {"cleared_tasks": list(result.cleared_tasks), "run": s.RunSerializer(run).data}
        return Response(data)
