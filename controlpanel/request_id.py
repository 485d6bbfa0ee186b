"""The request id: one id per web or API request and per Celery task, in logs and audit.

A request keeps a sane incoming ``X-Request-ID`` (a proxy's or the caller's) or gets a new
one; it is sent back in the response header, held in a context variable for the log filter
(``controlpanel.logs``) and ``record_event``, and travels in the headers of every Celery
task the request enqueues. A task started by beat (a poll) gets an id of its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# Where the id is kept on the request, for log records Django writes after the response.
META_KEY = "controlpanel.request_id"
TASK_HEADER = "panel_request_id"
# Letters, digits and . _ : - only, at most 64 (AuditEvent.request_id): safe in logs and CSV.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_current: ContextVar[str] = ContextVar("request_id", default="")
_task_tokens: dict[str, Token[str]] = {}


def current_request_id() -> str:
    """The id of the request or task being handled here, or "" outside of one."""
    return _current.get()


def new_request_id() -> str:
    """A fresh id: 32 hex characters."""
    return uuid.uuid4().hex


def sane_request_id(value: Any) -> str | None:
    """``value`` if it may be used as a request id as it is, else None."""
    if isinstance(value, str) and _SANE.fullmatch(value):
        return value
    return None


def request_id_of(request: HttpRequest) -> str:
    """The id given to ``request`` by the middleware ("" before it ran)."""
    return str(request.META.get(META_KEY, ""))


class RequestIdMiddleware:
    """Give each request an id: the incoming ``X-Request-ID`` when sane, else a new one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        request.META[META_KEY] = request_id
        token = _current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


# --- Celery: the id travels in the task's headers ------------------------------------------


def add_to_task_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish``: a task enqueued during a request carries the request's id."""
    request_id = current_request_id()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


def start_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun``: the task's id is the enqueuing request's, or a new one (beat)."""
    request = getattr(task, "request", None)
    request_id = sane_request_id(getattr(request, TASK_HEADER, None))
    if request_id is None and getattr(request, "is_eager", False):
        request_id = current_request_id() or None  # run in the caller's own context
    if task_id:
        _task_tokens[task_id] = _current.set(request_id or new_request_id())


def end_task(task_id: str | None = None, **_: Any) -> None:
    """``task_postrun``: back to the id (or none) the worker had before the task."""
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        _current.reset(token)
