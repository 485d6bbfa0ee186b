"""Every API error as ``{"error": code, "message": plain words, "detail": ...}``.

Not visible: 404. Visible but not allowed: 403. Invalid input or input past the panel's
limits: 400 with ``errors`` (field or param -> messages), 413 for a body too large to read.
Airflow down or failing: 503 / 502 with a sentence; Airflow's raw reason as ``detail`` only
for panel admins (it can name hosts and ports), ``null`` for everyone else.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from controlpanel.crypto import SecretUnreadable
from controlpanel.limits import LimitError
from controlpanel.permissions import ActionDenied
from controlpanel.services.approvals import ApprovalConflict
from controlpanel.services.triggers import ConfRefused, IdempotencyKeyReused
from dags_api import (
    AirflowAuthError,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowValidationError,
)


def error_body(
    code: str, message: str, detail: Any = None, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The one shape of every error response."""
    body: dict[str, Any] = {"error": code, "message": message, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return body


def too_large_body() -> dict[str, Any]:
    """The body of a 413: the request is bigger than ``MAX_REQUEST_BYTES``."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = f"The request body is too large: at most {limit} bytes are read."
    return error_body("too_large", message, None, {})


def _airflow_response(exc: AirflowError, raw_detail: bool) -> Response:
    """Airflow's answer in the API's terms; Airflow's own words as detail for admins only."""
    detail = (exc.detail[:2000] or None) if raw_detail else None
    if isinstance(exc, AirflowValidationError):
        if exc.param:
            errors = {exc.param: [exc.user_message]}
            return Response(
                error_body("invalid_conf", exc.user_message, detail, errors),
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            error_body("airflow_rejected", exc.user_message, detail, {}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, AirflowConflict):
        clash: dict[str, Any] = {"clash": exc.clash}
        if raw_detail:
            clash["airflow"] = detail
        body = error_body("conflict", exc.user_message, clash)
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, AirflowNotFound):
        return Response(error_body("not_found", exc.user_message, detail), status=404)
    if isinstance(exc, AirflowUnavailable):
        body = error_body("airflow_unavailable", exc.user_message, detail)
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    # The panel's own Airflow login failing, or Airflow failing: the gateway's fault.
    code = "airflow_auth" if isinstance(exc, AirflowAuthError) else "airflow_error"
    return Response(error_body(code, exc.user_message, detail), status=status.HTTP_502_BAD_GATEWAY)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler for the API (settings: REST_FRAMEWORK EXCEPTION_HANDLER)."""
    if isinstance(exc, AirflowError):
        user = getattr(context.get("request"), "user", None)
        return _airflow_response(exc, raw_detail=bool(getattr(user, "is_superuser", False)))
    if isinstance(exc, LimitError):
        message = f"The request is not valid: {exc}"
        return Response(error_body("invalid", message, None, exc.errors), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, ActionDenied):
        # DRF would answer any PermissionDenied with its generic sentence; keep the service's.
        return Response(error_body(exc.code, exc.message), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, Http404):
        message = str(exc) or "Not found (or not visible to you)."
        return Response(error_body("not_found", message), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        message = " ".join(exc.messages)
        return Response(error_body("invalid", message, None, errors), status=400)
    if isinstance(exc, SecretUnreadable):
        message = f"{exc} An administrator must enter the Airflow password or token again."
        return Response(error_body("secret_unreadable", message), status=503)
    if isinstance(exc, ConfRefused):
        message = "The conf does not match the DAG's params: " + "; ".join(
            f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items()
        )
        return Response(error_body("invalid_conf", message, None, exc.errors), status=400)
    if isinstance(exc, ApprovalConflict):
        body = error_body("approval_decided", str(exc), {"state": exc.state})
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IdempotencyKeyReused):
        body = error_body("idempotency_key_reused", str(exc))
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = _drf_body(exc, response.data)
    return response


def _drf_body(exc: exceptions.APIException, data: Any) -> dict[str, Any]:
    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        return error_body("invalid", "The request is not valid: see errors.", None, errors)
    message = str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.default_detail
    code = code if isinstance(code, str) else exc.default_code
    parse_errors: dict[str, Any] | None = {} if isinstance(exc, exceptions.ParseError) else None
    return error_body(code, str(message), None, parse_errors)
