"""Triggering a run: the same steps for the form, both APIs and an approved request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from controlpanel import limits
from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor, audited
from controlpanel.models import ApprovalRequest, Dag, IdempotentRequest, Run
from controlpanel.permissions import DagAction
from controlpanel.services import approvals, dags, triggers
from controlpanel.services.actions.gate import may_act
from controlpanel.services.actions.operate import set_paused
from controlpanel.services.actions.results import ActionResult, ApprovalRequested, Done
from dags_api import AirflowConflict, AirflowError, TriggerResult, new_dag_run_id


@dataclass(frozen=True)
class TriggerInput:
    """A trigger as its channel read it, before any rule of the panel was applied.

    ``input_errors``: what the channel itself could not read (the form's fields), refused
    and audited like a conf that breaks the params. ``reason``: why the run is needed, for
    the approvers, where the grants put the DAG behind approval. ``dag_run_id``: a run id
    the caller chose; with ``existing_is_conflict`` (Airflow's API) one that exists is a
    409 rather than the same run found again. ``can_wait=False``: the channel cannot say
    "approval requested" (see ``gate.may_act``).
    """

    conf: dict[str, Any] = field(default_factory=dict)
    logical_date: datetime | None = None
    note: str = ""
    reason: str = ""
    idempotency_key: str = ""
    dag_run_id: str | None = None
    unpause: bool = False
    existing_is_conflict: bool = False
    can_wait: bool = True
    input_errors: dict[str, list[str]] = field(default_factory=dict)
    logical_date_text: str = ""  # as typed, for the trail when it could not be read

    def attempt(self) -> dict[str, Any]:
        """What was asked for, as the trail keeps a refused attempt: a conf or note past the
        panel's limits is not kept (it is what was too big to take)."""
        body = {**self.body(), "unpause": self.unpause}
        if limits.conf_problems(self.conf):
            body["conf"] = None
        if limits.note_problems(self.note):
            body["note"] = self.note[:200]
        return body

    def body(self) -> dict[str, Any]:
        """What was asked for, as the trail keeps a refused request."""
        written = self.logical_date.isoformat() if self.logical_date else None
        return {
            "conf": self.conf,
            "logical_date": written or self.logical_date_text or None,
            "note": self.note,
        }


def trigger(
    actor: Actor, dag: Dag, wish: TriggerInput, *, approval: ApprovalRequest | None = None
) -> ActionResult:
    """Start a run of ``dag`` as asked, or ask the approvers where the grants say so.

    In this order, each refusal audited as a ``dag.trigger`` (denied or failed): access
    (``may_act``), what the channel could not read, the panel's limits and the DAG's params
    (``triggers.checked_body``); then the request for approval, or the run, started once per
    Idempotency-Key. ``approval``: the approved request this run carries out. Raises
    ActionDenied, ConfRefused, LimitError, IdempotencyKeyReused, ValidationError (no reason
    given for an approval) or AirflowError.
    """
    ask = may_act(
        actor,
        "dag.trigger",
        dag,
        DagAction.TRIGGER,
        approval=approval,
        can_wait=wish.can_wait,
        payload=wish.attempt(),
    )
    if wish.input_errors:
        triggers.refuse_conf(actor, dag, wish.body(), wish.input_errors)
    body = triggers.checked_body(
        actor, dag, conf=wish.conf, logical_date=wish.logical_date, note=wish.note
    )
    if ask:
        request, created = approvals.request_approval(
            actor, dag, body, reason=wish.reason, idempotency_key=wish.idempotency_key
        )
        return ApprovalRequested(request, created)
    if not wish.idempotency_key:
        return Done(run=_start(actor, dag, wish, wish.dag_run_id, approval))
    return _start_once(actor, dag, wish, body, approval)


def _start_once(
    actor: Actor,
    dag: Dag,
    wish: TriggerInput,
    body: dict[str, Any],
    approval: ApprovalRequest | None,
) -> Done:
    """Start the run once per Idempotency-Key: a resubmission finds the run made first."""
    key = wish.idempotency_key
    fingerprint = triggers.request_fingerprint(dag, body)
    record, mine = triggers.claim_key(actor, dag, body, key, fingerprint)
    if record.run_id is not None:
        found = Run.objects.select_related("profile", "triggered_by").get(pk=record.run_id)
        return Done(run=found, created=False)
    try:
        run = _start(actor, dag, wish, triggers.idempotent_run_id(actor.user.pk, key), approval)
    except Exception:
        if mine:  # let the caller try the same key again
            IdempotentRequest.objects.filter(pk=record.pk, run__isnull=True).delete()
        raise
    IdempotentRequest.objects.filter(pk=record.pk).update(run=run)
    return Done(run=run, created=mine)


def _start(
    actor: Actor,
    dag: Dag,
    wish: TriggerInput,
    run_id: str | None,
    approval: ApprovalRequest | None,
) -> Run:
    """Unpause first if asked (an action of its own), then start the run in Airflow.

    The panel always sends its own run id, so a retried or resubmitted trigger with the
    same id returns the same run instead of starting a second one.
    """
    if wish.unpause and dag.is_paused:
        # Audited on its own: it happened even if the trigger then fails.
        set_paused(actor, dag, False, can_wait=False)
    dag_run_id = run_id or new_dag_run_id()
    payload: dict[str, Any] = {**wish.body(), "note": wish.note, "unpause": wish.unpause}
    if approval is not None:
        payload["approval_request"] = approval.pk
        payload["approved_by"] = approval.decided_by.get_username() if approval.decided_by else ""
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
        result: TriggerResult = client_for(dag.profile).trigger_dag_run(
            dag.dag_id,
            conf=dict(wish.conf),
            dag_run_id=dag_run_id,
            logical_date=wish.logical_date,
            note=wish.note or None,
        )
        chosen = run_id is not None and run_id == wish.dag_run_id
        if wish.existing_is_conflict and chosen and result.already_existed:
            raise _conflict(dag, dag_run_id)
        with transaction.atomic():
            run = dags.save_triggered_run(actor, dag, result, approval)
            event.dag_run_id = run.dag_run_id
            event.payload.update(already_existed=result.already_existed, state=result.run.state)
            event.record()
    return run


def _conflict(dag: Dag, dag_run_id: str) -> AirflowConflict:
    """Airflow's answer to a run id that exists, for callers who chose the id (its API)."""
    return AirflowConflict(
        f"DAG '{dag.dag_id}' already has a run with the id '{dag_run_id}'.",
        detail=f"DAGRun with DAG ID: '{dag.dag_id}' and DAGRun ID: '{dag_run_id}' already exists",
        clash="dag_run_id",
    )
