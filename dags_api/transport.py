"""HTTP to one Airflow webserver: one pooled session, timeouts, retries, typed errors.

This module knows HTTP and nothing of Airflow's paths or shapes; those live in the
version seams (``v1``, ``v2``). On Airflow 3 it sends a bearer token that ``tokens`` fetched
from the user's name and password, and fetches a new one once if Airflow refuses it. On
Airflow 2, when asked (``ConnectionSettings.login_session``), it logs in once through the
web login (``sessions``) and sends the session cookie instead of basic auth, falling back to
basic auth when Airflow refuses the cookie.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .config import BasicAuth, BearerToken, ConnectionSettings
from .endpoints import UNKNOWN_ENDPOINT, CallObserver
from .error_responses import error_from_response
from .errors import AirflowAuthError, AirflowUnavailable, InsecureConnectionError
from .sessions import SessionLogin
from .tokens import TokenExchange

log = logging.getLogger(__name__)

# Gateway answers that mean "try again shortly": a proxy in front of a restarting webserver.
RETRY_STATUSES = frozenset({502, 503, 504})


class Transport:
    """Sends requests to one Airflow webserver through one pooled ``requests.Session``."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_call: CallObserver | None = None,
    ) -> None:
        sends_credentials = settings.credentials is not None
        if sends_credentials and settings.is_plain_http and not settings.allow_insecure_http:
            raise InsecureConnectionError(
                detail=f"refusing to send credentials to {settings.base_url}",
            )
        self.settings = settings
        self._sleep = sleep
        # Told of every attempt (metrics); its failures are logged, never raised.
        self.on_call = on_call
        self.request_count = 0  # every attempt, retries included (polling reports it)
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=8)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = settings.tls_verify
        self.session.headers["User-Agent"] = "airflow-control-panel"
        # Basic credentials go per request (not session.auth, which would override a bearer
        # header): as basic auth on Airflow 2, exchanged for a token on Airflow 3.
        self._basic: tuple[str, str] | None = None
        if isinstance(settings.credentials, BasicAuth):
            self._basic = (settings.credentials.username, settings.credentials.password)
        elif isinstance(settings.credentials, BearerToken):
            self.session.headers["Authorization"] = f"Bearer {settings.credentials.token}"
        self.tokens: TokenExchange | None = None
        self.logins: SessionLogin | None = None
        self._login_url = ""

    def log_in_with_tokens(self, token_url: str, endpoint: str = UNKNOWN_ENDPOINT) -> None:
        """Send basic credentials to ``token_url`` for a bearer token instead (Airflow 3)."""
        if not isinstance(self.settings.credentials, BasicAuth) or self.tokens is not None:
            return

        def send(body: dict[str, Any]) -> requests.Response:
            return self._send(
                "POST", token_url, json=body, subject="the login endpoint", endpoint=endpoint
            )

        self.tokens = TokenExchange(self.settings.credentials, send)

    def log_in_with_session(self, login_url: str) -> None:
        """Log in at ``login_url`` (Airflow 2's web login) once and send the session cookie.

        Only with basic credentials and ``settings.login_session``; otherwise a no-op.
        """
        wanted = self.settings.login_session and isinstance(self.settings.credentials, BasicAuth)
        if not wanted or self.logins is not None:
            return
        assert isinstance(self.settings.credentials, BasicAuth)
        self._login_url = login_url
        self.logins = SessionLogin(self.settings.credentials, self._send_login)

    def _send_login(self, method: str, form: dict[str, str] | None) -> requests.Response:
        if method == "GET":
            self.session.cookies.clear()  # an old session would be sent to the home page
        return self._send(
            method,
            self._login_url,
            form=form,
            accept="text/html",
            retry=False,
            subject="the login page",
            use_basic=False,
            follow_redirects=False,
            endpoint="/login/",
        )

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
        authenticate: bool = True,
        anonymous: bool = False,
        endpoint: str = UNKNOWN_ENDPOINT,
    ) -> requests.Response:
        """Send one request and return the response, or raise a typed ``AirflowError``.

        ``retry`` allows retries with exponential backoff on connection errors and
        502/503/504; callers pass False for requests that must not be repeated blindly.
        ``subject`` names the thing asked for, for a not-found message ("the DAG 'x'").
        ``authenticate`` False marks a public endpoint (health, version): no token is
        fetched for it (static credentials still go along, as they always did);
        ``anonymous`` sends no credentials at all (the version probe before the API is known).
        ``endpoint`` is the path template without ids (``/dags/{dag_id}``) for ``on_call``.
        A refused cached token is renewed and the request sent once more: Airflow refused
        it before doing anything, so even a trigger is safe to repeat.
        """
        send = functools.partial(
            self._send,
            method,
            url,
            params=params,
            json=json,
            accept=accept,
            retry=retry,
            subject=subject,
            endpoint=endpoint,
        )
        if self.logins is not None and authenticate and not anonymous and self.tokens is None:
            return self._with_session(self.logins, send)
        if anonymous or not (authenticate and self.tokens):
            return send(anonymous=anonymous)
        fetches = self.tokens.fetch_count
        token = self.tokens.token()
        try:
            return send(token=token)
        except AirflowAuthError as refused:
            renewed_just_now = self.tokens.fetch_count != fetches
            if renewed_just_now or not _token_refused(refused):
                raise
            log.info("Airflow refused the cached token (%s); fetching a new one", refused.detail)
            self.tokens.forget(token)
            return send(token=self.tokens.token())

    def _with_session(
        self, logins: SessionLogin, send: Callable[..., requests.Response]
    ) -> requests.Response:
        """Send with the session cookie; if Airflow refuses it, once more with basic auth.

        Airflow checks credentials before doing anything, so repeating even a trigger is
        safe. Refused with basic auth too, the refusal is the user's rights: it is raised.
        """
        logged_in_at = logins.session()
        if logged_in_at is None:
            return send()
        try:
            response = send(use_basic=False)
        except AirflowAuthError as refused:
            response = send()
            log.info("Airflow refused the session cookie (%s); basic auth worked", refused.detail)
            logins.refused(logged_in_at)
            return response
        logins.accepted(logged_in_at)
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: dict[str, str] | None = None,
        accept: str = "application/json",
        retry: bool = True,
        subject: str = "what was asked for",
        token: str | None = None,
        anonymous: bool = False,
        use_basic: bool = True,
        follow_redirects: bool = True,
        endpoint: str = UNKNOWN_ENDPOINT,
    ) -> requests.Response:
        """Send one request, again after a failed connection or a gateway answer.

        With ``retry``, up to ``max_retries`` more attempts with exponential back-off; an
        error answer raises its typed error (``error_from_response``).
        """
        options = self._request_options(
            params=params,
            json=json,
            form=form,
            accept=accept,
            token=token,
            anonymous=anonymous,
            use_basic=use_basic,
            follow_redirects=follow_redirects,
        )
        attempts = 1 + (self.settings.max_retries if retry else 0)
        for attempt in range(attempts):
            last_attempt = attempt == attempts - 1
            response = self._attempt(method, url, options, endpoint, last_attempt=last_attempt)
            if response is not None:
                if response.status_code >= 400:
                    raise error_from_response(response, subject=subject)
                return response
            self._sleep(self.settings.backoff_seconds * (2**attempt))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _request_options(
        self,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        form: dict[str, str] | None,
        accept: str,
        token: str | None,
        anonymous: bool,
        use_basic: bool,
        follow_redirects: bool,
    ) -> dict[str, Any]:
        """The keyword arguments of ``session.request``, the same for every attempt."""
        headers: dict[str, str | None] = {"Accept": accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif anonymous:
            headers["Authorization"] = None  # requests drops the session's static token
        basic = self._basic if use_basic and self.tokens is None and not anonymous else None
        return {
            "params": params,
            "json": json,
            "data": form,
            "headers": headers,
            "auth": basic,
            "allow_redirects": follow_redirects,
            "timeout": (self.settings.connect_timeout, self.settings.read_timeout),
            # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override
            # session.verify, which would silently drop ca_bundle and verify_tls=False.
            "verify": self.settings.tls_verify,
        }

    def _attempt(
        self,
        method: str,
        url: str,
        options: dict[str, Any],
        endpoint: str,
        *,
        last_attempt: bool,
    ) -> requests.Response | None:
        """One attempt: Airflow's answer, or None when it is worth trying again.

        A failed connection or a gateway answer (502/503/504) is worth another attempt
        unless this is the last; a bad certificate or an unknown host never is.
        """
        self.request_count += 1
        started = time.monotonic()
        try:
            response = self.session.request(method, url, **options)
        except requests.exceptions.SSLError as exc:
            self._observe(method, endpoint, "tls", started)
            raise self._unavailable(exc) from exc  # a bad certificate does not heal
        except requests.exceptions.RequestException as exc:
            error = self._unavailable(exc)
            self._observe(method, endpoint, error.reason, started)
            if last_attempt or error.reason == "dns":
                raise error from exc
            log.info("Airflow %s %s failed (%s), retrying", method, url, error.reason)
            return None
        self._observe(method, endpoint, str(response.status_code), started)
        if response.status_code in RETRY_STATUSES and not last_attempt:
            log.info("Airflow %s %s answered %s, retrying", method, url, response.status_code)
            return None
        return response

    def _observe(self, method: str, endpoint: str, status: str, started: float) -> None:
        """Tell ``on_call`` about one attempt; a failing observer never fails the request."""
        if self.on_call is None:
            return
        try:
            self.on_call(method, endpoint, status, time.monotonic() - started)
        except Exception:
            log.warning("the Airflow call observer failed", exc_info=True)

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


def _token_refused(error: AirflowAuthError) -> bool:
    """True when Airflow refused the token itself (expired, revoked), not the user's role.

    Airflow 3 answers 401 without a valid login and 403 "Invalid JWT token" for a bad one;
    a plain 403 "Forbidden" is the role and a new token would not help.
    """
    return error.status_code == 401 or "token" in error.detail.lower()
