"""Airflow's error answers as typed errors with a sentence for people.

Airflow answers problem+json (``detail`` a string, Airflow 3's list of field errors or its
409 object) or, from a proxy or a crashed webserver, an HTML page; ``error_from_response``
turns each into the ``AirflowError`` subclass its status means.
"""

from __future__ import annotations

from typing import Any

import requests

from .errors import (
    AirflowAuthError,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowRequestRejected,
    AirflowServerError,
    AirflowValidationError,
)

_DETAIL_LIMIT = 2000


def error_from_response(response: requests.Response, *, subject: str) -> AirflowError:
    """Map an error response (problem+json or an HTML page) to a typed error."""
    status = response.status_code
    detail = response_detail(response)
    if status in (401, 403):
        return AirflowAuthError(detail=detail, status_code=status)
    if status == 404:
        return AirflowNotFound(
            f"Airflow could not find {subject}.", detail=detail, status_code=status
        )
    if status == 409:
        return AirflowConflict(detail=detail, status_code=status)
    if status in (400, 422):
        error = AirflowValidationError.from_detail(detail, status_code=status)
        if error.param is None and (bad_param := _param_of_field_errors(response)):
            name, reason = bad_param
            return AirflowValidationError(
                f"The value of '{name}' is not valid: {reason}",
                detail=detail,
                status_code=status,
                param=name,
            )
        return error
    if status >= 500:
        return AirflowServerError(
            f"Airflow had an internal error (HTTP {status}); an administrator can find "
            "the details in the Airflow webserver log.",
            detail=detail,
            status_code=status,
        )
    return AirflowRequestRejected(
        f"Airflow rejected the request (HTTP {status}).", detail=detail, status_code=status
    )


def response_detail(response: requests.Response) -> str:
    """The most useful text of an error response: problem+json detail/title, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("detail")
        title = body.get("title")
        if isinstance(detail, str) and detail:
            return detail[:_DETAIL_LIMIT]
        if isinstance(detail, list) and detail:  # Airflow 3's 422: one entry per bad field
            return "; ".join(_field_error_text(item) for item in detail)[:_DETAIL_LIMIT]
        if isinstance(detail, dict) and detail:  # Airflow 3's 409: reason and database error
            return _object_detail_text(detail)[:_DETAIL_LIMIT]
        if detail:
            return str(detail)[:_DETAIL_LIMIT]
        if isinstance(title, str) and title:
            return title
    text = response.text.strip()
    if text.startswith("<"):
        return f"HTTP {response.status_code} with an HTML page: {_html_summary(text)}"
    return text[:_DETAIL_LIMIT] or f"HTTP {response.status_code} with an empty body"


def _field_error_text(item: Any) -> str:
    """One entry of a 422 ``detail`` list, ``{"loc": [...], "msg": ...}``, as "field: message"."""
    if not isinstance(item, dict):
        return str(item)
    where = [str(part) for part in item.get("loc") or () if part not in ("body", "query", "path")]
    message = str(item.get("msg") or item.get("type") or "invalid")
    return f"{'.'.join(where)}: {message}" if where else message


def _object_detail_text(detail: dict[str, Any]) -> str:
    """An object ``detail`` as text: reason and the database error, without the SQL."""
    parts = [str(detail[key]) for key in ("reason", "orig_error") if detail.get(key)]
    if parts:
        return ": ".join(parts)
    return "; ".join(f"{key}: {value}" for key, value in detail.items())


def _param_of_field_errors(response: requests.Response) -> tuple[str, str] | None:
    """The DAG param a 422 field error points at (``loc`` body > conf > name) and why."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    for item in detail if isinstance(detail, list) else ():
        loc = [str(part) for part in (item.get("loc") or ())] if isinstance(item, dict) else []
        if "conf" in loc and loc.index("conf") + 1 < len(loc):
            return loc[loc.index("conf") + 1], str(item.get("msg") or "invalid value")
    return None


def _html_summary(html: str) -> str:
    """The <title> (or the first text) of an HTML error page, so the log is readable."""
    lowered = html.lower()
    start = lowered.find("<title>")
    end = lowered.find("</title>")
    if start != -1 and end > start:
        return html[start + len("<title>") : end].strip()[:200]
    return html[:200]
