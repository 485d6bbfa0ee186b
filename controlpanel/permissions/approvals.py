"""The two-person rule's rights: who needs a second person's approval for an action, who
decides a request, and which requests each person may see.

Whether an action needs approval is decided here, never in a view: the grants that select
the DAG say so (``requires_approval``, and ``approval_for_operate`` for pausing and
retrying), and their approver teams decide.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from controlpanel.models import LEVEL_RANK, ApprovalRequest, Dag, DagGrant, Level, TeamMembership

from .core import ACTION_LEVEL, APPROVABLE, DagAction
from .grants import DagRights
from .matching import grant_matches


class ApprovalRights(DagRights):
    """Who needs approval, who decides, and which approval requests the user may see."""

    def approval_grants(self, dag: Dag, action: DagAction = DagAction.TRIGGER) -> list[DagGrant]:
        """The grants whose approvers must agree before the user does ``action``; [] if none.

        Rights stay the union of grants: one grant letting the user act without approval
        is enough. Panel admins need approval when any grant on the DAG requires it, unless
        APPROVAL_ADMINS_EXEMPT. Triggering needs approval through ``requires_approval``;
        pausing and retrying only where the grant also has ``approval_for_operate``.
        """
        if action not in APPROVABLE:
            return []
        needed = LEVEL_RANK[ACTION_LEVEL[action]]

        def gated(grant: DagGrant) -> bool:
            return grant.requires_approval and (
                action == DagAction.TRIGGER or grant.approval_for_operate
            )

        def selects(grant: DagGrant) -> bool:
            return (
                grant.profile_id == dag.profile_id
                and grant_matches(grant, dag.dag_id, dag.tags)
                and LEVEL_RANK[Level(grant.level)] >= needed
            )

        mine = [g for g in self.grants() if selects(g)]
        if any(not gated(g) for g in mine):
            return []
        if self.is_superuser:
            if settings.APPROVAL_ADMINS_EXEMPT:
                return []
            requiring = DagGrant.objects.filter(profile_id=dag.profile_id, requires_approval=True)
            mine = [g for g in requiring if selects(g) and gated(g)]
        return mine

    def needs_approval(self, dag: Dag, action: DagAction = DagAction.TRIGGER) -> bool:
        """True when the user may do ``action`` on the DAG only through an approved request."""
        return bool(self.approval_grants(dag, action))

    def approves_for(self) -> set[int]:
        """Ids of the teams whose approval requests the user decides (their own teams)."""
        return set(self.memberships())

    def may_see_approval(self, approval: ApprovalRequest) -> bool:
        """The requester, the approvers of the request, audit reviewers and panel admins."""
        if not self.is_authenticated:
            return False
        if self.can_review_audit or approval.requested_by_id == self.user.pk:
            return True
        teams = {t.pk for t in approval.approver_teams.all()}
        return bool(teams & self.approves_for())

    def may_decide_approval(self, approval: ApprovalRequest) -> bool:
        """Approvers of the request (and panel admins), never the person who asked."""
        if not self.is_authenticated or approval.requested_by_id == self.user.pk:
            return False
        if self.is_superuser:
            return True
        teams = {t.pk for t in approval.approver_teams.all()}
        return bool(teams & self.approves_for())

    def visible_approvals(self) -> QuerySet[ApprovalRequest]:
        """The approval requests the user may see, as one query."""
        requests = ApprovalRequest.objects.select_related("profile", "requested_by", "decided_by")
        if not self.is_authenticated:
            return requests.none()
        if self.can_review_audit:
            return requests
        theirs = Q(requested_by=self.user)
        approving = Exists(
            ApprovalRequest.approver_teams.through.objects.filter(
                approvalrequest_id=OuterRef("pk"), team_id__in=list(self.approves_for())
            )
        )
        return requests.filter(theirs | approving)

    def approvals_to_decide(self) -> QuerySet[ApprovalRequest]:
        """Pending requests the user may approve or reject (the navigation's badge).

        One query: the approver teams are joined, not read first.
        """
        if not self.is_authenticated:
            return ApprovalRequest.objects.none()
        pending = ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING).exclude(
            requested_by=self.user
        )
        if self.is_superuser:
            return pending
        approving = Exists(
            TeamMembership.objects.filter(user=self.user, team__approval_requests=OuterRef("pk"))
        )
        return pending.filter(approving)

    def get_approval(self, approval_id: int) -> ApprovalRequest:
        """The approval request if the user may see it, else 404."""
        approval = self.visible_approvals().filter(pk=approval_id).first()
        if approval is None:
            raise Http404("No such approval request.")
        return approval
