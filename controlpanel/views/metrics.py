"""Prometheus metrics at ``/metrics``, for allowed addresses or a bearer token only."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from controlpanel.audit import client_ip
from controlpanel.metrics import render_metrics


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Every panel metric in Prometheus' text format; 404 for anyone else (no data)."""
    if not may_read_metrics(client_ip(request), request.headers.get("Authorization", "")):
        return HttpResponseNotFound("Not found.\n", content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


def may_read_metrics(client_address: str | None, authorization: str) -> bool:
    """Whether a scraper may read ``/metrics``: from METRICS_ALLOWED_IPS or with METRICS_TOKEN.

    Not a user right: Prometheus has no panel account, so the address or a bearer token
    (compared in constant time) decides.
    """
    token = settings.METRICS_TOKEN
    scheme, _, given = authorization.partition(" ")
    bearer = scheme.lower() == "bearer"
    if token and bearer and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_address or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_IPS)
