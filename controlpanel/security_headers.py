"""The browser security headers Django 5.2 does not send itself: CSP, Permissions-Policy, CORP.

Django's SecurityMiddleware and XFrameOptionsMiddleware already send X-Content-Type-Options,
Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options and HSTS (settings.py). The
panel's pages, the vendored htmx and Swagger UI load every script and style from the panel
itself and none is inline, so the policy can stay ``'self'`` without nonces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:  # settings.py imports the policy from here, before Django is set up
    from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy (``PANEL_CSP``; empty sends none) and the others.

    A view that sets one of these headers itself keeps its own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.PANEL_CSP:
            response.headers.setdefault("Content-Security-Policy", settings.PANEL_CSP)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response
