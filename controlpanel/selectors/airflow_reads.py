"""Reads answered straight by a profile's Airflow, for the Airflow-compatible API.

The caller has already asked ``controlpanel.permissions`` which DAGs it may see: every
function here takes a DAG (or DAG ids) that passed that check, and never widens it.
"""

from __future__ import annotations

from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag
from dags_api import DagRun, HealthStatus, TaskInstance, VersionInfo


def airflow_health(profile: AirflowProfile) -> HealthStatus:
    """What the profile's Airflow says about its metadatabase and scheduler."""
    return client_for(profile).health()


def airflow_version(profile: AirflowProfile) -> VersionInfo:
    """The version of the profile's Airflow."""
    return client_for(profile).version()


def dag_runs(profile: AirflowProfile, dag_ids: list[str], states: list[str] | None) -> list[DagRun]:
    """The runs of ``dag_ids`` (visible to the caller), every page of them."""
    if not dag_ids:
        return []
    return client_for(profile).list_dag_runs(dag_ids=dag_ids, states=states)


def dag_run(dag: Dag, dag_run_id: str) -> DagRun:
    """One run of a visible DAG (AirflowNotFound when Airflow has none)."""
    return client_for(dag.profile).get_dag_run(dag.dag_id, dag_run_id)


def task_instances(dag: Dag, dag_run_id: str) -> list[TaskInstance]:
    """The task instances of one run of a visible DAG."""
    return client_for(dag.profile).list_task_instances(dag.dag_id, dag_run_id)


def task_instances_of(
    profile: AirflowProfile,
    dag_ids: list[str],
    dag_run_ids: list[str] | None,
    states: list[str | None] | None,
) -> list[TaskInstance]:
    """Task instances of many runs of visible DAGs (``dag_ids``), in one batch read."""
    if not dag_ids:
        return []
    return client_for(profile).list_task_instances_batch(
        dag_ids=dag_ids, dag_run_ids=dag_run_ids, states=states
    )


def task_log(dag: Dag, dag_run_id: str, task_id: str, try_number: int, map_index: int) -> str:
    """The whole log text of one try of one task instance of a visible DAG."""
    return client_for(dag.profile).get_task_log(
        dag.dag_id, dag_run_id, task_id, try_number, map_index=map_index
    )
