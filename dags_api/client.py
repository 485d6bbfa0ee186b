"""The Airflow client: every call the panel makes to an Airflow deployment.

``AirflowClient`` is version-neutral: it walks pages, decides what may be retried and
makes triggers idempotent. Paths and shapes come from the version seam: ``AirflowV1`` for
Airflow 2 (``/api/v1``), ``AirflowV2`` for Airflow 3 (``/api/v2``), picked by the settings'
``api_version`` or detected once per client.

The calls are grouped by what they do: ``connection`` (the seam, HTTP, health, version),
``dag_reads``, ``run_reads`` (runs, task instances, logs) and ``actions`` (pause, trigger,
set state, clear). This module puts them together under the names it always had.
"""

from __future__ import annotations

from .actions import DAG_RUN_ID_PATTERN, SETTABLE_RUN_STATES, Actions, new_dag_run_id
from .connection import DETECT_AGAIN_SECONDS, SEAMS, AirflowConnection, airflow_ui_run_url
from .dag_reads import DagReads
from .run_reads import RUN_IDS_PER_REQUEST

__all__ = [
    "DAG_RUN_ID_PATTERN",
    "DETECT_AGAIN_SECONDS",
    "RUN_IDS_PER_REQUEST",
    "SEAMS",
    "SETTABLE_RUN_STATES",
    "AirflowClient",
    "AirflowConnection",
    "airflow_ui_run_url",
    "new_dag_run_id",
]


class AirflowClient(DagReads, Actions):
    """Talks to one Airflow deployment through its stable REST API.

    One instance per connection profile: it holds a pooled HTTP session and, on Airflow 3,
    the cached bearer token. Use it as a context manager or call ``close()``.
    """
