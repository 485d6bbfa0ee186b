"""``/api/approvals/``: requests to run DAGs whose grants require a second person's approval."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel.api import serializers as s
from controlpanel.api.base import ApiView
from controlpanel.models import ApprovalRequest
from controlpanel.selectors.approvals import approval_list
from controlpanel.services import actions, approvals


@extend_schema(parameters=[OpenApiParameter("state", str, enum=list(ApprovalRequest.State))])
class ApprovalsView(ApiView):
    """The approval requests the caller may see: theirs, those they approve, all for auditors."""

    list_view = True
    serializer_class = s.ApprovalRequestSerializer

    def get(self, request: Request) -> Response:
        requests = approval_list(self.access, request.query_params.get("state", "").strip())
        return self.paginated(requests, s.ApprovalRequestSerializer)


class ApprovalView(ApiView):
    """One approval request."""

    serializer_class = s.ApprovalRequestSerializer

    def get(self, request: Request, approval_id: int) -> Response:
        approval = self.access.get_approval(approval_id)
        return Response(s.ApprovalRequestSerializer(approval).data)


class ApprovalDecisionView(ApiView):
    """Approve (starts the run) or reject a request, with an optional ``comment``."""

    serializer_class = s.ApprovalRequestSerializer
    decision = "approve"

    @extend_schema(request=s.DecisionSerializer, responses=s.ApprovalRequestSerializer)
    def post(self, request: Request, approval_id: int) -> Response:
        approval = self.access.get_approval(approval_id)
        body = s.DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decide = actions.approve if self.decision == "approve" else approvals.reject
        approval = decide(self.actor(), approval, body.validated_data["comment"])
        approval = self.access.get_approval(approval.pk)
        return Response(s.ApprovalRequestSerializer(approval).data)


class ApprovalCancelView(ApiView):
    """The requester withdraws a pending request."""

    serializer_class = s.ApprovalRequestSerializer

    @extend_schema(request=None, responses=s.ApprovalRequestSerializer)
    def post(self, request: Request, approval_id: int) -> Response:
        approval = self.access.get_approval(approval_id)
        approvals.cancel(self.actor(), approval)
        return Response(s.ApprovalRequestSerializer(self.access.get_approval(approval.pk)).data)
