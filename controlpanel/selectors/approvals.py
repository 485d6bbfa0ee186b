"""Reading approval requests: the list for the API and the Approvals page alike."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from rest_framework.exceptions import ValidationError

from controlpanel.models import ApprovalRequest
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
