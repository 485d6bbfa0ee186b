"""What people do to DAGs and runs: trigger, pause and unpause, retry, set a run's state.

Every function checks access, calls Airflow through dags_api and writes the audit event:
allowed or denied, succeeded or failed (with Airflow's error in plain words). The local
change and its audit event commit together; a failed Airflow call is recorded on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor, audited
from controlpanel.models import ApprovalRequest, AuditEvent, Dag, Run, StateChange
from controlpanel.permissions import DagAction, access_for, require
from dags_api import AirflowConflict, AirflowError, DagRun, TriggerResult, new_dag_run_id

RUN_STATES_PEOPLE_MAY_SET = ("success", "failed")
# Audit sources whose runs count as started through an API (the panel's or Airflow's).
API_SOURCES = (AuditEvent.Source.API, AuditEvent.Source.AIRFLOW_API)
# What a run the poller saw first takes over from the panel's trigger.
CLAIMED_FIELDS = ("triggered_by", "source", "approved_by", "approval_request")


def find_dag(
    actor: Actor, profile_slug: str, dag_id: str, action: DagAction, audit_action: str
) -> Dag:
    """The DAG for ``action``, or record the denied attempt and raise 404 / ActionDenied."""
    not_visible = "No such DAG (or not visible)."
    with audited(
        actor,
        audit_action,
        profile=profile_slug,
        dag_id=dag_id,
        not_found=not_visible,
        check_only=True,
    ):
        return access_for(actor.user).get_dag(profile_slug, dag_id, action)


def _denied_message(action: DagAction, dag: Dag) -> str:
    return f"You may not {action.value.replace('_', ' ')} {dag.dag_id}."


def _require_approval_if_needed(
    actor: Actor, action: DagAction, dag: Dag, approval: ApprovalRequest | None
) -> None:
    """Refuse an action the user's grants put behind approval, unless it carries one out."""
    require(
        approval is not None or not access_for(actor.user).needs_approval(dag, action),
        f"This needs a second person's approval on {dag.dag_id}: request approval instead.",
        code="approval_required",
    )


def set_paused(
    actor: Actor, dag: Dag, paused: bool, approval: ApprovalRequest | None = None
) -> Dag:
    """Pause or unpause a DAG in Airflow and in the catalog (needs the operate level).

    ``approval``: the approved request this carries out, where grants require one.
    """
    action = "dag.pause" if paused else "dag.unpause"
    payload = {"is_paused": paused, "was_paused": dag.is_paused}
    with audited(
        actor,
        action,
        profile=dag.profile,
        dag_id=dag.dag_id,
        payload=payload,
        failed=(AirflowError,),
        atomic=False,
    ) as event:
        allowed = access_for(actor.user).can(DagAction.PAUSE, dag)
        require(allowed, _denied_message(DagAction.PAUSE, dag))
        _require_approval_if_needed(actor, DagAction.PAUSE, dag, approval)
        if approval is not None:
            event.payload["approval_request"] = approval.pk
        result = client_for(dag.profile).set_paused(dag.dag_id, paused)
        with transaction.atomic():
            Dag.objects.filter(pk=dag.pk).update(is_paused=result.is_paused)
            dag.is_paused = result.is_paused
            event.record()
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
    existing_is_conflict: bool = False,
    approval: ApprovalRequest | None = None,
) -> Run:
    """Start a run with ``conf`` (needs trigger; ``unpause`` first needs operate).

    The panel always sends its own run id, so a retried or resubmitted trigger with the
    same id returns the same run instead of starting a second one. With
    ``existing_is_conflict`` (a run id the caller chose, as Airflow's API takes it) a run
    that already exists raises AirflowConflict instead, as Airflow answers. Where the
    user's grants require approval, only an approved request (``approval``) starts the run.
    """
    dag_run_id = dag_run_id or new_dag_run_id()
    conf = dict(conf or {})
    payload: dict[str, Any] = {
        "conf": conf,
        "logical_date": logical_date.isoformat() if logical_date else None,
        "note": note,
        "unpause": unpause,
    }
    access = access_for(actor.user)
    allowed = access.can(DagAction.TRIGGER, dag)
    if approval is not None:
        payload["approval_request"] = approval.pk
        payload["approved_by"] = approval.decided_by.get_username() if approval.decided_by else ""
    if allowed and unpause and dag.is_paused:
        set_paused(actor, dag, False)  # audited on its own: it happened even if the trigger fails
    with audited(
        actor,
        "dag.trigger",
        profile=dag.profile,
        dag_id=dag.dag_id,
        dag_run_id=dag_run_id,
        payload=payload,
        failed=(AirflowError,),
        atomic=False,
    ) as event:
        require(allowed, _denied_message(DagAction.TRIGGER, dag))
        require(
            approval is not None or not access.needs_approval(dag, DagAction.TRIGGER),
            f"Runs of {dag.dag_id} need a second person's approval: request approval instead.",
            code="approval_required",
        )
        result: TriggerResult = client_for(dag.profile).trigger_dag_run(
            dag.dag_id,
            conf=conf,
            dag_run_id=dag_run_id,
            logical_date=logical_date,
            note=note or None,
        )
        if existing_is_conflict and result.already_existed:
            raise AirflowConflict(
                f"DAG '{dag.dag_id}' already has a run with the id '{dag_run_id}'.",
                detail=f"DAGRun with DAG ID: '{dag.dag_id}' and DAGRun ID: '{dag_run_id}' "
                "already exists",
                clash="dag_run_id",
            )
        with transaction.atomic():
            run = _save_triggered_run(actor, dag, result, approval)
            event.dag_run_id = run.dag_run_id
            event.payload.update(already_existed=result.already_existed, state=result.run.state)
            event.record()
    return run


def _save_triggered_run(
    actor: Actor, dag: Dag, result: TriggerResult, approval: ApprovalRequest | None = None
) -> Run:
    """The run Airflow started, stored (or claimed from the poller, who may have seen it)."""
    fields = _run_fields(result.run, actor)
    if approval is not None:
        fields.update(approved_by=approval.decided_by, approval_request=approval)
    run, created = Run.objects.select_related("profile", "triggered_by").get_or_create(
        profile=dag.profile,
        dag_id=dag.dag_id,
        dag_run_id=result.run.dag_run_id,
        defaults=fields,
    )
    if created:
        StateChange.objects.create(run=run, to_state=run.state, observed_at=run.created_at)
    elif run.source == Run.Source.AIRFLOW:
        # The poller saw the run before this commit: it is ours, say who started it.
        claimed = {k: v for k, v in fields.items() if k in CLAIMED_FIELDS}
        Run.objects.filter(pk=run.pk).update(**claimed)
        for name, value in claimed.items():
            setattr(run, name, value)
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
        "source": Run.Source.API if actor.source in API_SOURCES else Run.Source.WEB,
    }


def dag_of(run: Run) -> Dag:
    """The catalog DAG of a run (a stand-in with no tags if the catalog lost it)."""
    dag = Dag.objects.filter(profile=run.profile, dag_id=run.dag_id).first()
    return dag or Dag(profile=run.profile, dag_id=run.dag_id, tags=[])


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


def retry_failed_tasks(
    actor: Actor, run: Run, approval: ApprovalRequest | None = None
) -> list[str]:
    """Clear the run's failed and upstream-failed tasks so they run again (operate).

    Returns the task ids Airflow reset; the run goes back to queued. ``approval``: the
    approved request this carries out, where grants require one.
    """
    dag = dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state}
    with _audited_on_run(actor, "run.retry", run, payload) as event:
        require(
            access_for(actor.user).can(DagAction.RETRY, dag), _denied_message(DagAction.RETRY, dag)
        )
        _require_approval_if_needed(actor, DagAction.RETRY, dag, approval)
        if approval is not None:
            event.payload["approval_request"] = approval.pk
        cleared = client_for(run.profile).clear_failed_task_instances(run.dag_id, run.dag_run_id)
        task_ids = sorted({c.task_id for c in cleared})
        with transaction.atomic():
            if task_ids:
                # Back into the poll set: the poller follows the re-run to its end.
                _record_retry(actor, run)
                Run.objects.filter(pk=run.pk).update(
                    state="queued", end_date=None, is_finished=False
                )
                run.state, run.end_date, run.is_finished = "queued", None, False
            event.payload["cleared_tasks"] = task_ids
            event.message = "" if task_ids else "There were no failed tasks to retry."
            event.record()
    return task_ids


def _record_retry(actor: Actor, run: Run) -> None:
    """The run's timeline entry for the retry: back to queued, and who asked for it.

    It starts from the state stored last (the caller's copy may predate the poller's).
    The poller credits the tasks it then sees running again to this entry.
    """
    stored = Run.objects.filter(pk=run.pk).values_list("state", flat=True).first()
    StateChange.objects.create(
        run=run,
        from_state=stored or run.state,
        to_state="queued",
        observed_at=timezone.now(),
        retry=True,
        retry_requested_by=actor.user,
    )


def set_run_state(actor: Actor, run: Run, state: str) -> Run:
    """Mark a run success or failed in Airflow (operate)."""
    dag = dag_of(run)
    payload: dict[str, Any] = {"state_before": run.state, "state": state}
    with _audited_on_run(actor, "run.set_state", run, payload) as event:
        allowed = access_for(actor.user).can(DagAction.SET_RUN_STATE, dag)
        require(allowed, _denied_message(DagAction.SET_RUN_STATE, dag))
        if state not in RUN_STATES_PEOPLE_MAY_SET:
            raise ValueError("A run can only be marked success or failed.")
        result = client_for(run.profile).set_dag_run_state(run.dag_id, run.dag_run_id, state)
        with transaction.atomic():
            # The poller notices the end and makes the final read of the task instances.
            Run.objects.filter(pk=run.pk).update(state=result.state, end_date=result.end_date)
            run.state, run.end_date = result.state, result.end_date
            event.record()
    return run
