"""dags_api keeps its public names where scripts import them from, and no Django inside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dags_api
from dags_api import client

REPO_ROOT = Path(__file__).resolve().parents[2]

# What a script could import from dags_api.client before the calls were grouped in modules.
CLIENT_NAMES = (
    "DAG_RUN_ID_PATTERN",
    "DETECT_AGAIN_SECONDS",
    "RUN_IDS_PER_REQUEST",
    "SEAMS",
    "SETTABLE_RUN_STATES",
    "AirflowClient",
    "airflow_ui_run_url",
    "new_dag_run_id",
)
CALLS = (
    "health",
    "version",
    "detect_api_version",
    "list_dags",
    "get_dag",
    "get_dag_source",
    "list_import_errors",
    "pause",
    "unpause",
    "set_paused",
    "trigger_dag_run",
    "get_dag_run",
    "list_dag_runs",
    "set_dag_run_state",
    "list_task_instances",
    "list_task_instances_batch",
    "get_task_log",
    "clear_failed_task_instances",
    "close",
)


def test_every_public_name_is_importable_from_both_places() -> None:
    for name in dags_api.__all__:
        assert hasattr(dags_api, name), name
    for name in CLIENT_NAMES:
        assert hasattr(client, name), name
    assert dags_api.AirflowClient is client.AirflowClient
    assert dags_api.new_dag_run_id is client.new_dag_run_id


def test_the_client_has_every_call_the_readme_lists() -> None:
    missing = [name for name in CALLS if not callable(getattr(client.AirflowClient, name, None))]
    assert missing == []


def test_a_script_imports_dags_api_without_django() -> None:
    script = (
        "import sys\n"
        "from dags_api import AirflowClient, BasicAuth, ConnectionSettings, new_dag_run_id\n"
        "from dags_api.client import DAG_RUN_ID_PATTERN\n"
        "settings = ConnectionSettings('https://airflow.example.com', BasicAuth('p', 's'))\n"
        "with AirflowClient(settings) as airflow:\n"
        "    assert DAG_RUN_ID_PATTERN.match(new_dag_run_id())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
