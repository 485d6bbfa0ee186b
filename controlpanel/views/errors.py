"""The panel's dead ends: styled 403, 404, 500 and CSRF-failure pages with the navigation.

HTML pages only: requests to the panel's API (``/api/``) and the Airflow-compatible API
(``/airflow/<profile>/api/...``) that reach these handlers (an unknown URL, a crash) get a
JSON error in their API's shape, as DRF answers everything else there.
"""

from __future__ import annotations

import logging
import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

API_PATH = re.compile(r"^/api/|^/airflow/[-a-zA-Z0-9_]+/api/(v[12])/")
TITLES = {403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}
SESSION_CHANGED = (
    "Your session changed since this page was opened; check the values and press Trigger again."
)


def api_error(request: HttpRequest, status: int, message: str) -> JsonResponse | None:
    """The JSON error an API client expects for ``status``, or None for an HTML page.

    The same shapes as controlpanel.api.errors (``{"error", "message", "detail"}``) and the
    Airflow-compatible API (problem+json on v1, ``{"detail"}`` on v2), written out here so
    the 500 handler imports nothing that could itself fail.
    """
    match = API_PATH.match(request.path)
    if match is None:
        return None
    title = TITLES[status]
    if match.group(1) is None:
        code = title.lower().replace(" ", "_")
        return JsonResponse({"error": code, "message": message, "detail": None}, status=status)
    if match.group(1) == "v1":
        body = {"type": "about:blank", "title": title, "status": status, "detail": message}
        return JsonResponse(body, status=status, content_type="application/problem+json")
    return JsonResponse({"detail": message}, status=status)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: the page does not exist, or the user may not know that it does."""
    message = "There is no such page, or it is not one you may see."
    return api_error(request, 404, "Not found.") or render(
        request, "errors/404.html", {"message": message}, status=404
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the page exists and the user may know it, but lacks a right; say which one.

    The sentence is the refusal's own (the permission module's ``*_ONLY`` messages, or a
    service's ``ActionDenied``), so the page never guesses what was missing.
    """
    message = str(exception or "") or "You do not have the right to open this page."
    return api_error(request, 403, message) or render(
        request, "errors/403.html", {"message": message}, status=403
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """500: rendered without the request's context, so neither the database nor a session
    (which may be what failed) is needed to say that something went wrong."""
    answer = api_error(request, 500, "The panel failed to answer; the error was logged.")
    if answer is not None:
        return answer
    return HttpResponse(loader.get_template("errors/500.html").render({}), status=500)


@requires_csrf_token
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by CSRF protection: nothing was done, and the user is told why.

    The DAG page's trigger form comes back with the values as they were posted, for the
    user to check and submit again (with a fresh token); other forms get a page that
    explains and links back. No audit event: nothing was attempted on anyone's behalf.
    """
    logger.warning(
        "CSRF check refused a form: %s %s by %s (%s)",
        request.method,
        request.path,
        getattr(request.user, "pk", None) or "anonymous",
        reason,
    )
    refused = api_error(request, 403, f"CSRF check failed: {reason}")
    if refused is not None:
        return refused
    kept = _kept_trigger_form(request)
    if kept is not None:
        return kept
    context = {"back_url": _back_url(request), "reason_is_cookie": "cookie" in reason.lower()}
    return render(request, "errors/csrf.html", context, status=403)


def _kept_trigger_form(request: HttpRequest) -> HttpResponse | None:
    """The DAG page again, its trigger form filled with the refused POST; None if not one."""
    if request.method != "POST" or not request.user.is_authenticated:
        return None
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    if match.url_name != "dag":
        return None
    from controlpanel.views import dag  # the DAG page's own code draws the form

    return dag.refused_trigger_form(request, SESSION_CHANGED, **match.kwargs)


def _back_url(request: HttpRequest) -> str:
    """Where the refused form was (the Referer, when it is one of the panel's pages)."""
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return ""
