"""HTTP to one Airflow webserver: one pooled session, timeouts, retries, error mapping.

This module knows HTTP and nothing of Airflow's paths or shapes; those live in the
version seams (``v1``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .config import BasicAuth, BearerToken, ConnectionSettings
from .errors import (
    AirflowAuthError,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowRequestRejected,
    AirflowServerError,
    AirflowUnavailable,
    AirflowValidationError,
    InsecureConnectionError,
)

log = logging.getLogger(__name__)

# Gateway answers that mean "try again shortly": a proxy in front of a restarting webserver.
RETRY_STATUSES = frozenset({502, 503, 504})
_DETAIL_LIMIT = 2000


class Transport:
    """Sends requests to one Airflow webserver through one pooled ``requests.Session``."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        sends_credentials = settings.credentials is not None
        if sends_credentials and settings.is_plain_http and not settings.allow_insecure_http:
            raise InsecureConnectionError(
                detail=f"refusing to send credentials to {settings.base_url}",
            )
        self.settings = settings
        self._sleep = sleep
        self.request_count = 0  # every attempt, retries included (polling reports it)
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = settings.tls_verify
        self.session.headers["User-Agent"] = "airflow-control-panel"
        if isinstance(settings.credentials, BasicAuth):
            self.session.auth = (settings.credentials.username, settings.credentials.password)
        elif isinstance(settings.credentials, BearerToken):
            self.session.headers["Authorization"] = f"Bearer {settings.credentials.token}"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str = "application/json",
        retry: bool = True,
        subject: str = "what was asked for",
    ) -> requests.Response:
        """Send one request and return the response, or raise a typed ``AirflowError``.

        ``retry`` allows retries with exponential backoff on connection errors and
        502/503/504; callers pass False for requests that must not be repeated blindly.
        ``subject`` names the thing asked for, for a not-found message ("the DAG 'x'").
        """
        attempts = 1 + (self.settings.max_retries if retry else 0)
        for attempt in range(attempts):
            last_attempt = attempt == attempts - 1
            self.request_count += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Accept": accept},
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override
                    # session.verify, which would silently drop ca_bundle and verify_tls=False.
                    verify=self.settings.tls_verify,
                )
            except requests.exceptions.SSLError as exc:
                raise self._unavailable(exc) from exc  # a bad certificate does not heal
            except requests.exceptions.RequestException as exc:
                error = self._unavailable(exc)
                if last_attempt or error.reason == "dns":
                    raise error from exc
                log.info("Airflow %s %s failed (%s), retrying", method, url, error.reason)
            else:
                if response.status_code in RETRY_STATUSES and not last_attempt:
                    log.info(
                        "Airflow %s %s answered %s, retrying", method, url, response.status_code
                    )
                elif response.status_code >= 400:
                    raise error_from_response(response, subject=subject)
                else:
                    return response
            self._sleep(self.settings.backoff_seconds * (2**attempt))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _unavailable(self, exc: requests.exceptions.RequestException) -> AirflowUnavailable:
        """Describe a network failure in words a user can act on."""
        host = self.settings.host
        text = str(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            return AirflowUnavailable(
                f"The TLS certificate of the Airflow server {host} could not be verified.",
                detail=text,
                reason="tls",
            )
        # A stall after the headers arrives as a ConnectionError saying "Read timed out."
        stalled_body = "read timed out" in text.lower()
        if stalled_body or isinstance(
            exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout
        ):
            seconds = (
                self.settings.connect_timeout
                if isinstance(exc, requests.exceptions.ConnectTimeout)
                else self.settings.read_timeout
            )
            return AirflowUnavailable(
                f"Airflow at {host} did not answer within {seconds:g} seconds.",
                detail=text,
                reason="timeout",
            )
        lowered = text.lower()
        if any(
            s in lowered
            for s in (
                "name or service not known",
                "nodename nor servname",
                "name resolution",
                "getaddrinfo failed",
                "no address associated",
            )
        ):
            return AirflowUnavailable(
                f"The Airflow server name in {host} could not be found (DNS).",
                detail=text,
                reason="dns",
            )
        if "refused" in lowered:
            return AirflowUnavailable(
                f"Airflow at {host} refused the connection; is it running?",
                detail=text,
                reason="refused",
            )
        return AirflowUnavailable(
            f"The connection to Airflow at {host} failed.", detail=text, reason="connection"
        )


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
        return AirflowValidationError.from_detail(detail, status_code=status)
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
        if detail:  # Airflow 3 sends lists and objects here
            return str(detail)[:_DETAIL_LIMIT]
        if isinstance(title, str) and title:
            return title
    text = response.text.strip()
    if text.startswith("<"):
        return f"HTTP {response.status_code} with an HTML page: {_html_summary(text)}"
    return text[:_DETAIL_LIMIT] or f"HTTP {response.status_code} with an empty body"


def _html_summary(html: str) -> str:
    """The <title> (or the first text) of an HTML error page, so the log is readable."""
    lowered = html.lower()
    start = lowered.find("<title>")
    end = lowered.find("</title>")
    if start != -1 and end > start:
        return html[start + len("<title>") : end].strip()[:200]
    return html[:200]
