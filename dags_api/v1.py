"""The Airflow 2 seam: paths, request bodies and response shapes of ``/api/v1``.

Everything version-specific lives here; Airflow 3's ``/api/v2`` seam (``v2``) has the same
methods and overrides only what changed, so ``client.py`` stays version-neutral.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests

from .config import ApiVersion
from .endpoints import Id, Segment
from .errors import AirflowServerError, ConflictClash
from .models import (
    ClearedTaskInstance,
    Dag,
    DagDetails,
    DagImportError,
    DagParam,
    DagRun,
    HealthStatus,
    TaskInstance,
    VersionInfo,
)


class AirflowV1:
    """Airflow 2.x stable REST API (``/api/v1``)."""

    api_version: ApiVersion = "v1"
    api_root = "/api/v1"
    page_limit = 100  # Airflow's default ``maximum_page_limit``
    health_path: tuple[str, ...] = ("health",)
    # Where basic credentials are exchanged for a bearer token; None: sent as basic auth.
    login_path: str | None = None
    # Airflow 2's web login, whose session cookie the API takes with the session backend.
    session_login_path: str | None = "/login/"
    log_accept = "text/plain"  # the JSON variant of Airflow 2's log is a Python repr
    # Airflow 2's JSON provider sorts keys: a DAG's params arrive sorted by name.
    keeps_param_order = False

    def url(self, base_url: str, *segments: Segment) -> str:
        """The URL of an endpoint, each path segment quoted (``~`` stays the wildcard)."""
        path = "/".join(
            quote(segment.value if isinstance(segment, Id) else segment, safe="~")
            for segment in segments
        )
        return f"{base_url}{self.api_root}/{path}"

    def ui_run_url(self, base_url: str, dag_id: str, dag_run_id: str) -> str:
        """The run in Airflow's own web UI (Airflow 2: the grid view with the run selected)."""
        query = urlencode({"dag_run_id": dag_run_id})
        return f"{base_url}/dags/{quote(dag_id, safe='')}/grid?{query}"

    # --- request bodies and query strings ---------------------------------------------

    def trigger_body(
        self,
        *,
        conf: dict[str, Any],
        dag_run_id: str | None,
        logical_date: datetime | None,
        note: str | None,
    ) -> dict[str, Any]:
        """Body of ``POST /dags/{id}/dagRuns``; unset fields are left to Airflow."""
        body: dict[str, Any] = {"conf": conf}
        if dag_run_id is not None:
            body["dag_run_id"] = dag_run_id
        if logical_date is not None:
            body["logical_date"] = logical_date.isoformat()
        if note:
            body["note"] = note
        return body

    def dag_list_query(
        self,
        *,
        offset: int,
        tags: list[str] | None,
        dag_id_pattern: str | None,
        paused: bool | None,
        only_active: bool,
    ) -> dict[str, Any]:
        """Query string of ``GET /dags``."""
        query: dict[str, Any] = {
            "limit": self.page_limit,
            "offset": offset,
            "only_active": str(only_active).lower(),
            "order_by": "dag_id",
        }
        if tags:
            query["tags"] = tags
        if dag_id_pattern:
            query["dag_id_pattern"] = dag_id_pattern
        if paused is not None:
            query["paused"] = str(paused).lower()
        return query

    def dag_runs_batch_body(
        self,
        *,
        dag_ids: list[str] | None,
        states: list[str] | None,
        offset: int,
        end_date_gte: datetime | None = None,
    ) -> dict[str, Any]:
        """Body of ``POST /dags/~/dagRuns/list``."""
        body: dict[str, Any] = {
            "page_offset": offset,
            "page_limit": self.page_limit,
            "order_by": "id",
        }
        if dag_ids is not None:
            body["dag_ids"] = dag_ids
        if states is not None:
            body["states"] = states
        if end_date_gte is not None:
            body["end_date_gte"] = end_date_gte.isoformat()
        return body

    def task_instances_batch_body(
        self,
        *,
        dag_ids: list[str] | None,
        dag_run_ids: list[str] | None,
        states: list[str | None] | None,
        offset: int,
    ) -> dict[str, Any]:
        """Body of ``POST /dags/~/dagRuns/~/taskInstances/list``."""
        body: dict[str, Any] = {"page_offset": offset, "page_limit": self.page_limit}
        if dag_ids is not None:
            body["dag_ids"] = dag_ids
        if dag_run_ids is not None:
            body["dag_run_ids"] = dag_run_ids
        if states is not None:
            body["state"] = states
        return body

    def dag_source_path(self, dag_id: str, file_token: str | None) -> tuple[Segment, ...] | None:
        """Path of a DAG's source file: Airflow 2 finds it by the details' ``file_token``.

        None without a token: the caller reads the DAG's details for it first.
        """
        if not file_token:
            return None
        return ("dagSources", Id("file_token", file_token))

    def clear_failed_body(self, *, dag_run_id: str, dry_run: bool) -> dict[str, Any]:
        """Body of ``POST /dags/{id}/clearTaskInstances`` re-running a run's failed tasks.

        ``only_failed`` covers failed and upstream_failed task instances.
        """
        return {
            "dry_run": dry_run,
            "dag_run_id": dag_run_id,
            "only_failed": True,
            "reset_dag_runs": True,  # the failed run goes back to queued, then running
        }

    def conflict_clash(self, detail: str) -> ConflictClash:
        """Whether a 409 on trigger was about the run id or the logical date."""
        if "logical date" in detail:
            return "logical_date"
        if "DAGRun ID" in detail or "DagRun ID" in detail:
            return "dag_run_id"
        return "unknown"

    # --- response shapes ---------------------------------------------------------------

    def parse_log(self, response: requests.Response) -> str:
        """The text of ``GET .../logs/{try}``: Airflow 2 sends it as plain text."""
        return response.text

    def parse_dag_source(self, data: dict[str, Any]) -> str:
        """``GET /dagSources/...`` as JSON: ``{"content": "<the file's text>"}``.

        JSON rather than Airflow 2's text/plain, which names no charset, so requests would
        decode the file as Latin-1 and garble every non-ASCII character.
        """
        content = data.get("content")
        if not isinstance(content, str):
            raise AirflowServerError(
                "Airflow answered the DAG source request in an unexpected shape.",
                detail=str(data)[:300],
            )
        return content

    def parse_health(self, data: dict[str, Any]) -> HealthStatus:
        """``GET /health``."""

        def healthy(section: str) -> bool | None:
            part = data.get(section) or {}
            status = part.get("status")
            return None if status is None else status == "healthy"

        scheduler = data.get("scheduler") or {}
        return HealthStatus(
            metadatabase_healthy=bool(healthy("metadatabase")),
            scheduler_healthy=bool(healthy("scheduler")),
            scheduler_latest_heartbeat=parse_datetime(scheduler.get("latest_scheduler_heartbeat")),
            triggerer_healthy=healthy("triggerer"),
            dag_processor_healthy=healthy("dag_processor"),
        )

    def parse_version(self, data: dict[str, Any]) -> VersionInfo:
        """``GET /version``."""
        return VersionInfo(version=data["version"], git_version=data.get("git_version"))

    def parse_dag(self, data: dict[str, Any]) -> Dag:
        """One entry of ``GET /dags``."""
        return Dag(**self._dag_fields(data))

    def parse_dag_details(self, data: dict[str, Any]) -> DagDetails:
        """``GET /dags/{id}/details``."""
        raw_params = data.get("params") or {}
        params = {name: self.parse_param(name, raw) for name, raw in raw_params.items()}
        return DagDetails(
            **self._dag_fields(data),
            params=params,
            doc_md=data.get("doc_md"),
            start_date=parse_datetime(data.get("start_date")),
            catchup=data.get("catchup"),
            max_active_runs=data.get("max_active_runs"),
        )

    def parse_param(self, name: str, raw: Any) -> DagParam:
        """One serialized Param: ``{"__class", "value", "description", "schema"}``."""
        if not isinstance(raw, dict) or "schema" not in raw:
            # A plain value in params (no Param object) is a param with that default.
            return DagParam(name=name, default=raw, description=None, schema={})
        # Airflow 2 sends a param without default as "value": null, like Param(None).
        return DagParam(
            name=name,
            default=raw.get("value"),
            description=raw.get("description"),
            schema=dict(raw.get("schema") or {}),
        )

    def _dag_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        tags = data.get("tags") or []
        return {
            "dag_id": data["dag_id"],
            "display_name": data.get("dag_display_name") or data["dag_id"],
            "description": data.get("description"),
            "is_paused": bool(data.get("is_paused")),
            "is_active": bool(data.get("is_active", True)),
            "tags": tuple(sorted(t["name"] if isinstance(t, dict) else str(t) for t in tags)),
            "owners": tuple(data.get("owners") or ()),
            "fileloc": data.get("fileloc"),
            "timetable_description": data.get("timetable_description"),
            "has_import_errors": bool(data.get("has_import_errors")),
            "next_dagrun": parse_datetime(data.get("next_dagrun")),
            "last_parsed_time": parse_datetime(data.get("last_parsed_time")),
            "file_token": data.get("file_token") or None,
        }

    def parse_dag_run(self, data: dict[str, Any]) -> DagRun:
        """One run, from the trigger answer, ``GET .../dagRuns/{id}`` or the batch list."""
        return DagRun(
            dag_id=data["dag_id"],
            dag_run_id=data["dag_run_id"],
            state=data["state"],
            logical_date=parse_datetime(data.get("logical_date") or data.get("execution_date")),
            queued_at=parse_datetime(data.get("queued_at")),
            start_date=parse_datetime(data.get("start_date")),
            end_date=parse_datetime(data.get("end_date")),
            conf=dict(data.get("conf") or {}),
            note=data.get("note"),
            run_type=data.get("run_type"),
            external_trigger=data.get("external_trigger"),
            data_interval_start=parse_datetime(data.get("data_interval_start")),
            data_interval_end=parse_datetime(data.get("data_interval_end")),
            last_scheduling_decision=parse_datetime(data.get("last_scheduling_decision")),
            run_after=self._run_after(data),
        )

    def _run_after(self, data: dict[str, Any]) -> datetime | None:
        """When the run was due, as Airflow 3's ``run_after`` means it (Airflow 2 lacks it).

        A manual run is due at its logical date, a scheduled one at its data interval's end.
        """
        if data.get("run_type") == "manual" or not data.get("data_interval_end"):
            return parse_datetime(data.get("logical_date") or data.get("execution_date"))
        return parse_datetime(data.get("data_interval_end"))

    def parse_task_instance(self, data: dict[str, Any]) -> TaskInstance:
        """One task instance from a run's list or the batch list."""
        return TaskInstance(
            dag_id=data["dag_id"],
            dag_run_id=data["dag_run_id"],
            task_id=data["task_id"],
            map_index=int(data.get("map_index", -1)),
            try_number=int(data.get("try_number") or 0),
            state=data.get("state"),
            start_date=parse_datetime(data.get("start_date")),
            end_date=parse_datetime(data.get("end_date")),
            duration=data.get("duration"),
            operator=data.get("operator"),
            max_tries=data.get("max_tries"),
            queued_when=parse_datetime(data.get("queued_when")),
            hostname=data.get("hostname") or None,
            note=data.get("note"),
            display_name=data.get("task_display_name") or None,
        )

    def parse_import_error(self, data: dict[str, Any]) -> DagImportError:
        """One entry of ``GET /importErrors``."""
        return DagImportError(
            filename=data.get("filename") or "",
            stack_trace=data.get("stack_trace") or "",
            timestamp=parse_datetime(data.get("timestamp")),
        )

    def parse_cleared(self, data: dict[str, Any]) -> list[ClearedTaskInstance]:
        """The answer of ``clearTaskInstances``."""
        return [
            ClearedTaskInstance(
                dag_id=item["dag_id"], dag_run_id=item["dag_run_id"], task_id=item["task_id"]
            )
            for item in data.get("task_instances") or []
        ]


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 string from Airflow as an aware datetime (UTC when it has no offset)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
