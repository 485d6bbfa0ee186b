"""The base of the Airflow-compatible views: who calls, with what rights, and Airflow's errors.

Every refusal answers in Airflow's own error shape (problem+json on v1, ``{"detail"}`` on
v2) with Airflow's status codes, so Airflow clients raise the exceptions they expect.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlpanel.airflow_compat import shapes
from controlpanel.airflow_compat.authentication import TokenBasicAuthentication
from controlpanel.api.authentication import BearerTokenAuthentication, token_of
from controlpanel.api.parsers import JSONParser
from controlpanel.api.throttling import TokenRateThrottle
from controlpanel.audit import Actor
from controlpanel.limits import LimitError
from controlpanel.models import AuditEvent
from controlpanel.permissions import Access, access_for
from controlpanel.services import tokens
from controlpanel.services.triggers import ConfRefused, IdempotencyKeyReused
from dags_api import (
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowValidationError,
)

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def actor_of(request: Request) -> Actor:
    """The caller as the audit trail records them: source "Airflow-compatible API"."""
    token = token_of(request)
    return Actor.from_request(
        request._request,
        source=AuditEvent.Source.AIRFLOW_API,
        token_prefix=token.prefix if token else "",
    )


def problem_response(api: str, status: int, detail: Any = None) -> Response:
    """An error in Airflow's shape for ``api`` ("v1" or "v2")."""
    body = shapes.problem(api, status, TITLES.get(status, "Error"), detail)
    content_type = "application/problem+json" if api == shapes.V1 else "application/json"
    return Response(body, status=status, content_type=content_type)


class TokenHolder(BasePermission):
    """An active user with a panel API token; read-only tokens only read (audited)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = token_of(request)
        user = request.user
        if token is None or not (user and user.is_authenticated and user.is_active):
            return False
        if request.method not in SAFE_METHODS:
            tokens.check_may_write(actor_of(request), token, request.method or "", request.path)
        return True


def _status_of(exc: Exception, api: str) -> int | None:
    """Airflow's status code for an error raised inside a view, None for unknown errors."""
    if isinstance(exc, exceptions.ValidationError):
        return 422 if api == shapes.V2 else 400
    if isinstance(exc, ConfRefused | LimitError | AirflowValidationError | IdempotencyKeyReused):
        return 400
    if isinstance(exc, Http404 | AirflowNotFound):
        return 404
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return 401
    if isinstance(exc, PermissionDenied | exceptions.PermissionDenied):
        return 403
    if isinstance(exc, AirflowConflict):
        return 409
    if isinstance(exc, AirflowUnavailable):
        return 503
    if isinstance(exc, AirflowError):
        return 502
    if isinstance(exc, exceptions.APIException):
        return int(exc.status_code)
    return None


def _detail_of(exc: Exception) -> Any:
    if isinstance(exc, ConfRefused):
        return "Invalid input for params: " + "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in exc.errors.items()
        )
    if isinstance(exc, AirflowError):
        return exc.user_message
    if isinstance(exc, exceptions.APIException):
        return exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return str(exc) or None


def compat_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler for these views: Airflow's status and error shape."""
    view = context.get("view")
    api = getattr(view, "kwargs", {}).get("api", shapes.V1)
    status = _status_of(exc, api)
    if status is None:
        return None
    response = problem_response(api, status, _detail_of(exc))
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        response["Retry-After"] = str(int(wait))
    return response


class CompatView(APIView):
    """Signed in by API token (basic or bearer), throttled per token, Airflow's errors."""

    authentication_classes = [BearerTokenAuthentication, TokenBasicAuthentication]
    permission_classes = [TokenHolder]
    throttle_classes = [TokenRateThrottle]
    parser_classes = [JSONParser]
    schema = None  # not part of the panel's own OpenAPI schema

    def get_exception_handler(self) -> Any:
        return compat_exception_handler

    @property
    def api(self) -> str:
        """Which Airflow API's shapes to answer in: "v1" or "v2"."""
        return str(self.kwargs["api"])

    @property
    def access(self) -> Access:
        """The caller's rights (``controlpanel.permissions``)."""
        return access_for(self.request.user)

    def actor(self) -> Actor:
        """The caller as the audit trail records them."""
        return actor_of(self.request)
