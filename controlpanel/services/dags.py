"""What people do to DAGs and runs: trigger, pause and unpause, retry, set a run's state.

Every function checks access, calls Airflow through dags_api and writes the audit event:
allowed or denied, succeeded or failed (with Airflow's error in plain words). The local
change and its audit event commit together; a failed Airflow call is recorded on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.db import transaction
from django.http import Http404

from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import Dag, Run, StateChange
from controlpanel.permissions import ActionDenied, DagAction, access_for
from dags_api import AirflowClient, AirflowError, DagRun, TriggerResult, new_dag_run_id

T = TypeVar("T")

RUN_STATES_PEOPLE_MAY_SET = ("success", "failed")


def find_dag(
    actor: Actor, profile_slug: str, dag_id: str, action: DagAction, audit_action: str
) -> Dag:
    """The DAG for ``action``, or record the denied attempt and raise 404 / ActionDenied."""
    try:
        return access_for(actor.user).get_dag(profile_slug, dag_id, action)
    except (Http404, ActionDenied) as exc:
        message = exc.message if isinstance(exc, ActionDenied) else "No such DAG (or not visible)."
        record_event(
            actor,
            audit_action,
            outcome=Outcome.DENIED,
            profile=profile_slug,
            dag_id=dag_id,
            message=message,
        )
        raise


def _require(
    actor: Actor,
    dag: Dag,
    action: DagAction,
    audit_action: str,
    run_id: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """Record a denied event and raise ActionDenied unless the actor may do ``action``."""
    if access_for(actor.user).can(action, dag):
        return
    message = f"You may not {action.value.replace('_', ' ')} {dag.dag_id}."
    record_event(
        actor,
        audit_action,
        outcome=Outcome.DENIED,
        profile=dag.profile,
        dag_id=dag.dag_id,
        dag_run_id=run_id,
        payload=payload,
        message=message,
    )
    raise ActionDenied(message)


def _call_airflow(
    actor: Actor,
    dag: Dag,
    audit_action: str,
    call: Callable[[AirflowClient], T],
    *,
    run_id: str = "",
    payload: dict[str, Any],
) -> T:
    """Run one Airflow call; on failure record it (with the plain message) and re-raise."""
    try:
        return call(client_for(dag.profile))
    except AirflowError as exc:
        record_event(
            actor,
            audit_action,
            outcome=Outcome.FAILED,
            profile=dag.profile,
            dag_id=dag.dag_id,
            dag_run_id=run_id,
            message=exc.user_message,
            payload={**payload, "error": type(exc).__name__, "error_detail": exc.detail[:2000]},
        )
        raise


def set_paused(actor: Actor, dag: Dag, paused: bool) -> Dag:
    """Pause or unpause a DAG in Airflow and in the catalog (needs the operate level)."""
    action = "dag.pause" if paused else "dag.unpause"
    payload = {"is_paused": paused, "was_paused": dag.is_paused}
    _require(actor, dag, DagAction.PAUSE, action, payload=payload)
    result = _call_airflow(
        actor, dag, action, lambda c: c.set_paused(dag.dag_id, paused), payload=payload
    )
    with transaction.atomic():
        Dag.objects.filter(pk=dag.pk).update(is_paused=result.is_paused)
        dag.is_paused = result.is_paused
        record_event(
            actor,
            action,
            outcome=Outcome.SUCCEEDED,
            profile=dag.profile,
            dag_id=dag.dag_id,
            payload=payload,
        )
    return dag


def trigger_run(
    actor: Actor,
    dag: Dag,
    *,
    conf: dict[str, Any] | None = None,
    logical_date: datetime | None = None,
    note: str = "",
    dag_run_id: str | None = None,
    unpause: bool = False,
) -> Run:
    """Start a run with ``conf`` (needs trigger; ``unpause`` first needs operate).

    The panel always sends its own run id, so a retried or resubmitted trigger with the
    same id returns the same run instead of starting a second one.
    """
    dag_run_id = dag_run_id or new_dag_run_id()
    conf = dict(conf or {})
    payload: dict[str, Any] = {
        "conf": conf,
        "logical_date": logical_date.isoformat() if logical_date else None,
        "note": note,
        "unpause": unpause,
    }
    _require(actor, dag, DagAction.TRIGGER, "dag.trigger", dag_run_id, payload)
    if unpause and dag.is_paused:
        set_paused(actor, dag, False)
    result: TriggerResult = _call_airflow(
        actor,
        dag,
        "dag.trigger",
        lambda c: c.trigger_dag_run(
            dag.dag_id,
            conf=conf,
            dag_run_id=dag_run_id,
            logical_date=logical_date,
            note=note or None,
        ),
        run_id=dag_run_id,
        payload=payload,
    )
    with transaction.atomic():
        fields = _run_fields(result.run, actor)
        run, created = Run.objects.get_or_create(
            profile=dag.profile,
            dag_id=dag.dag_id,
            dag_run_id=result.run.dag_run_id,
            defaults=fields,
        )
        if created:
            StateChange.objects.create(run=run, to_state=run.state, observed_at=run.created_at)
        elif run.source == Run.Source.AIRFLOW:
            # The poller saw the run before this commit: it is ours, say who started it.
            Run.objects.filter(pk=run.pk).update(
                triggered_by=fields["triggered_by"], source=fields["source"]
            )
            run.triggered_by, run.source = fields["triggered_by"], fields["source"]
        record_event(
            actor,
            "dag.trigger",
            outcome=Outcome.SUCCEEDED,
            profile=dag.profile,
            dag_id=dag.dag_id,
            dag_run_id=run.dag_run_id,
            payload={
                **payload,
                "already_existed": result.already_existed,
                "state": result.run.state,
            },
        )
    return run


def _run_fields(run: DagRun, actor: Actor) -> dict[str, Any]:
    return {
        "state": run.state,
        "conf": run.conf,
        "note": run.note or "",
        "logical_date": run.logical_date,
        "queued_at": run.queued_at,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "triggered_by": actor.user,
        "source": Run.Source.API if actor.source == "api" else Run.Source.WEB,
    }


def _dag_of(run: Run) -> Dag:
    """The catalog DAG of a run (a stand-in with no tags if the catalog lost it)."""
    dag = Dag.objects.filter(profile=run.profile, dag_id=run.dag_id).first()
    return dag or Dag(profile=run.profile, dag_id=run.dag_id, tags=[])


def _record_for_run(
    actor: Actor, action: str, run: Run, outcome: str, payload: dict[str, Any], message: str = ""
) -> None:
    """The audit event of an action on one run."""
    record_event(
        actor,
        action,
        outcome=outcome,
        profile=run.profile,
        dag_id=run.dag_id,
        dag_run_id=run.dag_run_id,
        payload=payload,
        message=message,
    )


def retry_failed_tasks(actor: Actor, run: Run) -> list[str]:
    """Clear the run's failed and upstream-failed tasks so they run again (operate).

    Returns the task ids Airflow reset; the run goes back to queued.
    """
    dag = _dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state}
    _require(actor, dag, DagAction.RETRY, "run.retry", run.dag_run_id, payload)
    cleared = _call_airflow(
        actor,
        dag,
        "run.retry",
        lambda c: c.clear_failed_task_instances(run.dag_id, run.dag_run_id),
        run_id=run.dag_run_id,
        payload=payload,
    )
    task_ids = sorted({c.task_id for c in cleared})
    with transaction.atomic():
        if task_ids:
            # Back into the poll set: the poller follows the re-run to its end.
            Run.objects.filter(pk=run.pk).update(state="queued", end_date=None, is_finished=False)
            run.state, run.end_date, run.is_finished = "queued", None, False
        _record_for_run(
            actor,
            "run.retry",
            run,
            Outcome.SUCCEEDED,
            {**payload, "cleared_tasks": task_ids},
            "" if task_ids else "There were no failed tasks to retry.",
        )
    return task_ids


def set_run_state(actor: Actor, run: Run, state: str) -> Run:
    """Mark a run success or failed in Airflow (operate)."""
    dag = _dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state, "state": state}
    _require(actor, dag, DagAction.SET_RUN_STATE, "run.set_state", run.dag_run_id, payload)
    if state not in RUN_STATES_PEOPLE_MAY_SET:
        message = "A run can only be marked success or failed."
        _record_for_run(actor, "run.set_state", run, Outcome.FAILED, payload, message)
        raise ValueError(message)
    result = _call_airflow(
        actor,
        dag,
        "run.set_state",
        lambda c: c.set_dag_run_state(run.dag_id, run.dag_run_id, state),
        run_id=run.dag_run_id,
        payload=payload,
    )
    with transaction.atomic():
        # The poller notices the end and makes the final read of the task instances.
        Run.objects.filter(pk=run.pk).update(state=result.state, end_date=result.end_date)
        run.state, run.end_date = result.state, result.end_date
        _record_for_run(actor, "run.set_state", run, Outcome.SUCCEEDED, payload)
    return run
