"""Fixtures of the web UI tests: a fake Airflow for the services, a DAG with real params."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_django import Settings

from controlpanel.models import Dag
from dags_api import (
    AirflowError,
    AirflowUnavailable,
    ClearedTaskInstance,
    DagRun,
    TriggerResult,
)
from dags_api import Dag as AirflowDag
from tests.world import World

# The params Airflow 2.11 reports for tests/harness/dags/cp_params_showcase.py, as the
# catalog stores them (read from the real harness: see the test_real_airflow module).
SHOWCASE_PARAMS: dict[str, Any] = {
    "batch_size": {
        "default": 100,
        "description": None,
        "schema": {"maximum": 1000, "minimum": 1, "type": "integer"},
    },
    "channels": {
        "default": ["email"],
        "description": None,
        "schema": {
            "examples": ["email", "sms", "slack"],
            "items": {"enum": ["email", "sms", "slack"], "type": "string"},
            "type": "array",
        },
    },
    "comment": {
        "default": None,
        "description": None,
        "schema": {
            "description_md": "An optional **comment** for the run log",
            "type": ["null", "string"],
        },
    },
    "customer": {
        "default": "acme",
        "description": "Lower-case customer code",
        "schema": {
            "maxLength": 30,
            "minLength": 2,
            "pattern": "^[a-z0-9_]+$",
            "section": "Who",
            "title": "Customer code",
            "type": "string",
        },
    },
    "cutoff_time": {
        "default": "06:00:00",
        "description": None,
        "schema": {"format": "time", "section": "When", "type": "string"},
    },
    "dry_run": {
        "default": False,
        "description": None,
        "schema": {"title": "Dry run", "type": "boolean"},
    },
    "legacy_limit": {"default": 7, "description": None, "schema": {}},
    "options": {"default": {"retries": 2}, "description": None, "schema": {"type": "object"}},
    "region": {
        "default": "eu",
        "description": None,
        "schema": {
            "enum": ["eu", "us", "apac"],
            "title": "Region",
            "type": "string",
            "values_display": {"apac": "Asia-Pacific", "eu": "Europe", "us": "United States"},
        },
    },
    "run_at": {
        "default": "2024-01-31T12:00:00+00:00",
        "description": None,
        "schema": {"format": "date-time", "section": "When", "type": "string"},
    },
    "run_date": {
        "default": "2024-01-31",
        "description": None,
        "schema": {"format": "date", "section": "When", "title": "Run date", "type": "string"},
    },
    "schema_version": {
        "default": 2,
        "description": None,
        "schema": {"const": 2, "type": "integer"},
    },
    "tables": {
        "default": ["orders", "customers"],
        "description": None,
        "schema": {"type": "array"},
    },
    "threshold": {
        "default": 0.5,
        "description": None,
        "schema": {"maximum": 1, "minimum": 0, "type": "number"},
    },
}


@dataclass
class FakeAirflow:
    """Stands in for ``client_for(profile)``: records calls, answers like Airflow would."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_with: AirflowError | None = None
    log_text: str = "line 1\nline 2\nRuntimeError: Deliberate failure"

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def trigger_dag_run(self, dag_id: str, **kwargs: Any) -> TriggerResult:
        self.calls.append(("trigger", {"dag_id": dag_id, **kwargs}))
        self._maybe_fail()
        now = datetime.now(UTC)
        run = DagRun(
            dag_id=dag_id,
            dag_run_id=kwargs["dag_run_id"],
            state="queued",
            logical_date=kwargs.get("logical_date") or now,
            queued_at=now,
            start_date=None,
            end_date=None,
            conf=kwargs.get("conf") or {},
            note=kwargs.get("note"),
        )
        return TriggerResult(run)

    def set_paused(self, dag_id: str, paused: bool) -> AirflowDag:
        self.calls.append(("pause", (dag_id, paused)))
        self._maybe_fail()
        return AirflowDag(dag_id, dag_id, None, paused, True, (), ())

    def clear_failed_task_instances(self, dag_id: str, dag_run_id: str) -> list[Any]:
        self.calls.append(("clear", (dag_id, dag_run_id)))
        self._maybe_fail()
        return [ClearedTaskInstance(dag_id, dag_run_id, "load")]

    def get_task_log(
        self, dag_id: str, dag_run_id: str, task_id: str, try_number: int, **kw: Any
    ) -> str:
        self.calls.append(("log", (task_id, try_number, kw.get("map_index"))))
        self._maybe_fail()
        return self.log_text

    def get_dag(self, dag_id: str) -> Any:
        self.calls.append(("get_dag", dag_id))
        raise AirflowUnavailable("Airflow could not be reached.")


@pytest.fixture
def fake_airflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAirflow]:
    """Every Airflow call of the services and views goes to one fake (no network)."""
    fake = FakeAirflow()
    for module in (
        "controlpanel.services.actions.triggering",
        "controlpanel.services.actions.operate",
        "controlpanel.services.catalog",
        "controlpanel.services.task_logs",
    ):
        monkeypatch.setattr(f"{module}.client_for", lambda profile: fake)
    yield fake


@pytest.fixture(autouse=True)
def plain_static_storage(settings: Settings) -> None:
    """Render templates without a collectstatic manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def showcase(world: World) -> Dag:
    """prod/orders_etl carrying the showcase params (operate_user may operate it)."""
    dag = world.dag("prod/orders_etl")
    dag.params = SHOWCASE_PARAMS
    dag.params_synced_at = datetime.now(UTC)
    dag.save()
    return dag
