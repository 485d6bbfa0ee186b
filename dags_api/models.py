"""Typed values returned by the Airflow client.

All datetimes are timezone-aware (UTC when Airflow sends no offset). The values are
version-neutral: the Airflow 2 and later Airflow 3 seams both produce them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Run states Airflow uses; a run in one of the terminal states no longer changes by itself.
RUN_TERMINAL_STATES = frozenset({"success", "failed"})
RUN_ACTIVE_STATES = frozenset({"queued", "running"})
TASK_FAILED_STATES = frozenset({"failed", "upstream_failed"})


@dataclass(frozen=True)
class HealthStatus:
    """What ``/health`` says about the metadatabase and the scheduler."""

    metadatabase_healthy: bool
    scheduler_healthy: bool
    scheduler_latest_heartbeat: datetime | None
    triggerer_healthy: bool | None = None
    dag_processor_healthy: bool | None = None


@dataclass(frozen=True)
class VersionInfo:
    """The Airflow version reported by ``/version``."""

    version: str
    git_version: str | None = None

    @property
    def major(self) -> int:
        """The major version number, e.g. 2 for "2.11.0"."""
        return int(self.version.split(".", 1)[0])


@dataclass(frozen=True)
class DagParam:
    """One entry of a DAG's ``params``: its default, description and JSON schema.

    ``schema`` is the param's JSON schema as Airflow sends it, including Airflow's
    extra keys (``title``, ``values_display``, ``section``, ``description_md``...).
    """

    name: str
    default: Any
    description: str | None
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dag:
    """A DAG as listed by Airflow."""

    dag_id: str
    display_name: str
    description: str | None
    is_paused: bool
    is_active: bool
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    fileloc: str | None = None
    timetable_description: str | None = None
    has_import_errors: bool = False
    next_dagrun: datetime | None = None
    # When Airflow last parsed the DAG's file: it moves at every parse, changed or not.
    last_parsed_time: datetime | None = None
    # Names the DAG's file for Airflow 2's ``dagSources`` endpoint (shared by its DAGs).
    file_token: str | None = None


@dataclass(frozen=True)
class DagDetails(Dag):
    """A DAG with its details, including the ``params`` a trigger form is built from.

    ``params`` keeps the order Airflow sent: the author's on Airflow 3, sorted by name on
    Airflow 2 (see ``param_order``).
    """

    params: dict[str, DagParam] = field(default_factory=dict)
    doc_md: str | None = None
    start_date: datetime | None = None
    catchup: bool | None = None
    max_active_runs: int | None = None


@dataclass(frozen=True)
class DagRun:
    """One run of a DAG."""

    dag_id: str
    dag_run_id: str
    state: str
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    conf: dict[str, Any]
    note: str | None = None
    run_type: str | None = None
    external_trigger: bool | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    last_scheduling_decision: datetime | None = None
    # When the run was due to start. Airflow 3 runs may have no logical date (a manual
    # trigger without one); run_after is always set on both versions.
    run_after: datetime | None = None

    @property
    def is_finished(self) -> bool:
        """True once the run reached success or failed."""
        return self.state in RUN_TERMINAL_STATES


@dataclass(frozen=True)
class TriggerResult:
    """The run a trigger created, and whether it already existed (a safe retry)."""

    run: DagRun
    already_existed: bool = False


@dataclass(frozen=True)
class TaskInstance:
    """One task instance (one map index of one task) of a run, at its current try."""

    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    operator: str | None
    max_tries: int | None = None
    queued_when: datetime | None = None
    hostname: str | None = None
    note: str | None = None
    # The task's ``task_display_name`` (Airflow 2.9+); None when Airflow sends none.
    display_name: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        """The identity of the task instance across polls: dag, run, task, map index."""
        return (self.dag_id, self.dag_run_id, self.task_id, self.map_index)


@dataclass(frozen=True)
class DagImportError:
    """A DAG file Airflow could not import, with the error it raised."""

    filename: str
    stack_trace: str
    timestamp: datetime | None


@dataclass(frozen=True)
class ClearedTaskInstance:
    """A task that a clear request reset so it runs again (Airflow names no map index)."""

    dag_id: str
    dag_run_id: str
    task_id: str
