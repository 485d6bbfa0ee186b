"""Pausing and unpausing a DAG, retrying a run's failed tasks, marking a run's state."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor, audited
from controlpanel.models import ApprovalRequest, Dag, Run
from controlpanel.permissions import DagAction
from controlpanel.selectors import dag_of
from controlpanel.services import approvals, dags
from controlpanel.services.actions.gate import may_act
from controlpanel.services.actions.results import ActionResult, ApprovalRequested, Done
from dags_api import AirflowError

RUN_STATES_PEOPLE_MAY_SET = ("success", "failed")


def set_paused(
    actor: Actor,
    dag: Dag,
    paused: bool,
    *,
    reason: str = "",
    can_wait: bool = True,
    approval: ApprovalRequest | None = None,
) -> ActionResult:
    """Pause or unpause a DAG in Airflow and in the catalog (operate), or ask for approval.

    ``approval``: the approved request this carries out, where grants require one.
    """
    audit_action = "dag.pause" if paused else "dag.unpause"
    payload: dict[str, Any] = {"is_paused": paused, "was_paused": dag.is_paused}
    if may_act(
        actor,
        audit_action,
        dag,
        DagAction.PAUSE,
        approval=approval,
        can_wait=can_wait,
        payload=payload,
    ):
        word = "pause" if paused else "unpause"
        return ApprovalRequested(approvals.request_operation(actor, dag, word, reason))
    if approval is not None:
        payload["approval_request"] = approval.pk
    with audited(
        actor,
        audit_action,
        profile=dag.profile,
        dag_id=dag.dag_id,
        payload=payload,
        failed=(AirflowError,),
        atomic=False,
    ) as event:
        result = client_for(dag.profile).set_paused(dag.dag_id, paused)
        with transaction.atomic():
            Dag.objects.filter(pk=dag.pk).update(is_paused=result.is_paused)
            dag.is_paused = result.is_paused
            event.record()
    return Done(dag=dag)


def _audited_on_run(actor: Actor, action: str, run: Run, payload: dict[str, Any]) -> Any:
    """``audited`` for an action on one run that calls Airflow first."""
    return audited(
        actor,
        action,
        profile=run.profile,
        dag_id=run.dag_id,
        dag_run_id=run.dag_run_id,
        payload=payload,
        failed=(AirflowError, ValueError),
        atomic=False,
    )


def retry(
    actor: Actor,
    run: Run,
    *,
    reason: str = "",
    can_wait: bool = True,
    approval: ApprovalRequest | None = None,
) -> ActionResult:
    """Clear the run's failed and upstream-failed tasks so they run again (operate).

    Airflow's "clear" through the panel is this: only the failed tasks. The run goes back
    to queued and the poller follows it again. ``approval``: the approved request this
    carries out, where grants require one; without one there, approval is asked for.
    """
    dag = dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state}
    if may_act(
        actor,
        "run.retry",
        dag,
        DagAction.RETRY,
        approval=approval,
        can_wait=can_wait,
        dag_run_id=run.dag_run_id,
        payload=payload,
    ):
        return ApprovalRequested(approvals.request_operation(actor, dag, "retry", reason, run))
    if approval is not None:
        payload["approval_request"] = approval.pk
    with _audited_on_run(actor, "run.retry", run, payload) as event:
        cleared = client_for(run.profile).clear_failed_task_instances(run.dag_id, run.dag_run_id)
        task_ids = sorted({c.task_id for c in cleared})
        with transaction.atomic():
            if task_ids:
                # Back into the poll set: the poller follows the re-run to its end.
                dags.record_retry(actor, run)
                Run.objects.filter(pk=run.pk).update(
                    state="queued", end_date=None, is_finished=False
                )
                run.state, run.end_date, run.is_finished = "queued", None, False
            event.payload["cleared_tasks"] = task_ids
            event.message = "" if task_ids else "There were no failed tasks to retry."
            event.record()
    return Done(run=run, cleared_tasks=tuple(task_ids))


def set_run_state(actor: Actor, run: Run, state: str) -> ActionResult:
    """Mark a run success or failed in Airflow (operate; never behind approval)."""
    dag = dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state, "state": state}
    may_act(
        actor,
        "run.set_state",
        dag,
        DagAction.SET_RUN_STATE,
        dag_run_id=run.dag_run_id,
        payload=payload,
    )
    with _audited_on_run(actor, "run.set_state", run, payload) as event:
        if state not in RUN_STATES_PEOPLE_MAY_SET:
            raise ValueError("A run can only be marked success or failed.")
        result = client_for(run.profile).set_dag_run_state(run.dag_id, run.dag_run_id, state)
        with transaction.atomic():
            # The poller notices the end and makes the final read of the task instances.
            Run.objects.filter(pk=run.pk).update(state=result.state, end_date=result.end_date)
            run.state, run.end_date = result.state, result.end_date
            event.record()
    return Done(run=run)
