"""Approving a request, and carrying out what it asked for as the requester."""

from __future__ import annotations

import secrets

from django.db import transaction

from controlpanel import limits
from controlpanel.audit import Actor
from controlpanel.models import ApprovalRequest, Delivery
from controlpanel.permissions import ActionDenied
from controlpanel.services import approvals, catalog, notifications, triggers
from controlpanel.services.actions.operate import retry, set_paused
from controlpanel.services.actions.triggering import TriggerInput, trigger
from dags_api import AirflowError

Action = ApprovalRequest.Action
CARRY_OUT_ERRORS = (
    AirflowError,
    triggers.ConfRefused,
    limits.LimitError,
    ActionDenied,
    ValueError,
)


def approve(actor: Actor, approval: ApprovalRequest, comment: str = "") -> ApprovalRequest:
    """Approve the request and carry it out, as the requester, with what they asked for.

    Of several approvals at once exactly one wins; the others get ApprovalConflict. What
    Airflow (or the DAG's changed params) refuses is kept on the request as
    ``trigger_error``, shown to both people, and audited as the action's failure.
    """
    approval = approvals.decide(actor, approval, approvals.State.APPROVED, comment)
    _carry_out(actor, approval)
    with transaction.atomic():  # the requester hears of the decision and of the run's start
        notifications.notify_approval(approval, Delivery.Event.APPROVAL_DECIDED)
    return approval


def _carry_out(actor: Actor, approval: ApprovalRequest) -> None:
    """Do the approved action as the requester; a refusal is kept on the request."""
    requester = Actor(user=approval.requested_by, source=actor.source, ip_address=actor.ip_address)
    try:
        dag = catalog.refresh_dag(approval.profile, approval.dag_id)  # the DAG may have changed
        if approval.action in (Action.PAUSE, Action.UNPAUSE):
            set_paused(requester, dag, approval.action == Action.PAUSE, approval=approval)
        elif approval.action == Action.RETRY and approval.target_run is not None:
            retry(requester, approval.target_run, approval=approval)
        elif approval.action == Action.TRIGGER:
            wish = TriggerInput(
                conf=approval.conf,
                logical_date=approval.logical_date,
                note=approval.note,
                # Unique in Airflow even when another panel database counted the same id.
                dag_run_id=f"approved__{approval.pk}_{secrets.token_hex(4)}",
            )
            trigger(requester, dag, wish, approval=approval)
        else:
            raise ValueError("The run to retry no longer exists.")
    except CARRY_OUT_ERRORS as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        if isinstance(exc, triggers.ConfRefused):
            message += " " + "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
        ApprovalRequest.objects.filter(pk=approval.pk).update(trigger_error=message[:2000])
        approval.trigger_error = message[:2000]
