"""Reading approval requests: the list for the API and the Approvals page alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from rest_framework.exceptions import ValidationError

from controlpanel import paramforms
from controlpanel.models import ApprovalRequest, Dag
from controlpanel.permissions import Access

STATES = tuple(ApprovalRequest.State.values)


def approval_list(access: Access, state: str = "") -> QuerySet[ApprovalRequest]:
    """The requests the user may see, pending first then newest first; ``state`` narrows it.

    Raises a ValidationError (400) for a state that does not exist.
    """
    if state and state not in STATES:
        raise ValidationError({"state": [f"Use one of: {', '.join(STATES)}."]})
    requests = access.visible_approvals().prefetch_related("approver_teams", "run")
    if state:
        requests = requests.filter(state=state)
    pending_first = Case(
        When(state=ApprovalRequest.State.PENDING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return requests.order_by(pending_first, "-created_at", "-id")


def pending_requests_of(access: Access, dag: Dag | None = None) -> list[ApprovalRequest]:
    """The user's own requests still waiting for an approver (of one DAG, or of all)."""
    if not access.is_authenticated:
        return []
    mine = ApprovalRequest.objects.select_related("profile").filter(
        requested_by=access.user, state=ApprovalRequest.State.PENDING
    )
    if dag is not None:
        mine = mine.filter(profile_id=dag.profile_id, dag_id=dag.dag_id)
    return list(mine.order_by("-created_at", "-id")[:20])


@dataclass(frozen=True)
class ConfRow:
    """One value of a requested conf as the trigger form labels it, and whether it differs
    from the DAG's default (approvers look at what changed)."""

    name: str
    label: str
    value: str
    default: str
    changed: bool


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def conf_rows(approval: ApprovalRequest, dag: Dag | None) -> list[ConfRow]:
    """The request's conf in the form's order and labels; keys that are not params last.

    A param the request leaves out is shown with its default (Airflow fills it in).
    """
    conf = approval.conf if isinstance(approval.conf, dict) else {}
    fields = paramforms.build_fields(dag.ordered_params if dag else {})
    rows = []
    for f in fields:
        if f.widget == "hidden" and f.name not in conf:
            continue
        value = conf.get(f.name, f.default)
        rows.append(ConfRow(f.name, f.label, _shown(value), _shown(f.default), value != f.default))
    named = {f.name for f in fields}
    rows += [ConfRow(k, k, _shown(v), "", True) for k, v in conf.items() if k not in named]
    return rows


def dag_of_request(approval: ApprovalRequest) -> Dag | None:
    """The catalog entry of the DAG a request names (None when the catalog lost it)."""
    return Dag.objects.filter(profile=approval.profile, dag_id=approval.dag_id).first()
