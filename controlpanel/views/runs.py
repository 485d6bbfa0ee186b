"""Run pages: one run (live while active, tasks, logs, timeline) and the runs lists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from controlpanel import limits, selectors
from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, Run
from controlpanel.permissions import DagAction, access_for
from controlpanel.selectors.approvals import pending_requests_of
from controlpanel.selectors.audit import trigger_event
from controlpanel.selectors.history import FINISHED_STATES as FINISHED
from controlpanel.selectors.history import duration_seconds, duration_words
from controlpanel.selectors.runs import how_started, with_dag_names
from controlpanel.services import actions, task_logs
from controlpanel.views import run_parts
from controlpanel.views.approvals import approval_requested
from controlpanel.views.listing import (
    FINISHED_RUN_STATES,
    RUN_STATE_EXPLANATIONS,
    RUN_STATES,
    Badge,
    badge,
    keyset_page,
    parse_date,
    parse_int,
    query_without,
)
from dags_api import AirflowError, ApiVersion, airflow_ui_run_url

LOG_TAIL_LINES = 60


def _visible_run(request: HttpRequest, pk: int) -> Run:
    return selectors.visible_run(access_for(request.user), pk)


def _live_context(request: HttpRequest, run: Run) -> dict[str, Any]:
    """What the live part shows: state, explanation, task table, timeline."""
    tis = list(run.task_instances.all())
    rows = run_parts.task_rows(tis)
    dag = selectors.dag_of(run)
    access = access_for(request.user)
    run_badge = badge(run.state)
    explanation = RUN_STATE_EXPLANATIONS.get(run.state, "")
    return {
        "run": run,
        "run_badge": run_badge,
        "explanation": explanation,
        "announcement": " ".join(
            filter(None, [run_badge.label + ".", explanation, run.stale_reason])
        ),
        "active": run.state not in FINISHED_RUN_STATES,
        "rows": rows,
        "any_mapped": any(row.ti.map_index >= 0 for row in rows),
        "failed_rows": [r for r in rows if r.failed],
        "timeline": run_parts.timeline(list(selectors.run_timeline(run)), tis),
        "can_retry": access.can(DagAction.RETRY, dag),
        "retry_needs_approval": access.needs_approval(dag, DagAction.RETRY),
        "dag": dag,
    }


def airflow_run_url(run: Run) -> str:
    """The run in Airflow's own UI (Airflow 2 unless the profile is known to be Airflow 3)."""
    version: ApiVersion = "v2" if run.profile.api_version == AirflowProfile.ApiVersion.V2 else "v1"
    return airflow_ui_run_url(run.profile.base_url, version, run.dag_id, run.dag_run_id)


@login_required
@require_safe
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: state in words, live while active, tasks, logs, timeline, conf, origin."""
    run = _visible_run(request, pk)
    context = _live_context(request, run)
    context.update(
        {
            "airflow_url": airflow_run_url(run),
            "conf_json": json.dumps(run.conf, indent=2, sort_keys=True, default=str),
            "trigger_event": trigger_event(run),
            "dag_visible": access_for(request.user).can(DagAction.VIEW, context["dag"]),
            "audit_url": _audit_url(request, run),
        }
    )
    return render(request, "runs/run.html", context)


def _audit_url(request: HttpRequest, run: Run) -> str:
    """The audit trail filtered to this run, for those who may review it; else ''."""
    if not access_for(request.user).can_review_audit:
        return ""
    query = {"profile": run.profile.slug, "dag": run.dag_id, "run": run.dag_run_id}
    return f"{reverse('audit')}?{urlencode(query)}"


@login_required
@require_safe
def run_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the run page, polled by htmx while the run is active."""
    run = _visible_run(request, pk)
    return render(request, "runs/_live.html", _live_context(request, run))


@login_required
@require_safe
def run_log(request: HttpRequest, pk: int) -> HttpResponse:
    """One try's log from Airflow: its tail (htmx fragment) or the whole text (a page)."""
    run = _visible_run(request, pk)
    ti = task_logs.known_task(
        run, request.GET.get("task_id", ""), _log_number(request, "map_index", -1)
    )
    try_number = _log_number(request, "try", 0) or max(ti.try_number, 1)
    text, error = "", ""
    try:
        text = task_logs.read_task_log(
            run, ti.task_id, map_index=ti.map_index, try_number=try_number
        ).text
    except AirflowError as exc:
        error = f"Could not read the log from Airflow: {exc.user_message}"
    tail = request.GET.get("tail") == "1"
    if tail:
        text = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
    context = {"run": run, "ti": ti, "try_number": try_number, "text": text, "error": error}
    return render(request, "runs/_log.html" if tail else "runs/log.html", context)


def _log_number(request: HttpRequest, name: str, default: int) -> int:
    """``map_index`` or ``try`` within Airflow's range; anything else names no log (404)."""
    text = request.GET.get(name, "").strip()
    if not text:
        return default
    low = limits.MAP_INDEX_MIN if name == "map_index" else 0  # try 0: the latest
    high = limits.MAP_INDEX_MAX if name == "map_index" else limits.TRY_NUMBER_MAX
    try:
        return limits.whole_number(name, text, low, high)
    except limits.LimitError:
        raise Http404("No such task try in this run.") from None


@login_required
@require_POST
def run_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Clear the failed tasks so Airflow runs them again (operate; the action audits)."""
    run = _visible_run(request, pk)
    reason = request.POST.get("reason", "")
    try:
        result = actions.retry(Actor.from_request(request), run, reason=reason)
    except ValidationError as exc:  # approval needed, and no reason given
        messages.error(request, " ".join(exc.messages))
        return redirect("run", pk=run.pk)
    except AirflowError as exc:
        messages.error(request, f"Airflow did not retry the tasks. {exc.user_message}")
        return redirect("run", pk=run.pk)
    if isinstance(result, actions.ApprovalRequested):
        return approval_requested(request, result)
    if result.cleared_tasks:
        labels = run_parts.task_labels(run)
        retrying = ", ".join(labels.get(task_id) or task_id for task_id in result.cleared_tasks)
        messages.success(request, f"Retrying: {retrying}.")
    else:
        messages.warning(request, "There were no failed tasks to retry.")
    return redirect("run", pk=run.pk)


@dataclass
class RunListRow:
    """One run as the runs list shows it: how it began, its DAG's name, its duration."""

    run: Run
    badge: Badge
    started: str
    dag_name: str
    duration: str

    @classmethod
    def of(cls, run: Run) -> RunListRow:
        """The row of a run annotated by ``with_dag_names``."""
        seconds = duration_seconds(run.start_date, run.end_date)
        return cls(
            run=run,
            badge=badge(run.state),
            started=how_started(run),
            dag_name=getattr(run, "dag_display_name", None) or run.dag_id,
            duration=duration_words(seconds) or ("unknown" if run.state in FINISHED else ""),
        )


SCOPES = {"mine": "Started by me", "team": "Started by my teams", "all": "All I may see"}


@login_required
@require_safe
def run_list(request: HttpRequest) -> HttpResponse:
    """Runs: mine, my teams' or all visible, filtered by DAG, profile, state and date."""
    access = access_for(request.user)
    get = request.GET
    scope = get.get("scope", "")
    scope = scope if scope in SCOPES else "mine"
    params = {key: get.get(key, "").strip() for key in ("dag", "profile", "state", "from", "to")}
    filters = selectors.RunFilters(
        scope=selectors.RunScope(scope),
        dag_id=params["dag"],
        profile=params["profile"],
        state=params["state"],
        date_from=parse_date(params["from"]),
        date_to=parse_date(params["to"]),
    )
    runs = with_dag_names(selectors.runs_for(access, filters))
    page = keyset_page(runs, parse_int(get.get("before")))
    context = {
        "rows": [RunListRow.of(run) for run in page.items],
        "next_query": query_without(request, "before", before=page.next_before)
        if page.next_before
        else "",
        "scope": scope,
        "scopes": SCOPES,
        "params": params,
        "states": RUN_STATES,
        "profiles": access.visible_profiles(),
        "paged": "before" in get,
        "my_pending_approvals": pending_requests_of(access),
    }
    return render(request, "runs/list.html", context)
