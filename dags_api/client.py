"""The Airflow client: every call the panel makes to an Airflow deployment.

``AirflowClient`` is version-neutral: it walks pages, decides what may be retried and
makes triggers idempotent. Paths and shapes come from the version seam: ``AirflowV1`` for
Airflow 2 (``/api/v1``), ``AirflowV2`` for Airflow 3 (``/api/v2``), picked by the settings'
``api_version`` or detected once per client.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from .config import ApiVersion, ConnectionSettings
from .endpoints import CallObserver, Id, Segment, endpoint_template
from .errors import (
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowServerError,
    AirflowUnavailable,
    AirflowValidationError,
)
from .models import (
    ClearedTaskInstance,
    Dag,
    DagDetails,
    DagImportError,
    DagRun,
    HealthStatus,
    TaskInstance,
    TriggerResult,
    VersionInfo,
)
from .transport import Transport
from .v1 import AirflowV1
from .v2 import AirflowV2

log = logging.getLogger(__name__)

DAG_RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
SETTABLE_RUN_STATES = ("success", "failed", "queued")
RUN_IDS_PER_REQUEST = 100
DETECT_AGAIN_SECONDS = 30.0
SEAMS: dict[ApiVersion, type[AirflowV1]] = {"v1": AirflowV1, "v2": AirflowV2}


def airflow_ui_run_url(base_url: str, api_version: ApiVersion, dag_id: str, dag_run_id: str) -> str:
    """Where a run is shown in Airflow's own web UI (the page differs between 2 and 3)."""
    return SEAMS[api_version]().ui_run_url(base_url.rstrip("/"), dag_id, dag_run_id)


def new_dag_run_id(prefix: str = "panel") -> str:
    """A unique run id of our own, so a trigger can be retried safely.

    Sorts by time, then 8 random bytes: ``panel__2026-11-24T07:50:01.123456+00:00__a1b2...``
    mirrors Airflow's own ``manual__<timestamp>`` ids.
    """
    stamp = datetime.now(UTC).isoformat()
    return f"{prefix}__{stamp}__{secrets.token_hex(8)}"


class AirflowClient:
    """Talks to one Airflow deployment through its stable REST API.

    One instance per connection profile: it holds a pooled HTTP session and, on Airflow 3,
    the cached bearer token. Use it as a context manager or call ``close()``.
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

    def __enter__(self) -> AirflowClient:
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

    # --- DAGs --------------------------------------------------------------------------

    def list_dags(
        self,
        *,
        tags: list[str] | None = None,
        dag_id_pattern: str | None = None,
        paused: bool | None = None,
        only_active: bool = True,
    ) -> list[Dag]:
        """Every DAG matching the filters, across all pages.

        ``tags`` matches DAGs carrying any of the tags; ``dag_id_pattern`` is a substring.
        """

        def fetch(offset: int) -> dict[str, Any]:
            query = self.api.dag_list_query(
                offset=offset,
                tags=tags,
                dag_id_pattern=dag_id_pattern,
                paused=paused,
                only_active=only_active,
            )
            return self._json("GET", "dags", params=query, subject="the DAG list")

        return [self.api.parse_dag(item) for item in self._pages(fetch, "dags")]

    def get_dag(self, dag_id: str) -> DagDetails:
        """One DAG with its details and ``params``."""
        data = self._json(
            "GET", "dags", Id("dag_id", dag_id), "details", subject=f"the DAG '{dag_id}'"
        )
        return self.api.parse_dag_details(data)

    def get_dag_source(self, dag_id: str, *, file_token: str | None = None) -> str:
        """The text of the Python file that defines a DAG.

        Airflow 2 finds the file by the ``file_token`` of the DAG's details (pass
        ``DagDetails.file_token``; without it the details are read first), Airflow 3 by the
        DAG id.
        """
        api = self.api
        segments = api.dag_source_path(dag_id, file_token)
        if segments is None:
            segments = api.dag_source_path(dag_id, self.get_dag(dag_id).file_token)
        if segments is None:
            raise AirflowServerError(
                f"Airflow did not say which file defines the DAG '{dag_id}'.",
                detail="no file_token in the DAG's details",
            )
        data = self._json("GET", *segments, subject=f"the source file of the DAG '{dag_id}'")
        return api.parse_dag_source(data)

    def set_paused(self, dag_id: str, paused: bool) -> Dag:
        """Pause or unpause a DAG; doing it twice is harmless, so it may be retried."""
        data = self._json(
            "PATCH",
            "dags",
            Id("dag_id", dag_id),
            params={"update_mask": "is_paused"},
            body={"is_paused": paused},
            subject=f"the DAG '{dag_id}'",
        )
        return self.api.parse_dag(data)

    def pause(self, dag_id: str) -> Dag:
        """Pause a DAG: no new runs start until it is unpaused."""
        return self.set_paused(dag_id, True)

    def unpause(self, dag_id: str) -> Dag:
        """Unpause a DAG: queued and scheduled runs start."""
        return self.set_paused(dag_id, False)

    def list_import_errors(self) -> list[DagImportError]:
        """DAG files Airflow failed to import, with their errors."""

        def fetch(offset: int) -> dict[str, Any]:
            return self._json(
                "GET",
                "importErrors",
                params={"limit": self.api.page_limit, "offset": offset},
                subject="the import error list",
            )

        return [self.api.parse_import_error(i) for i in self._pages(fetch, "import_errors")]

    # --- runs --------------------------------------------------------------------------

    def trigger_dag_run(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        dag_run_id: str | None = None,
        logical_date: datetime | None = None,
        note: str | None = None,
    ) -> TriggerResult:
        """Start a run of a DAG with ``conf``.

        With our own ``dag_run_id`` the request is retried on network errors and gateway
        errors, and a 409 for that id with the same conf means an earlier attempt already
        created the run (``already_existed``). Without one it is sent exactly once: a
        retry could start the DAG twice.
        """
        conf = dict(conf or {})
        if dag_run_id is not None and not DAG_RUN_ID_PATTERN.match(dag_run_id):
            raise AirflowValidationError(
                "A run id may only contain letters, digits and _ . ~ : + -",
                detail=f"invalid dag_run_id {dag_run_id!r}",
                status_code=None,
            )
        if logical_date is not None and logical_date.tzinfo is None:
            raise AirflowValidationError(
                "The logical date needs a time zone.",
                detail=f"naive logical_date {logical_date.isoformat()}",
                status_code=None,
            )
        body = self.api.trigger_body(
            conf=conf, dag_run_id=dag_run_id, logical_date=logical_date, note=note
        )
        try:
            data = self._json(
                "POST",
                "dags",
                Id("dag_id", dag_id),
                "dagRuns",
                body=body,
                retry=dag_run_id is not None,
                subject=f"the DAG '{dag_id}'",
            )
        except AirflowConflict as conflict:
            existing = self._earlier_attempt(dag_id, dag_run_id, conf, logical_date)
            if existing is not None:
                return TriggerResult(run=existing, already_existed=True)
            raise self._describe_conflict(conflict, dag_id, dag_run_id, logical_date) from None
        return TriggerResult(run=self.api.parse_dag_run(data))

    def _earlier_attempt(
        self,
        dag_id: str,
        dag_run_id: str | None,
        conf: dict[str, Any],
        logical_date: datetime | None,
    ) -> DagRun | None:
        """The run an earlier attempt of this same trigger created, if the 409 was that."""
        if dag_run_id is None:
            return None
        try:
            run = self.get_dag_run(dag_id, dag_run_id)
        except AirflowNotFound:
            return None  # the clash was the logical date of some other run
        same_date = logical_date is None or run.logical_date == logical_date
        return run if run.conf == conf and same_date else None

    def _describe_conflict(
        self,
        conflict: AirflowConflict,
        dag_id: str,
        dag_run_id: str | None,
        logical_date: datetime | None,
    ) -> AirflowConflict:
        clash = self.api.conflict_clash(conflict.detail)
        if clash == "logical_date" and logical_date is not None:
            message = (
                f"DAG '{dag_id}' already has a run with the logical date "
                f"{logical_date.isoformat()}; each run of a DAG needs its own logical date."
            )
        elif clash == "dag_run_id":
            message = (
                f"DAG '{dag_id}' already has a run with the id '{dag_run_id}' "
                "that was started with a different configuration."
            )
        else:
            message = f"DAG '{dag_id}' already has a run that clashes with this one."
        return AirflowConflict(message, detail=conflict.detail, clash=clash)

    def get_dag_run(self, dag_id: str, dag_run_id: str) -> DagRun:
        """One run of a DAG."""
        data = self._json(
            "GET",
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_dag_run(data)

    def list_dag_runs(
        self,
        *,
        dag_ids: list[str] | None = None,
        states: list[str] | None = None,
        end_date_gte: datetime | None = None,
    ) -> list[DagRun]:
        """Runs of many DAGs at once (``~/dagRuns/list``), across all pages.

        One request per 100 runs, whatever the number of DAGs: this is what polling uses.
        ``end_date_gte`` keeps only runs that ended at or after that time.
        """

        def fetch(offset: int) -> dict[str, Any]:
            body = self.api.dag_runs_batch_body(
                dag_ids=dag_ids, states=states, offset=offset, end_date_gte=end_date_gte
            )
            return self._json(
                "POST", "dags", "~", "dagRuns", "list", body=body, subject="the run list"
            )

        return [self.api.parse_dag_run(item) for item in self._pages(fetch, "dag_runs")]

    def set_dag_run_state(self, dag_id: str, dag_run_id: str, state: str) -> DagRun:
        """Mark a run success, failed or queued; the same request twice is harmless."""
        if state not in SETTABLE_RUN_STATES:
            raise AirflowValidationError(
                f"A run can only be set to {', '.join(SETTABLE_RUN_STATES)}.",
                detail=f"state {state!r}",
                status_code=None,
            )
        data = self._json(
            "PATCH",
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            body={"state": state},
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_dag_run(data)

    # --- task instances and logs -----------------------------------------------------

    def list_task_instances(self, dag_id: str, dag_run_id: str) -> list[TaskInstance]:
        """The task instances of one run, one per task and map index."""

        def fetch(offset: int) -> dict[str, Any]:
            return self._json(
                "GET",
                "dags",
                Id("dag_id", dag_id),
                "dagRuns",
                Id("dag_run_id", dag_run_id),
                "taskInstances",
                params={"limit": self.api.page_limit, "offset": offset},
                subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
            )

        return [self.api.parse_task_instance(i) for i in self._pages(fetch, "task_instances")]

    def list_task_instances_batch(
        self,
        *,
        dag_ids: list[str] | None = None,
        dag_run_ids: list[str] | None = None,
        states: list[str | None] | None = None,
    ) -> list[TaskInstance]:
        """Task instances of many runs at once (``~/dagRuns/~/taskInstances/list``).

        Run ids go ``RUN_IDS_PER_REQUEST`` at a time: an Airflow on SQLite fails (HTTP 500,
        "expression tree is too large") on a filter of about a thousand ids.
        """
        if dag_run_ids is None or len(dag_run_ids) <= RUN_IDS_PER_REQUEST:
            return self._task_instances_batch(dag_ids, dag_run_ids, states)
        found: list[TaskInstance] = []
        for start in range(0, len(dag_run_ids), RUN_IDS_PER_REQUEST):
            chunk = dag_run_ids[start : start + RUN_IDS_PER_REQUEST]
            found += self._task_instances_batch(dag_ids, chunk, states)
        return found

    def _task_instances_batch(
        self,
        dag_ids: list[str] | None,
        dag_run_ids: list[str] | None,
        states: list[str | None] | None,
    ) -> list[TaskInstance]:
        def fetch(offset: int) -> dict[str, Any]:
            body = self.api.task_instances_batch_body(
                dag_ids=dag_ids, dag_run_ids=dag_run_ids, states=states, offset=offset
            )
            return self._json(
                "POST",
                "dags",
                "~",
                "dagRuns",
                "~",
                "taskInstances",
                "list",
                body=body,
                subject="the task instance list",
            )

        return [self.api.parse_task_instance(i) for i in self._pages(fetch, "task_instances")]

    def get_task_log(
        self,
        dag_id: str,
        dag_run_id: str,
        task_id: str,
        try_number: int,
        *,
        map_index: int = -1,
    ) -> str:
        """The whole log text of one try of one task instance (Airflow 3's JSON as text)."""
        api = self.api
        segments: tuple[Segment, ...] = (
            "dags",
            Id("dag_id", dag_id),
            "dagRuns",
            Id("dag_run_id", dag_run_id),
            "taskInstances",
            Id("task_id", task_id),
            "logs",
            Id("try_number", str(try_number)),
        )
        response = self.transport.request(
            "GET",
            api.url(self.settings.base_url, *segments),
            endpoint=endpoint_template(segments),
            params={"full_content": "true", "map_index": map_index},
            accept=api.log_accept,
            subject=f"the log of try {try_number} of task '{task_id}' in run '{dag_run_id}'",
        )
        return api.parse_log(response)

    def clear_failed_task_instances(
        self, dag_id: str, dag_run_id: str, *, dry_run: bool = False
    ) -> list[ClearedTaskInstance]:
        """Reset a run's failed and upstream-failed tasks so the scheduler runs them again.

        Not retried: a second clear after a success could reset tasks failing anew.
        """
        data = self._json(
            "POST",
            "dags",
            Id("dag_id", dag_id),
            "clearTaskInstances",
            body=self.api.clear_failed_body(dag_run_id=dag_run_id, dry_run=dry_run),
            retry=False,
            subject=f"the run '{dag_run_id}' of DAG '{dag_id}'",
        )
        return self.api.parse_cleared(data)
