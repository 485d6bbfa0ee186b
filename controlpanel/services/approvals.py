"""Approvals: a second person signs off before a run of a sensitive DAG starts.

A grant may require approval (``DagGrant.requires_approval``); whoever may trigger a DAG
only through such grants asks instead (``request_approval``), and a member of the grant's
approver team approves or rejects. Whether an action needs approval is decided once, by
``actions.gate.may_act``; the actions (``services.actions``) make the request here, and
``actions.approve`` decides through ``decide`` and then carries the request out, as the
requester, with the DAG's params checked again. Every step is audited:
``approval.request``, ``.approve``, ``.reject``, ``.cancel``, ``.expire``; the
``dag.trigger`` that follows an approval names the request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, audited, record_event
from controlpanel.models import ApprovalRequest, Dag, Delivery, Run
from controlpanel.permissions import ActionDenied, DagAction, access_for, require
from controlpanel.services import lock_row, notifications, triggers

State = ApprovalRequest.State
Action = ApprovalRequest.Action
DAG_ACTION: dict[str, DagAction] = {
    Action.TRIGGER: DagAction.TRIGGER,
    Action.PAUSE: DagAction.PAUSE,
    Action.UNPAUSE: DagAction.PAUSE,
    Action.RETRY: DagAction.RETRY,
}
DECISION_ACTIONS: dict[str, str] = {
    State.APPROVED: "approval.approve",
    State.REJECTED: "approval.reject",
    State.CANCELLED: "approval.cancel",
}
GONE = "No such approval request."
REASON_MAX_CHARS = 2000


class ApprovalConflict(Exception):
    """The request was already decided, cancelled or expired (409)."""

    def __init__(self, approval: ApprovalRequest) -> None:
        super().__init__(f"This approval request is already {approval.state}.")
        self.state = approval.state


def request_approval(
    actor: Actor,
    dag: Dag,
    body: dict[str, Any],
    *,
    reason: str,
    idempotency_key: str = "",
) -> tuple[ApprovalRequest, bool]:
    """Ask the approvers to let a run start; (the request, whether this call made it).

    ``body``: the trigger as ``triggers.checked_body`` passed it. The same Idempotency-Key
    with the same body gives back the same request; with another body, IdempotencyKeyReused.
    """
    body = {**body, "reason": (reason or "").strip()}
    fingerprint = triggers.request_fingerprint(dag, body) if idempotency_key else ""
    if idempotency_key:
        found = _request_for_key(actor, dag, body, idempotency_key, fingerprint)
        if found is not None:
            return found, False
    try:
        return _create_request(actor, dag, body, idempotency_key, fingerprint), True
    except IntegrityError:  # a twin with the same key won the race
        found = _request_for_key(actor, dag, body, idempotency_key, fingerprint)
        if found is None:
            raise
        return found, False


def _request_for_key(
    actor: Actor, dag: Dag, body: dict[str, Any], key: str, fingerprint: str
) -> ApprovalRequest | None:
    """The request already made with this key, or None; refuses a key reused differently."""
    found = ApprovalRequest.objects.filter(requested_by=actor.user, idempotency_key=key).first()
    if found is not None and found.request_hash != fingerprint:
        triggers.refuse_key_reuse(actor, dag, body, key)
    return found


def request_operation(
    actor: Actor, dag: Dag, action: str, reason: str, run: Run | None = None
) -> ApprovalRequest:
    """Ask the approvers to let a pause, unpause or retry (of ``run``) happen.

    Only where the grants say so (``approval_for_operate``, decided by ``actions``); carried
    out as the requester once approved.
    """
    body: dict[str, Any] = {"conf": {}, "logical_date": None, "note": "", "reason": reason}
    body["reason"] = (reason or "").strip()
    return _create_request(actor, dag, body, "", "", action=action, target_run=run)


def _create_request(
    actor: Actor,
    dag: Dag,
    body: dict[str, Any],
    key: str,
    fingerprint: str,
    action: str = Action.TRIGGER,
    target_run: Run | None = None,
) -> ApprovalRequest:
    """Write the request and its audit event; its approvers are the teams the grants name.

    Whether it is needed was decided by the action that calls this (``actions.gate``).
    """
    with audited(
        actor,
        "approval.request",
        profile=dag.profile,
        dag_id=dag.dag_id,
        payload=body,
        failed=(ValidationError,),
    ) as event:
        grants = access_for(actor.user).approval_grants(dag, DAG_ACTION[action])
        if not body["reason"]:
            raise ValidationError({"reason": ["Say why this run is needed."]})
        if len(body["reason"]) > REASON_MAX_CHARS:
            raise ValidationError({"reason": [f"At most {REASON_MAX_CHARS} characters."]})
        with transaction.atomic():  # a savepoint: a twin's key makes only this insert fail
            approval = ApprovalRequest.objects.create(
                profile=dag.profile,
                dag_id=dag.dag_id,
                action=action,
                target_run=target_run,
                requested_by=actor.user,
                conf=body["conf"],
                logical_date=_parse(body["logical_date"]),
                note=body["note"] or "",
                reason=body["reason"],
                expires_at=timezone.now() + timedelta(hours=settings.APPROVAL_TTL_HOURS),
                idempotency_key=key,
                request_hash=fingerprint,
            )
        approval.approver_teams.set({g.approver_team_id for g in grants if g.approver_team_id})
        notifications.notify_approval(approval, Delivery.Event.APPROVAL_REQUESTED)
        event.payload = approval.as_payload() | {"expires_at": approval.expires_at.isoformat()}
    return approval


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def reject(actor: Actor, approval: ApprovalRequest, comment: str = "") -> ApprovalRequest:
    """Refuse the request: no run starts."""
    return decide(actor, approval, State.REJECTED, comment)


def cancel(actor: Actor, approval: ApprovalRequest) -> ApprovalRequest:
    """The requester withdraws a pending request."""
    return decide(actor, approval, State.CANCELLED, "")


def decide(actor: Actor, approval: ApprovalRequest, state: str, comment: str) -> ApprovalRequest:
    """Move a pending request to ``state`` once, audited; ApprovalConflict if it is not pending.

    The row lock (PostgreSQL) and the conditional update (everywhere) let one decision win.
    """
    expire_if_due(approval)
    action = DECISION_ACTIONS[state]
    payload = {"approval_request": approval.pk, "comment": comment[:REASON_MAX_CHARS]}
    with audited(
        actor,
        action,
        profile=approval.profile,
        dag_id=approval.dag_id,
        payload=payload,
        failed=(ApprovalConflict,),
    ):
        locked = lock_row(approval, GONE)
        _check_may_decide(actor, locked, state)
        if locked.state != State.PENDING:
            raise ApprovalConflict(locked)
        now = timezone.now()
        changed = ApprovalRequest.objects.filter(pk=locked.pk, state=State.PENDING).update(
            state=state, decided_by=actor.user, decided_at=now, comment=payload["comment"]
        )
        if not changed:
            locked.refresh_from_db()
            raise ApprovalConflict(locked)
        if state == State.REJECTED:
            notifications.notify_approval(locked, Delivery.Event.APPROVAL_DECIDED)
    return ApprovalRequest.objects.select_related("profile", "requested_by", "decided_by").get(
        pk=approval.pk
    )


def _check_may_decide(actor: Actor, approval: ApprovalRequest, state: str) -> None:
    """Only the requester cancels; only approvers other than the requester approve or reject."""
    access = access_for(actor.user)
    if state == State.CANCELLED:
        mine = access.is_authenticated and approval.requested_by_id == actor.user.pk
        require(mine, "Only the person who asked may cancel the request.")
        return
    if access.is_authenticated and approval.requested_by_id == actor.user.pk:
        raise ActionDenied("You may not decide your own approval request.", "self_approval")
    require(
        access.may_decide_approval(approval),
        "Only members of the approver team decide this request.",
    )


def expire_if_due(approval: ApprovalRequest, now: datetime | None = None) -> bool:
    """Mark a pending request past its expiry as expired (audited once); True if it did."""
    now = now or timezone.now()
    if approval.state != State.PENDING or approval.expires_at > now:
        return False
    payload = {"approval_request": approval.pk, "expires_at": approval.expires_at.isoformat()}
    with transaction.atomic():
        changed = ApprovalRequest.objects.filter(
            pk=approval.pk, state=State.PENDING, expires_at__lte=now
        ).update(state=State.EXPIRED, decided_at=now)
        if changed:  # else someone decided or expired it first: nothing to record
            record_event(
                Actor.system(),
                "approval.expire",
                outcome=Outcome.SUCCEEDED,
                profile=approval.profile,
                dag_id=approval.dag_id,
                payload=payload,
            )
    if changed:
        approval.state = State.EXPIRED
    return bool(changed)


def expire_due_requests(now: datetime | None = None) -> int:
    """Expire every pending request past its expiry (the periodic task); how many."""
    now = now or timezone.now()
    due = ApprovalRequest.objects.select_related("profile").filter(
        state=State.PENDING, expires_at__lte=now
    )
    return sum(expire_if_due(approval, now) for approval in due[:500])
