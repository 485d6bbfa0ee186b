"""Reading one try of a task's log from Airflow: the run page and the API ask here."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from controlpanel.airflow_clients import client_for
from controlpanel.models import Run, TaskInstance


@dataclass(frozen=True)
class TaskLog:
    """The text of one try of one task instance, and which try it is."""

    task_id: str
    map_index: int
    try_number: int
    text: str


def known_task(run: Run, task_id: str, map_index: int = -1) -> TaskInstance:
    """The run's task instance as the panel last saw it, else 404."""
    ti = run.task_instances.filter(task_id=task_id, map_index=map_index).first()
    if ti is None:
        raise Http404("No such task in this run.")
    return ti


def read_task_log(
    run: Run, task_id: str, *, map_index: int = -1, try_number: int | None = None
) -> TaskLog:
    """The log of ``try_number`` (default: the latest try the panel saw, at least 1).

    A read, so nothing is audited; Airflow's failures raise dags_api errors with a
    sentence for people. Access to the run is the caller's check (``visible_run``).
    """
    if not try_number or try_number <= 0:
        known = TaskInstance.objects.filter(run=run, task_id=task_id, map_index=map_index)
        try_number = max(1, known.values_list("try_number", flat=True).first() or 1)
    text = client_for(run.profile).get_task_log(
        run.dag_id, run.dag_run_id, task_id, try_number, map_index=map_index
    )
    return TaskLog(task_id, map_index, try_number, text)
