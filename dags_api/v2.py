"""The Airflow 3 seam: paths, request bodies and response shapes of ``/api/v2``.

Airflow 3 keeps most of ``/api/v1``'s paths and shapes, so this seam inherits the Airflow 2
one and overrides only what changed; every method returns the same dataclasses.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from .config import ApiVersion
from .endpoints import Id, Segment
from .errors import AirflowServerError, ConflictClash
from .models import DagRun, TaskInstance
from .v1 import AirflowV1, parse_datetime

# Log events that only group lines in Airflow's UI.
_GROUP_MARKERS = ("::group::", "::endgroup::")


class AirflowV2(AirflowV1):
    """Airflow 3.x public REST API (``/api/v2``)."""

    api_version: ApiVersion = "v2"
    api_root = "/api/v2"
    health_path = ("monitor", "health")
    login_path = "/auth/token"
    session_login_path = None  # the JWT from /auth/token is reused instead
    log_accept = "application/json"  # Airflow 3 answers 406 to text/plain
    keeps_param_order = True  # a DAG's params arrive in the order its author wrote them

    def ui_run_url(self, base_url: str, dag_id: str, dag_run_id: str) -> str:
        """The run in Airflow 3's web UI (its own page per run)."""
        return f"{base_url}/dags/{quote(dag_id, safe='')}/runs/{quote(dag_run_id, safe='')}"

    # --- request bodies and query strings ---------------------------------------------

    def trigger_body(
        self,
        *,
        conf: dict[str, Any],
        dag_run_id: str | None,
        logical_date: datetime | None,
        note: str | None,
    ) -> dict[str, Any]:
        """Body of ``POST /dags/{id}/dagRuns``: ``logical_date`` is required, null allowed."""
        body: dict[str, Any] = {
            "conf": conf,
            "logical_date": logical_date.isoformat() if logical_date is not None else None,
        }
        if dag_run_id is not None:
            body["dag_run_id"] = dag_run_id
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
        """Query string of ``GET /dags``: ``exclude_stale`` replaced ``only_active``.

        ``tags`` goes as repeated keys (requests does that for a list), matching any tag.
        """
        query = super().dag_list_query(
            offset=offset,
            tags=tags,
            dag_id_pattern=dag_id_pattern,
            paused=paused,
            only_active=only_active,
        )
        del query["only_active"]
        query["exclude_stale"] = str(only_active).lower()
        if tags:
            query["tags_match_mode"] = "any"
        return query

    def dag_source_path(self, dag_id: str, file_token: str | None) -> tuple[Segment, ...] | None:
        """Path of a DAG's source file: Airflow 3 finds it by the DAG id."""
        return ("dagSources", Id("dag_id", dag_id))

    def clear_failed_body(self, *, dag_run_id: str, dry_run: bool) -> dict[str, Any]:
        """Body of ``clearTaskInstances``: every flag explicit, whatever Airflow's defaults."""
        return {
            **super().clear_failed_body(dag_run_id=dag_run_id, dry_run=dry_run),
            "only_running": False,
            "include_upstream": False,
            "include_downstream": False,
            "include_future": False,
            "include_past": False,
        }

    def conflict_clash(self, detail: str) -> ConflictClash:
        """Airflow 3 reports the violated unique constraint: its columns tell the clash."""
        if "logical_date" in detail:
            return "logical_date"
        if "run_id" in detail:
            return "dag_run_id"
        return super().conflict_clash(detail)

    # --- response shapes ---------------------------------------------------------------

    def parse_log(self, response: requests.Response) -> str:
        """Airflow 3 sends a log as JSON events; turn them into the lines Airflow 2 shows."""
        try:
            content = response.json().get("content")
        except (ValueError, AttributeError) as exc:
            raise AirflowServerError(
                "Airflow answered the log request in an unexpected shape.",
                detail=response.text[:300],
                status_code=response.status_code,
            ) from exc
        if isinstance(content, str):
            return content
        lines: list[str] = []
        for event in content or []:
            lines.extend(log_event_lines(event))
        return "\n".join(lines) + ("\n" if lines else "")

    def _dag_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        """``is_stale`` replaced ``is_active``; ``next_dagrun_logical_date`` ``next_dagrun``."""
        fields = super()._dag_fields(data)
        fields["is_active"] = not data.get("is_stale", False)
        fields["next_dagrun"] = parse_datetime(data.get("next_dagrun_logical_date"))
        return fields

    def parse_dag_run(self, data: dict[str, Any]) -> DagRun:
        """One run; Airflow 3 dropped ``external_trigger``: a manual run was triggered."""
        return replace(
            super().parse_dag_run(data),
            external_trigger=data.get("run_type") == "manual",
            run_after=parse_datetime(data.get("run_after")),
        )

    def parse_task_instance(self, data: dict[str, Any]) -> TaskInstance:
        """One task instance; the duration is computed from its start and end.

        Airflow 3.1 on SQLite reports durations that do not match the dates (even negative).
        """
        ti = super().parse_task_instance(data)
        if ti.start_date is None or ti.end_date is None:
            return ti
        duration = (ti.end_date - ti.start_date).total_seconds()
        return replace(ti, duration=duration)


def log_event_lines(event: Any) -> list[str]:
    """One structured log event of Airflow 3 as the text lines Airflow 2 would write."""
    if not isinstance(event, dict):
        return [str(event)]
    text = str(event.get("event", ""))
    if text.startswith(_GROUP_MARKERS):
        sources = event.get("sources") or []
        return ["*** Found local files:", *[f"***   * {s}" for s in sources]] if sources else []
    where = (
        f"{event['filename']}:{event['lineno']}"
        if event.get("filename") and event.get("lineno") is not None
        else str(event.get("logger") or "")
    )
    level = str(event.get("level") or "info").upper()
    stamp = event.get("timestamp")
    prefix = f"[{stamp}] " if stamp else ""
    lines = [f"{prefix}{{{where}}} {level} - {text}"]
    for error in event.get("error_detail") or []:
        lines.extend(_traceback_lines(error))
    return lines


def _traceback_lines(error: Any) -> list[str]:
    """An exception of a log event's ``error_detail`` as a Python traceback."""
    if not isinstance(error, dict):
        return [str(error)]
    lines = ["Traceback (most recent call last):"]
    for frame in error.get("frames") or []:
        lines.append(
            f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}'
        )
    lines.append(f"{error.get('exc_type', 'Exception')}: {error.get('exc_value', '')}")
    return lines
