"""Airflow 2 login: a session cookie instead of the password check on every request.

Airflow 2 checks a basic-auth password against its hash on every API request (about 0.3 s
of CPU on a small machine). With ``airflow.api.auth.backend.session`` in
``[api] auth_backends`` (next to basic auth) the API also accepts the cookie of a session
logged in through the web UI: ``GET /login/`` gives the form's CSRF token, ``POST /login/``
with it, the username and the password answers a redirect away from the login page and a
logged-in ``session`` cookie. The client logs in once, sends the cookie, and falls back to
basic auth when Airflow refuses the cookie (expired session, session backend off) or the
login does not work (no web UI, rate limited): then it tries to log in again later.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import requests

from .config import BasicAuth
from .errors import AirflowError

log = logging.getLogger(__name__)

# After a failed login, or a fresh session the API refused, use basic auth this long.
RETRY_LOGIN_SECONDS = 600.0
_CSRF_TOKEN = re.compile(r"""name=["']csrf_token["'][^>]*?value=["']([^"']+)["']""")

# Sends one request to the login page: (method, form data or None) -> response.
SendLogin = Callable[[str, dict[str, str] | None], requests.Response]


class LoginFailed(Exception):
    """The login form did not give a logged-in session; the reason is the message."""


class SessionLogin:
    """Logs one Airflow 2 user in through the web login form and remembers the outcome.

    The cookie itself lives in the transport's ``requests.Session``; this class decides
    when to log in, when the cookie may be used, and when to give up on it for a while.
    """

    def __init__(
        self,
        credentials: BasicAuth,
        send: SendLogin,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._logged_in_at: float | None = None
        self._accepted = False  # Airflow took this session's cookie at least once
        self._basic_until = 0.0
        self.login_count = 0  # attempts, for tests and the benchmark

    def session(self) -> float | None:
        """When the session in use was logged in, logging in first if needed; None: use basic.

        Never raises: a login that fails (network, no login page, refused, rate limited)
        means basic auth for ``RETRY_LOGIN_SECONDS``, and the request goes on with it.
        """
        with self._lock:
            if self._logged_in_at is not None:
                return self._logged_in_at
            if self._clock() < self._basic_until:
                return None
            self.login_count += 1
            try:
                self._log_in()
            except (AirflowError, LoginFailed) as exc:
                log.info("Airflow login for a session failed, using basic auth: %s", exc)
                self._basic_until = self._clock() + RETRY_LOGIN_SECONDS
                return None
            self._logged_in_at, self._accepted = self._clock(), False
            return self._logged_in_at

    def accepted(self, logged_in_at: float) -> None:
        """Airflow took the cookie of the session logged in at ``logged_in_at``."""
        if self._logged_in_at == logged_in_at:
            self._accepted = True

    def refused(self, logged_in_at: float) -> None:
        """Airflow refused the cookie of the session logged in at ``logged_in_at``.

        The session is forgotten, so the next request logs in again (it expired); a session
        refused before Airflow ever took it means the API does not accept sessions (the
        session backend is off): basic auth for ``RETRY_LOGIN_SECONDS``.
        """
        with self._lock:
            if self._logged_in_at != logged_in_at:
                return  # another thread already dealt with it
            if not self._accepted:
                log.info("Airflow's API refused a fresh session cookie: using basic auth")
                self._basic_until = self._clock() + RETRY_LOGIN_SECONDS
            self._logged_in_at = None
            self._accepted = False

    def _log_in(self) -> None:
        page = self._send("GET", None)
        found = _CSRF_TOKEN.search(page.text)
        if found is None:
            raise LoginFailed(f"no login form at {page.url} (HTTP {page.status_code})")
        form = {
            "username": self._credentials.username,
            "password": self._credentials.password,
            "csrf_token": found.group(1),
        }
        answer = self._send("POST", form)
        target = answer.headers.get("Location", "")
        if answer.status_code not in (302, 303) or "/login" in target:
            raise LoginFailed(
                f"the login answered HTTP {answer.status_code}"
                + (" back to the login page (wrong password?)" if "/login" in target else "")
            )
