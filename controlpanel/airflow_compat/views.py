"""The Airflow REST API endpoints the panel answers, in v1 or v2 shapes.

Thin: access from ``controlpanel.permissions`` (unseen DAGs are 404), changes through the
services (audited as the Airflow-compatible API), reads through ``selectors.airflow_reads``
after the access check, translation in ``shapes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from rest_framework import renderers, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel import limits
from controlpanel.airflow_compat import shapes
from controlpanel.airflow_compat.base import CompatView
from controlpanel.airflow_compat.bodies import (
    ClearBody,
    DagPatchBody,
    RunPatchBody,
    RunsBatchBody,
    TaskInstancesBatchBody,
    trigger_input,
)
from controlpanel.airflow_compat.paging import Paging
from controlpanel.models import Dag
from controlpanel.permissions import ActionDenied, DagAction
from controlpanel.selectors import airflow_reads, compat
from controlpanel.services import actions, catalog, dags
from dags_api import DagRun


class HealthView(CompatView):
    """``GET /health`` (v1) and ``/monitor/health`` (v2): the profile's Airflow's health."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request, profile: str, api: str) -> Response:
        status = airflow_reads.airflow_health(compat.active_profile(profile))
        return Response(shapes.health(self.api, status))


class VersionView(CompatView):
    """``GET /version``: the version of the profile's Airflow."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request, profile: str, api: str) -> Response:
        version = airflow_reads.airflow_version(compat.active_profile(profile))
        return Response(shapes.version(version))


class DagsView(CompatView):
    """``GET /dags``: the DAGs the caller may see, with Airflow's filters and paging."""

    def get(self, request: Request, profile: str, api: str) -> Response:
        paging = Paging.of(request)
        params = request.query_params
        paused = params.get("paused", "").strip().lower()
        dags_seen = compat.dags_matching(
            self.access,
            compat.active_profile(profile),
            pattern=params.get("dag_id_pattern", "").strip(),
            paused={"true": True, "false": False}.get(paused),
            tags=params.getlist("tags"),
        )
        dags_seen = dags_seen.order_by(paging.order_by("dag_id", {"dag_id", "is_paused"}))
        page = list(dags_seen[paging.offset : paging.offset + paging.limit])
        items = [shapes.dag(self.api, row) for row in page]
        return Response(shapes.collection(self.api, "dags", items, dags_seen.count()))


class DagView(CompatView):
    """``GET /dags/{dag_id}``; ``PATCH`` with ``{"is_paused": bool}`` (operate)."""

    def get(self, request: Request, profile: str, api: str, dag_id: str) -> Response:
        return Response(shapes.dag(self.api, self.access.get_dag(profile, dag_id)))

    def patch(self, request: Request, profile: str, api: str, dag_id: str) -> Response:
        mask = request.query_params.get("update_mask", "is_paused")
        if mask.strip() != "is_paused":
            raise serializers.ValidationError("Only is_paused can be changed.")
        body = DagPatchBody(data=request.data)
        body.is_valid(raise_exception=True)
        paused = body.validated_data["is_paused"]
        action = "dag.pause" if paused else "dag.unpause"
        actor = self.actor()
        dag = dags.find_dag(actor, profile, dag_id, action)
        with _approval_points_to_the_panel(dag):
            actions.set_paused(actor, dag, paused, can_wait=False)
        return Response(shapes.dag(self.api, dag))


class DagDetailsView(CompatView):
    """``GET /dags/{dag_id}/details``: the DAG with its params."""

    def get(self, request: Request, profile: str, api: str, dag_id: str) -> Response:
        dag = self.access.get_dag(profile, dag_id)
        if dag.params_synced_at is None:
            dag = catalog.refresh_dag(dag.profile, dag.dag_id)
        return Response(shapes.dag_details(self.api, dag))


class RunsView(CompatView):
    """``GET /dags/{dag_id}/dagRuns`` (``~``: every visible DAG); ``POST`` triggers a run."""

    def get(self, request: Request, profile: str, api: str, dag_id: str) -> Response:
        paging = Paging.of(request)
        dag_ids = self._dag_ids(profile, dag_id)
        states = request.query_params.getlist("state") or None
        runs = airflow_reads.dag_runs(compat.active_profile(profile), dag_ids, states)
        return Response(self._page(runs, paging))

    def post(self, request: Request, profile: str, api: str, dag_id: str) -> Response:
        actor = self.actor()
        dag = dags.find_dag(actor, profile, dag_id, "dag.trigger")
        given = trigger_input(self.api, request.data)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 200:
            raise serializers.ValidationError("An Idempotency-Key has at most 200 characters.")
        wish = actions.TriggerInput(
            conf=given.conf,
            logical_date=given.logical_date,
            note=given.note or "",
            idempotency_key=key,
            dag_run_id=given.dag_run_id,
            existing_is_conflict=True,
            can_wait=False,
        )
        with _approval_points_to_the_panel(dag):
            run = actions.started_run(actions.trigger(actor, dag, wish))
        return Response(shapes.dag_run(self.api, shapes.as_dag_run(run), dag.label))

    def _dag_ids(self, profile: str, dag_id: str) -> list[str]:
        if dag_id != "~":
            return [self.access.get_dag(profile, dag_id).dag_id]
        return compat.visible_dag_ids(self.access, compat.active_profile(profile))

    def _page(self, runs: list[DagRun], paging: Paging) -> dict[str, Any]:
        runs = paging.sort(runs, lambda r: r.run_after or r.queued_at or r.logical_date)
        page = runs[paging.offset : paging.offset + paging.limit]
        items = [shapes.dag_run(self.api, run) for run in page]
        return shapes.collection(self.api, "dag_runs", items, len(runs))


class RunsBatchView(RunsView):
    """``POST /dags/~/dagRuns/list``: runs of many DAGs; DAGs the caller cannot see are left out."""

    def post(self, request: Request, profile: str, api: str, dag_id: str = "~") -> Response:
        body = RunsBatchBody(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data.get("dag_ids")
        dag_ids = self._dag_ids(profile, "~")
        if wanted:
            dag_ids = [d for d in dag_ids if d in set(wanted)]
        runs = airflow_reads.dag_runs(
            compat.active_profile(profile), dag_ids, body.validated_data.get("states") or None
        )
        return Response(self._page(runs, Paging.of_body(body.validated_data)))


class RunView(CompatView):
    """``GET /dags/{dag_id}/dagRuns/{run_id}``; ``PATCH`` its state (operate)."""

    def get(self, request: Request, profile: str, api: str, dag_id: str, run_id: str) -> Response:
        dag = self.access.get_dag(profile, dag_id)
        run = airflow_reads.dag_run(dag, run_id)
        return Response(shapes.dag_run(self.api, run, dag.label))

    def patch(self, request: Request, profile: str, api: str, dag_id: str, run_id: str) -> Response:
        actor = self.actor()
        dag = dags.find_dag(actor, profile, dag_id, "run.set_state")
        body = RunPatchBody(data=request.data)
        body.is_valid(raise_exception=True)
        actions.set_run_state(actor, compat.panel_run(dag, run_id), body.validated_data["state"])
        run = airflow_reads.dag_run(dag, run_id)
        return Response(shapes.dag_run(self.api, run, dag.label))


class RunClearView(CompatView):
    """``POST .../dagRuns/{run_id}/clear``: re-run the run's failed tasks (operate).

    The panel's retry rule: only failed and upstream-failed tasks are cleared.
    """

    def post(self, request: Request, profile: str, api: str, dag_id: str, run_id: str) -> Response:
        actor = self.actor()
        dag = dags.find_dag(actor, profile, dag_id, "run.retry")
        body = ClearBody(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["dry_run"]:  # what a retry would clear: a read, for operators
            self.access.get_dag(profile, dag_id, DagAction.RETRY)
            failed = [
                ti
                for ti in airflow_reads.task_instances(dag, run_id)
                if ti.state in ("failed", "upstream_failed")
            ]
            items = [shapes.task_instance(self.api, ti) for ti in failed]
            return Response(shapes.collection(self.api, "task_instances", items, len(items)))
        with _approval_points_to_the_panel(dag):
            actions.retry(actor, compat.panel_run(dag, run_id), can_wait=False)
        return Response(shapes.dag_run(self.api, airflow_reads.dag_run(dag, run_id)))


class TaskInstancesView(CompatView):
    """``GET .../dagRuns/{run_id}/taskInstances``: the run's task instances."""

    def get(self, request: Request, profile: str, api: str, dag_id: str, run_id: str) -> Response:
        paging = Paging.of(request)
        dag = self.access.get_dag(profile, dag_id)
        run = airflow_reads.dag_run(dag, run_id)
        tis = airflow_reads.task_instances(dag, run_id)
        page = tis[paging.offset : paging.offset + paging.limit]
        items = [shapes.task_instance(self.api, ti, run, dag.label) for ti in page]
        return Response(shapes.collection(self.api, "task_instances", items, len(tis)))


class TaskInstancesBatchView(CompatView):
    """``POST /dags/~/dagRuns/~/taskInstances/list``: only the caller's visible DAGs."""

    def post(self, request: Request, profile: str, api: str) -> Response:
        body = TaskInstancesBatchBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        dag_ids = compat.visible_dag_ids(self.access, compat.active_profile(profile))
        if data.get("dag_ids"):
            dag_ids = [d for d in dag_ids if d in set(data["dag_ids"])]
        tis = airflow_reads.task_instances_of(
            compat.active_profile(profile),
            dag_ids,
            data.get("dag_run_ids") or None,
            data.get("state") or None,
        )
        if data.get("task_ids"):
            tis = [ti for ti in tis if ti.task_id in set(data["task_ids"])]
        paging = Paging.of_body(data)
        page = tis[paging.offset : paging.offset + paging.limit]
        items = [shapes.task_instance(self.api, ti) for ti in page]
        return Response(shapes.collection(self.api, "task_instances", items, len(tis)))


class TaskInstanceView(CompatView):
    """``GET .../taskInstances/{task_id}``: one task instance (``map_index`` -1)."""

    def get(
        self, request: Request, profile: str, api: str, dag_id: str, run_id: str, task_id: str
    ) -> Response:
        dag = self.access.get_dag(profile, dag_id)
        run = airflow_reads.dag_run(dag, run_id)
        for ti in airflow_reads.task_instances(dag, run_id):
            if ti.task_id == task_id and ti.map_index == -1:
                return Response(shapes.task_instance(self.api, ti, run, dag.label))
        raise Http404(f"Task instance {task_id} not found in run {run_id}.")


class PlainTextRenderer(renderers.BaseRenderer):
    """Lets a log be asked for with ``Accept: text/plain`` (the view answers the text)."""

    media_type = "text/plain"
    format = "txt"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        return data if isinstance(data, bytes | str) else json.dumps(data)


class TaskLogView(CompatView):
    """``GET .../taskInstances/{task_id}/logs/{try_number}``: the log as text or JSON."""

    renderer_classes = [renderers.JSONRenderer, PlainTextRenderer]

    def get(
        self,
        request: Request,
        profile: str,
        api: str,
        dag_id: str,
        run_id: str,
        task_id: str,
        try_number: str,
    ) -> HttpResponse:
        dag = self.access.get_dag(profile, dag_id)
        limits.check_id("task_id", task_id)
        number = limits.whole_number("try_number", try_number, 0, limits.TRY_NUMBER_MAX)
        raw_index = request.query_params.get("map_index", "").strip() or "-1"
        map_index = limits.whole_number(
            "map_index", raw_index, limits.MAP_INDEX_MIN, limits.MAP_INDEX_MAX
        )
        text = airflow_reads.task_log(dag, run_id, task_id, number, map_index)
        if "text/plain" in request.headers.get("Accept", ""):
            return HttpResponse(text, content_type="text/plain; charset=utf-8")
        if self.api == shapes.V1:
            return Response({"content": text, "continuation_token": ""})
        return Response({"content": text.splitlines(), "continuation_token": None})


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Airflow's 404 for any other path: nothing is passed to Airflow unchecked."""
    api = kwargs.get("api", shapes.V1)
    detail = "This endpoint is not offered by the panel's Airflow-compatible API."
    body = shapes.problem(api, 404, "Not Found", detail)
    content_type = "application/problem+json" if api == shapes.V1 else "application/json"
    return JsonResponse(body, status=404, content_type=content_type)


@contextmanager
def _approval_points_to_the_panel(dag: Dag) -> Iterator[None]:
    """An action the caller's grants put behind approval: Airflow's API has no "pending"
    answer, so the refusal (403, audited as denied by the action) says where to ask."""
    try:
        yield
    except ActionDenied as exc:
        if exc.code != "approval_required":
            raise
        page = settings.PANEL_BASE_URL + reverse("dag", args=[dag.profile.slug, dag.dag_id])
        raise ActionDenied(
            f"{exc.message.removesuffix(': request approval instead.')}, which Airflow's API "
            f"cannot ask for: request it in the panel ({page}) or with the panel's own API "
            f"(POST /api/dags/{dag.profile.slug}/{dag.dag_id}/runs/ with a reason, for a run).",
            code=exc.code,
        ) from exc
