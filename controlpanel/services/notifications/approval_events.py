"""Approval notifications: approvers hear of new requests, requesters of the decisions."""

from __future__ import annotations

from controlpanel.models import ApprovalRequest, Delivery, Subscription, TeamMembership
from controlpanel.permissions import teams_seeing_dags
from controlpanel.services.notifications.sending import queue_after_commit
from controlpanel.services.notifications.subscriptions import covers_dag


def notify_approval(approval: ApprovalRequest, event: str) -> list[int]:
    """One delivery per active subscription that hears of this approval event.

    ``approval.requested`` goes to the approver teams, ``approval.decided`` to the
    requester's teams that may view the DAG. Call inside the transaction of the change;
    the sending is queued once it commits (``queue_after_commit``).
    """
    if event == Delivery.Event.APPROVAL_REQUESTED:
        teams = {team.pk for team in approval.approver_teams.all()}
    else:
        theirs = set(
            TeamMembership.objects.filter(user_id=approval.requested_by_id).values_list(
                "team_id", flat=True
            )
        )
        teams = theirs & teams_seeing_dags(approval.profile, [approval.dag_id])[approval.dag_id]
    subs = Subscription.objects.filter(is_active=True, team_id__in=teams)
    created = []
    for sub in subs:
        elsewhere = sub.profile_id not in (None, approval.profile_id)
        if elsewhere or not covers_dag(sub, approval.dag_id):
            continue
        delivery, new = Delivery.objects.get_or_create(
            subscription=sub, approval=approval, event=event
        )
        if new:
            created.append(delivery.pk)
    queue_after_commit(created)
    return created
