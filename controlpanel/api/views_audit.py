"""``/api/audit/``: the audit trail for audit reviewers and panel admins; CSV streamed."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel.api import serializers as s
from controlpanel.api.base import ApiView
from controlpanel.api.views_dags import _moment
from controlpanel.models import AuditEvent
from controlpanel.permissions import require
from controlpanel.selectors import audit_csv_lines, audit_events

ONLY_REVIEWERS = "Only audit reviewers and panel administrators may read the audit trail."


class CSVRenderer(BaseRenderer):
    """Lets ``?format=csv`` through content negotiation; the view streams the body itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return json.dumps(data, default=str).encode()


@extend_schema(
    parameters=[
        OpenApiParameter("actor", str),
        OpenApiParameter("action", str),
        OpenApiParameter("outcome", str, enum=AuditEvent.Outcome.values),
        OpenApiParameter("profile", str),
        OpenApiParameter("dag_id", str),
        OpenApiParameter("dag_run_id", str),
        OpenApiParameter("since", OpenApiTypes.DATETIME),
        OpenApiParameter("until", OpenApiTypes.DATETIME),
        OpenApiParameter("format", str, enum=["json", "csv"]),
    ]
)
class AuditView(ApiView):
    """Who did what, newest first, filtered; ``?format=csv`` downloads every match."""

    list_view = True
    serializer_class = s.AuditEventSerializer
    renderer_classes = [JSONRenderer, CSVRenderer]

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are JSON even when CSV was asked for.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def get(self, request: Request) -> Response | StreamingHttpResponse:
        require(self.access.can_review_audit, ONLY_REVIEWERS)
        events = self._filtered(request)
        if request.query_params.get("format") == "csv":
            response = StreamingHttpResponse(audit_csv_lines(events), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="audit.csv"'
            return response
        return self.paginated(events, s.AuditEventSerializer)

    def _filtered(self, request: Request) -> QuerySet[AuditEvent]:
        params = request.query_params
        return audit_events(
            actor=params.get("actor", ""),
            action=params.get("action", ""),
            outcome=params.get("outcome", ""),
            profile=params.get("profile", ""),
            dag_id=params.get("dag_id", ""),
            dag_run_id=params.get("dag_run_id", ""),
            since=_moment(request, "since"),
            until=_moment(request, "until"),
        )
