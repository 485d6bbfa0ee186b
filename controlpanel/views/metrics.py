"""Prometheus metrics at ``/metrics``, for allowed addresses or a bearer token only."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from controlpanel.audit import client_ip
from controlpanel.metrics import render_metrics
from controlpanel.permissions import may_read_metrics


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Every panel metric in Prometheus' text format; 404 for anyone else (no data)."""
    if not may_read_metrics(client_ip(request), request.headers.get("Authorization", "")):
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
