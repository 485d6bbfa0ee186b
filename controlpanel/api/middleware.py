"""Refuse API bodies past ``MAX_REQUEST_BYTES`` with the API's JSON error, before reading them.

Django itself refuses such a body only when something reads it, with its HTML 400 page;
API clients get the API's error shape (413) instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from controlpanel.api.errors import too_large_body

API_PREFIX = "/api/"


class ApiBodyLimitMiddleware:
    """413 in the API's shape for ``/api/`` requests whose Content-Length is past the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX) and self._too_large(request):
            return JsonResponse(too_large_body(), status=413)
        return self.get_response(request)

    @staticmethod
    def _too_large(request: HttpRequest) -> bool:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False  # Django refuses a malformed length itself
        return length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
