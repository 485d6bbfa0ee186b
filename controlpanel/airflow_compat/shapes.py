"""The panel's values in Airflow's response shapes: v1 (Airflow 2) and v2 (Airflow 3).

Field names and types follow Airflow's OpenAPI specs (``api_connexion/openapi/v1.yaml`` of
2.11, ``core_api/openapi/v2-rest-api-generated.yaml`` of 3.1). Fields the panel does not
know are ``null`` where the spec allows it, else Airflow's default; v2 clients validate
every required field, v1 clients only the fields present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlpanel.models import Dag, Run
from dags_api import DagRun, HealthStatus, TaskInstance, VersionInfo

V1 = "v1"
V2 = "v2"
PARAM_CLASS = "airflow.models.param.Param"
ERRORS_DOC = "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html"


def when(moment: datetime | None) -> str | None:
    """An ISO 8601 timestamp as Airflow writes it, or None."""
    return moment.isoformat() if moment else None


def dag(api: str, row: Dag) -> dict[str, Any]:
    """A catalog DAG as Airflow's ``DAG`` (v1) or ``DAGResponse`` (v2)."""
    common: dict[str, Any] = {
        "dag_id": row.dag_id,
        "dag_display_name": row.label,
        "is_paused": row.is_paused,
        "description": row.description or None,
        "fileloc": row.fileloc or "",
        "file_token": "",
        "owners": list(row.owners or []),
        "has_import_errors": row.has_import_errors,
        "last_parsed_time": when(row.last_parsed_at),
        "timetable_description": None,
        "max_active_runs": None,
        "next_dagrun_data_interval_start": None,
        "next_dagrun_data_interval_end": None,
    }
    if api == V1:
        return common | {
            "is_active": row.is_active,
            "is_subdag": False,
            "root_dag_id": None,
            "tags": [{"name": tag} for tag in row.tags or []],
            "next_dagrun": None,
            "next_dagrun_create_after": None,
        }
    return common | {
        "is_stale": not row.is_active,
        "last_parse_duration": None,
        "last_expired": None,
        "bundle_name": None,
        "bundle_version": None,
        "relative_fileloc": None,
        "timetable_summary": None,
        "tags": [
            {"name": tag, "dag_id": row.dag_id, "dag_display_name": row.label}
            for tag in row.tags or []
        ],
        "max_active_tasks": 16,
        "max_consecutive_failed_dag_runs": 0,
        "has_task_concurrency_limits": False,
        "next_dagrun_logical_date": None,
        "next_dagrun_run_after": None,
    }


def dag_details(api: str, row: Dag) -> dict[str, Any]:
    """A DAG with its ``params`` as Airflow's details endpoint answers."""
    params = {
        name: {
            "__class": PARAM_CLASS,
            "value": spec.get("default"),
            "description": spec.get("description"),
            "schema": spec.get("schema") or {},
        }
        for name, spec in row.ordered_params.items()
    }
    details = dag(api, row) | {"params": params, "doc_md": row.doc_md or None}
    details |= {"catchup": False, "start_date": None, "end_date": None}
    if api == V2:
        details |= {
            "dag_run_timeout": None,
            "asset_expression": None,
            "is_paused_upon_creation": None,
            "render_template_as_native_obj": False,
            "template_search_path": None,
            "last_parsed": when(row.last_parsed_at),
            "default_args": None,
            "owner_links": None,
            "is_favorite": False,
            "concurrency": 16,
            "latest_dag_version": None,
            "timezone": None,
        }
    return details


def dag_run(api: str, run: DagRun, display_name: str = "") -> dict[str, Any]:
    """A run as Airflow's ``DAGRun`` (v1) or ``DAGRunResponse`` (v2)."""
    data: dict[str, Any] = {
        "dag_run_id": run.dag_run_id,
        "dag_id": run.dag_id,
        "logical_date": when(run.logical_date),
        "queued_at": when(run.queued_at),
        "start_date": when(run.start_date),
        "end_date": when(run.end_date),
        "data_interval_start": when(run.data_interval_start),
        "data_interval_end": when(run.data_interval_end),
        "last_scheduling_decision": when(run.last_scheduling_decision),
        "run_type": run.run_type or "manual",
        "state": run.state,
        "conf": run.conf,
        "note": run.note,
    }
    if api == V1:
        return data | {
            "execution_date": when(run.logical_date),
            "external_trigger": True if run.external_trigger is None else run.external_trigger,
        }
    duration = None
    if run.start_date and run.end_date:
        duration = (run.end_date - run.start_date).total_seconds()
    return data | {
        "run_after": when(run.run_after or run.logical_date or run.queued_at),
        "duration": duration,
        "triggered_by": "rest_api",
        "triggering_user_name": None,
        "dag_versions": [],
        "bundle_version": None,
        "dag_display_name": display_name or run.dag_id,
    }


def as_dag_run(run: Run) -> DagRun:
    """The panel's record of a run it just started, as Airflow described it then.

    Saves a second request to Airflow after a trigger: the record holds Airflow's answer.
    """
    return DagRun(
        dag_id=run.dag_id,
        dag_run_id=run.dag_run_id,
        state=run.state,
        logical_date=run.logical_date,
        queued_at=run.queued_at,
        start_date=run.start_date,
        end_date=run.end_date,
        conf=run.conf or {},
        note=run.note or None,
        run_type="manual",
        external_trigger=True,
        run_after=run.logical_date or run.queued_at,
    )


def task_instance(
    api: str, ti: TaskInstance, run: DagRun | None = None, display_name: str = ""
) -> dict[str, Any]:
    """A task instance as Airflow's ``TaskInstance`` (v1) or ``TaskInstanceResponse`` (v2)."""
    logical_date = when(run.logical_date) if run else None
    data: dict[str, Any] = {
        "task_id": ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.dag_run_id,
        "map_index": ti.map_index,
        "start_date": when(ti.start_date),
        "end_date": when(ti.end_date),
        "duration": ti.duration,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries or 0,
        "hostname": ti.hostname or "",
        "unixname": "",
        "pool": "default_pool",
        "pool_slots": 1,
        "queue": None,
        "priority_weight": None,
        "operator": ti.operator,
        "queued_when": when(ti.queued_when),
        "pid": None,
        "executor_config": "{}",
        "note": ti.note,
        "rendered_map_index": None,
        "rendered_fields": {},
        "trigger": None,
        "triggerer_job": None,
    }
    if api == V1:
        # v1 clients refuse a null execution_date: left out when the run is not at hand.
        dated = {"execution_date": logical_date} if logical_date else {}
        return data | dated | {"sla_miss": None, "task_display_name": ti.display_name or ti.task_id}
    run_after = (run.run_after or run.logical_date or run.queued_at) if run else None
    return data | {
        "id": f"{ti.dag_id}/{ti.dag_run_id}/{ti.task_id}/{ti.map_index}",
        "logical_date": logical_date,
        "run_after": when(run_after) or when(ti.queued_when or ti.start_date) or "",
        "task_display_name": ti.display_name or ti.task_id,
        "dag_display_name": display_name or ti.dag_id,
        "operator_name": ti.operator,
        "scheduled_when": None,
        "executor": None,
        "dag_version": None,
    }


def health(api: str, status: HealthStatus) -> dict[str, Any]:
    """Airflow's health answer, from what the profile's Airflow reported."""

    def word(healthy: bool | None) -> str | None:
        return None if healthy is None else ("healthy" if healthy else "unhealthy")

    data: dict[str, Any] = {
        "metadatabase": {"status": word(status.metadatabase_healthy)},
        "scheduler": {
            "status": word(status.scheduler_healthy),
            "latest_scheduler_heartbeat": when(status.scheduler_latest_heartbeat),
        },
        "triggerer": {"status": word(status.triggerer_healthy), "latest_triggerer_heartbeat": None},
    }
    if api == V2:
        data["dag_processor"] = {
            "status": word(status.dag_processor_healthy),
            "latest_dag_processor_heartbeat": None,
        }
    return data


def version(info: VersionInfo) -> dict[str, Any]:
    """Airflow's version answer (the same in v1 and v2)."""
    return {"version": info.version, "git_version": info.git_version}


def collection(api: str, key: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """A page of a list, with the total across pages."""
    return {key: items, "total_entries": total}


def problem(api: str, status: int, title: str, detail: Any = None) -> dict[str, Any]:
    """An error body: problem+json on v1, ``{"detail": ...}`` on v2."""
    if api == V1:
        return {
            "type": f"{ERRORS_DOC}#section/Errors/{title.replace(' ', '')}",
            "title": title,
            "status": status,
            "detail": detail,
        }
    return {"detail": detail if detail is not None else title}
