"""The connection to one Airflow: the version seam in use, HTTP, JSON and pages.

``AirflowConnection`` is what every group of calls builds on: it picks the seam
(``AirflowV1`` for Airflow 2, ``AirflowV2`` for Airflow 3) from the settings'
``api_version`` or detects it once, sends requests through the ``Transport`` and walks
offset pages. Health and version are here too: detection needs them before anything else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Self

import requests

from .config import ApiVersion, ConnectionSettings
from .endpoints import CallObserver, Segment, endpoint_template
from .errors import AirflowError, AirflowServerError, AirflowUnavailable
from .models import HealthStatus, VersionInfo
from .transport import Transport
from .v1 import AirflowV1
from .v2 import AirflowV2

log = logging.getLogger(__name__)

DETECT_AGAIN_SECONDS = 30.0
SEAMS: dict[ApiVersion, type[AirflowV1]] = {"v1": AirflowV1, "v2": AirflowV2}


def airflow_ui_run_url(base_url: str, api_version: ApiVersion, dag_id: str, dag_run_id: str) -> str:
    """Where a run is shown in Airflow's own web UI (the page differs between 2 and 3)."""
    return SEAMS[api_version]().ui_run_url(base_url.rstrip("/"), dag_id, dag_run_id)


class AirflowConnection:
    """One Airflow deployment's REST API: a pooled HTTP session and the version seam.

    The base of ``AirflowClient``; the calls themselves live in ``dag_reads``,
    ``run_reads`` and ``actions``.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api: AirflowV1 | None = None,
        on_call: CallObserver | None = None,
    ) -> None:
        self.settings = settings
        # ``on_call`` hears of every HTTP attempt: (method, "/dags/{dag_id}", status, seconds).
        self.transport = Transport(settings, session=session, sleep=sleep, on_call=on_call)
        self._api: AirflowV1 | None = None
        self._api_lock = threading.Lock()
        self._guess: tuple[float, AirflowV1] | None = None  # (until, seam) after a failed detect
        if api is None and settings.api_version != "auto":
            api = SEAMS[settings.api_version]()
        if api is not None:
            self._use(api)

    # --- which API -----------------------------------------------------------------------

    @property
    def api(self) -> AirflowV1:
        """The version seam in use, detected on first use when the settings say "auto"."""
        if self._api is not None:
            return self._api
        with self._api_lock:
            if self._api is not None:
                return self._api
            guess = self._guess
            if guess is not None and time.monotonic() < guess[0]:
                return guess[1]
            try:
                return self._detect()
            except AirflowError as exc:
                # Airflow 2 is the guess for a while, then detection is tried again; the
                # calls meanwhile report an Airflow that cannot be reached themselves.
                log.info("Could not detect the Airflow API of %s: %s", self.settings.host, exc)
                self._guess = (time.monotonic() + DETECT_AGAIN_SECONDS, AirflowV1())
                return self._guess[1]

    @property
    def api_version(self) -> ApiVersion:
        """ "v1" (Airflow 2) or "v2" (Airflow 3), detected on first use when set to "auto"."""
        return self.api.api_version

    @property
    def known_api_version(self) -> ApiVersion | None:
        """The API in use once set or detected; None while it is only a guess (or unasked)."""
        return self._api.api_version if self._api is not None else None

    def detect_api_version(self) -> ApiVersion:
        """Ask Airflow which REST API it serves and use that one from now on.

        ``GET /api/v2/version`` answers on Airflow 3, ``/api/v1/version`` on Airflow 2; both
        need no credentials. Raises the typed error of the failed probe when neither answers.
        """
        with self._api_lock:
            return self._detect().api_version

    def _detect(self) -> AirflowV1:
        try:
            self._probe_version(AirflowV2())
            seam: AirflowV1 = AirflowV2()
        except AirflowUnavailable:
            raise
        except AirflowError:
            self._probe_version(AirflowV1())
            seam = AirflowV1()
        self._use(seam)
        return seam

    def _probe_version(self, seam: AirflowV1) -> VersionInfo:
        url = seam.url(self.settings.base_url, "version")
        response = self.transport.request(
            "GET",
            url,
            retry=False,
            anonymous=True,
            subject="the version endpoint",
            endpoint="/version",
        )
        try:
            return seam.parse_version(response.json())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AirflowServerError(
                "Airflow answered the version request in an unexpected shape.",
                detail=f"HTTP {response.status_code}: {response.text[:300]}",
                status_code=response.status_code,
            ) from exc

    def _use(self, api: AirflowV1) -> None:
        self._api = api
        if api.login_path is not None:
            self.transport.log_in_with_tokens(
                f"{self.settings.base_url}{api.login_path}", endpoint=api.login_path
            )
        else:  # detection may correct a wrong setting: Airflow 2 takes basic credentials
            self.transport.tokens = None
            if api.session_login_path is not None:
                self.transport.log_in_with_session(
                    f"{self.settings.base_url}{api.session_login_path}"
                )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the pooled connections."""
        self.transport.close()

    # --- low level ---------------------------------------------------------------------

    def _json(
        self,
        method: str,
        *segments: Segment,
        params: dict[str, Any] | None = None,
        body: Any = None,
        retry: bool = True,
        subject: str = "what was asked for",
        authenticate: bool = True,
    ) -> dict[str, Any]:
        url = self.api.url(self.settings.base_url, *segments)
        response = self.transport.request(
            method,
            url,
            params=params,
            json=body,
            retry=retry,
            subject=subject,
            authenticate=authenticate,
            endpoint=endpoint_template(segments),
        )
        try:
            data = response.json()
        except ValueError as exc:
            raise AirflowServerError(
                "Airflow answered with something that is not JSON; is the URL the Airflow "
                "webserver?",
                detail=f"HTTP {response.status_code}: {response.text[:300]}",
                status_code=response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise AirflowServerError(
                "Airflow answered in an unexpected shape.", detail=str(data)[:300]
            )
        return data

    def _pages(self, fetch: Callable[[int], dict[str, Any]], key: str) -> Iterator[dict[str, Any]]:
        """Walk offset pages until Airflow's ``total_entries`` is reached or a page is short."""
        offset = 0
        while True:
            page = fetch(offset)
            items = page.get(key) or []
            yield from items
            offset += len(items)
            total = page.get("total_entries")
            if len(items) < self.api.page_limit or (total is not None and offset >= total):
                return

    # --- health and version ------------------------------------------------------------

    def health(self) -> HealthStatus:
        """Metadatabase and scheduler health (needs no credentials)."""
        api = self.api
        data = self._json(
            "GET", *api.health_path, subject="the health endpoint", authenticate=False
        )
        return api.parse_health(data)

    def version(self) -> VersionInfo:
        """The Airflow version (needs no credentials)."""
        data = self._json("GET", "version", subject="the version endpoint", authenticate=False)
        return self.api.parse_version(data)
