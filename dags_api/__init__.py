"""A plain-Python client for Apache Airflow's REST API, 2.x and 3.x (no Django inside).

Build ``ConnectionSettings`` (URL, credentials, TLS, timeouts), open an ``AirflowClient``
with it and call its methods; they return the dataclasses of ``models`` or raise the
errors of ``errors``. The README shows an example.
"""

from .client import DAG_RUN_ID_PATTERN, AirflowClient, airflow_ui_run_url, new_dag_run_id
from .config import (
    ApiVersion,
    ApiVersionSetting,
    BasicAuth,
    BearerToken,
    ConnectionSettings,
    Credentials,
)
from .endpoints import CallObserver
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
    DagImportError,
    DagParam,
    DagRun,
    HealthStatus,
    TaskInstance,
    TriggerResult,
    VersionInfo,
)
from .param_order import param_order_from_source

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
    "ApiVersion",
    "ApiVersionSetting",
    "BasicAuth",
    "BearerToken",
    "CallObserver",
    "ClearedTaskInstance",
    "ConnectionSettings",
    "Credentials",
    "Dag",
    "DagDetails",
    "DagImportError",
    "DagParam",
    "DagRun",
    "HealthStatus",
    "InsecureConnectionError",
    "TaskInstance",
    "TriggerResult",
    "VersionInfo",
    "airflow_ui_run_url",
    "new_dag_run_id",
    "param_order_from_source",
]
