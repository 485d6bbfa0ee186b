"""A plain-Python client for Apache Airflow's stable REST API (no Django inside).

    from dags_api import AirflowClient, BasicAuth, ConnectionSettings

    settings = ConnectionSettings("https://airflow.example.com", BasicAuth("panel", "pw"))
    with AirflowClient(settings) as airflow:
        run = airflow.trigger_dag_run("etl", conf={"day": "2026-11-24"},
                                      dag_run_id=new_dag_run_id()).run
"""

from .client import DAG_RUN_ID_PATTERN, AirflowClient, new_dag_run_id
from .config import BasicAuth, BearerToken, ConnectionSettings, Credentials
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
from .models import (
    RUN_ACTIVE_STATES,
    RUN_TERMINAL_STATES,
    TASK_FAILED_STATES,
    ClearedTaskInstance,
    Dag,
    DagDetails,
    DagParam,
    DagRun,
    HealthStatus,
    TaskInstance,
    TriggerResult,
    VersionInfo,
)

__all__ = [
    "DAG_RUN_ID_PATTERN",
    "RUN_ACTIVE_STATES",
    "RUN_TERMINAL_STATES",
    "TASK_FAILED_STATES",
    "AirflowAuthError",
    "AirflowClient",
    "AirflowConflict",
    "AirflowError",
    "AirflowNotFound",
    "AirflowRequestRejected",
    "AirflowServerError",
    "AirflowUnavailable",
    "AirflowValidationError",
    "BasicAuth",
    "BearerToken",
    "ClearedTaskInstance",
    "ConnectionSettings",
    "Credentials",
    "Dag",
    "DagDetails",
    "DagParam",
    "DagRun",
    "HealthStatus",
    "InsecureConnectionError",
    "TaskInstance",
    "TriggerResult",
    "VersionInfo",
    "new_dag_run_id",
]
