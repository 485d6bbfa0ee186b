"""The one decision before every action: may the user do it, and must it be asked for first."""

from __future__ import annotations

from typing import Any

from controlpanel.audit import Actor, audited
from controlpanel.models import ApprovalRequest, Dag
from controlpanel.permissions import ACTION_LEVEL, ActionDenied, DagAction, access_for, require

APPROVAL_NEEDED = "This needs a second person's approval on {dag_id}: request approval instead."
TRIGGER_APPROVAL_NEEDED = (
    "Runs of {dag_id} need a second person's approval: request approval instead."
)


def may_act(
    actor: Actor,
    audit_action: str,
    dag: Dag,
    action: DagAction,
    *,
    approval: ApprovalRequest | None = None,
    can_wait: bool = True,
    dag_run_id: str = "",
    payload: dict[str, Any] | None = None,
) -> bool:
    """True when the action must be asked for (approval) rather than done; refuses who may not.

    Access is the DAG's level for ``action``; approval is needed where every grant that
    gives it requires one (``Access.needs_approval``), unless ``approval`` is the approved
    request being carried out. ``can_wait=False``: the channel has no way to say "asked"
    (Airflow's API), so an action that needs approval is refused with the code
    ``approval_required``. A refusal is audited as ``audit_action``, denied.
    """
    with audited(
        actor,
        audit_action,
        profile=dag.profile,
        dag_id=dag.dag_id,
        dag_run_id=dag_run_id,
        payload=payload,
        check_only=True,
    ):
        access = access_for(actor.user)
        require(access.can(action, dag), _denied(action, dag))
        if approval is not None:
            return False
        needed = access.needs_approval(dag, action)
        if needed and not can_wait:
            wording = TRIGGER_APPROVAL_NEEDED if action == DagAction.TRIGGER else APPROVAL_NEEDED
            raise ActionDenied(wording.format(dag_id=dag.dag_id), code="approval_required")
        return needed


def _denied(action: DagAction, dag: Dag) -> str:
    needed = ACTION_LEVEL[action].value
    verb = action.value.replace("_", " ")
    return f"You may see {dag.dag_id} but not {verb} it: that needs the '{needed}' level."
