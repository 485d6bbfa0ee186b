"""Runs as people may see them: one run, and runs filtered by scope, DAG, state and time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from controlpanel.models import Dag, Run, StateChange
from controlpanel.permissions import Access
from controlpanel.selectors.dates import filter_dates


class RunScope(StrEnum):
    """Whose runs: started by me, by anyone in my teams, or every run I may see."""

    MINE = "mine"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True)
class RunFilters:
    """What the runs page and ``GET /api/runs/`` filter by (empty: no filter)."""

    scope: RunScope = RunScope.ALL
    dag_id: str = ""
    profile: str = ""
    state: str = ""
    triggered_by: str = ""
    since: datetime | None = None
    date_from: date | None = None
    date_to: date | None = None


def runs_for(access: Access, filters: RunFilters) -> QuerySet[Run]:
    """The runs ``access`` may see that match ``filters`` (unordered: callers page them)."""
    runs = access.visible_runs()
    if filters.scope == RunScope.MINE:
        runs = runs.filter(triggered_by_id=access.user.pk)
    elif filters.scope == RunScope.TEAM:
        teammates = get_user_model().objects.filter(
            team_memberships__team_id__in=list(access.memberships())
        )
        runs = runs.filter(triggered_by__in=teammates)
    exact: dict[str, Any] = {
        "dag_id": filters.dag_id,
        "profile__slug": filters.profile,
        "state": filters.state,
        "triggered_by__username": filters.triggered_by,
    }
    runs = runs.filter(**{lookup: value for lookup, value in exact.items() if value})
    if filters.since is not None:
        runs = runs.filter(created_at__gte=filters.since)
    return filter_dates(runs, "created_at", filters.date_from, filters.date_to)


def visible_run(access: Access, pk: int) -> Run:
    """The run if ``access`` may see it, else 404 (the same as for one that does not exist)."""
    run = access.visible_runs().filter(pk=pk).first()
    if run is None:
        raise Http404("No such run (or not visible to you).")
    return run


def run_timeline(run: Run) -> QuerySet[StateChange]:
    """The run's state changes, oldest first, with who asked for each retry (one query)."""
    return run.state_changes.select_related("retry_requested_by")


def task_labels(run: Run) -> dict[str, str]:
    """Each task id of the run and its display name ("" when it has none; one query)."""
    return dict(run.task_instances.values_list("task_id", "display_name"))


# How Airflow names the runs it starts itself: the id's prefix says how the run began.
AIRFLOW_RUN_KINDS = (
    ("scheduled__", "Scheduled"),
    ("manual__", "Manual (in Airflow)"),
    ("backfill__", "Backfill"),
    ("dataset_triggered__", "Started by a dataset"),
    ("asset_triggered__", "Started by an asset"),
)


def how_started(run: Run) -> str:
    """How a run began, in words: "Approved", "Manual", "Scheduled", "Backfill", ..."""
    if run.approval_request_id is not None or run.approved_by_id is not None:
        return "Approved"
    if run.source == Run.Source.WEB:
        return "Manual"
    if run.source == Run.Source.API:
        return "Manual (API)"
    for prefix, words in AIRFLOW_RUN_KINDS:
        if run.dag_run_id.startswith(prefix):
            return words
    return "Started in Airflow"


def with_dag_names(runs: QuerySet[Run]) -> QuerySet[Run]:
    """The runs with ``dag_display_name``: their DAG's display name in the catalog, or None.

    A subquery on the catalog's unique (profile, DAG id) index: no query per row.
    """
    names = Dag.objects.filter(profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id"))
    return runs.annotate(dag_display_name=Subquery(names.values("display_name")[:1]))
