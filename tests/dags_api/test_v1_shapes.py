"""Pure parsing of Airflow 2.11 ``/api/v1`` payloads into the client's typed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dags_api import DagParam
from dags_api.v1 import AirflowV1, parse_datetime

PARAM_CLASS = "airflow.models.param.Param"

# The shape of GET /api/v1/dags/{id}/details in Airflow 2.11 (params keys sorted by name).
DAG_DETAILS: dict[str, Any] = {
    "dag_id": "cp_params_showcase",
    "dag_display_name": "Params showcase",
    "description": "Every kind of param the trigger form must render",
    "is_paused": True,
    "is_active": True,
    "tags": [{"name": "showcase"}, {"name": "finance"}],
    "owners": ["data-team"],
    "fileloc": "/opt/airflow/dags/cp_params_showcase.py",
    "timetable_description": "Never, external triggers only",
    "has_import_errors": False,
    "next_dagrun": None,
    "doc_md": "# Params showcase",
    "start_date": "2026-01-01T00:00:00",
    "catchup": False,
    "max_active_runs": 1,
    "params": {
        "count": {
            "__class": PARAM_CLASS,
            "value": 10,
            "description": "How many rows to load",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "title": "Rows"},
        },
        "day": {
            "__class": PARAM_CLASS,
            "value": None,
            "description": None,
            "schema": {"type": "string", "format": "date"},
        },
        "mode": {
            "__class": PARAM_CLASS,
            "value": "fast",
            "description": "Load strategy",
            "schema": {
                "type": "string",
                "enum": ["fast", "full"],
                "values_display": {"fast": "Fast", "full": "Full reload"},
                "section": "Advanced",
            },
        },
        "targets": {
            "__class": PARAM_CLASS,
            "value": ["warehouse", "lake"],
            "description": None,
            "schema": {},
        },
    },
}


@pytest.fixture
def api() -> AirflowV1:
    return AirflowV1()


def test_dag_details_params_become_dag_params(api: AirflowV1) -> None:
    details = api.parse_dag_details(DAG_DETAILS)

    assert list(details.params) == ["count", "day", "mode", "targets"]
    assert details.params["count"] == DagParam(
        name="count",
        default=10,
        description="How many rows to load",
        schema={"type": "integer", "minimum": 1, "maximum": 100, "title": "Rows"},
    )
    assert details.params["day"].default is None
    assert details.params["day"].schema == {"type": "string", "format": "date"}
    mode = details.params["mode"]
    assert mode.default == "fast"
    assert mode.schema["values_display"] == {"fast": "Fast", "full": "Full reload"}
    assert mode.schema["section"] == "Advanced"
    assert "__class" not in mode.schema
    # No type in the schema: the default is all there is to infer the type from.
    assert details.params["targets"].default == ["warehouse", "lake"]
    assert details.params["targets"].schema == {}


def test_dag_details_fields(api: AirflowV1) -> None:
    details = api.parse_dag_details(DAG_DETAILS)

    assert details.dag_id == "cp_params_showcase"
    assert details.display_name == "Params showcase"
    assert details.is_paused is True
    assert details.tags == ("finance", "showcase")
    assert details.owners == ("data-team",)
    assert details.doc_md == "# Params showcase"
    assert details.max_active_runs == 1
    assert details.next_dagrun is None


def test_display_name_falls_back_to_dag_id(api: AirflowV1) -> None:
    dag = api.parse_dag({"dag_id": "etl_daily", "dag_display_name": None, "tags": None})

    assert dag.display_name == "etl_daily"
    assert dag.tags == ()


def test_datetimes_without_offset_become_utc(api: AirflowV1) -> None:
    details = api.parse_dag_details(DAG_DETAILS)

    assert details.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert details.start_date is not None and details.start_date.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T07:50:01.123456+00:00", datetime(2026, 11, 24, 7, 50, 1, 123456, UTC)),
        ("2026-11-24T07:50:01Z", datetime(2026, 11, 24, 7, 50, 1, tzinfo=UTC)),
        ("2026-11-24T07:50:01", datetime(2026, 11, 24, 7, 50, 1, tzinfo=UTC)),
        (
            "2026-11-24T09:50:01+02:00",
            datetime(2026, 11, 24, 9, 50, 1, tzinfo=timezone(timedelta(hours=2))),
        ),
        (None, None),
        ("", None),
    ],
)
def test_parse_datetime_is_always_aware(text: str | None, expected: datetime | None) -> None:
    parsed = parse_datetime(text)

    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_dag_run_without_offsets_is_aware(api: AirflowV1) -> None:
    run = api.parse_dag_run(
        {
            "dag_id": "etl_daily",
            "dag_run_id": "manual__2026-11-24T07:50:01",
            "state": "running",
            "logical_date": None,
            "execution_date": "2026-11-24T07:50:01",
            "queued_at": "2026-11-24T07:50:02",
            "start_date": "2026-11-24T07:50:03",
            "end_date": None,
            "conf": None,
        }
    )

    assert run.logical_date == datetime(2026, 11, 24, 7, 50, 1, tzinfo=UTC)
    assert run.start_date == datetime(2026, 11, 24, 7, 50, 3, tzinfo=UTC)
    assert run.conf == {}
    assert run.is_finished is False


def test_health_with_unhealthy_scheduler_and_no_triggerer(api: AirflowV1) -> None:
    health = api.parse_health(
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {
                "status": "unhealthy",
                "latest_scheduler_heartbeat": "2026-11-24T07:40:00.000000+00:00",
            },
            "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
            "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
        }
    )

    assert health.metadatabase_healthy is True
    assert health.scheduler_healthy is False
    assert health.scheduler_latest_heartbeat == datetime(2026, 11, 24, 7, 40, tzinfo=UTC)
    assert health.triggerer_healthy is None  # no triggerer running is not "unhealthy"
    assert health.dag_processor_healthy is None


def test_health_all_healthy(api: AirflowV1) -> None:
    health = api.parse_health(
        {
            "metadatabase": {"status": "healthy"},
            "scheduler": {
                "status": "healthy",
                "latest_scheduler_heartbeat": "2026-11-24T07:50:01.123456",
            },
            "triggerer": {
                "status": "healthy",
                "latest_triggerer_heartbeat": "2026-11-24T07:50:00+00:00",
            },
        }
    )

    assert health.metadatabase_healthy and health.scheduler_healthy
    assert health.triggerer_healthy is True
    assert health.dag_processor_healthy is None
    assert health.scheduler_latest_heartbeat is not None
    assert health.scheduler_latest_heartbeat.tzinfo is not None


@pytest.mark.parametrize(
    ("detail", "clash"),
    [
        ("DAGRun with DAG ID: 'etl' and DAGRun ID: 'manual__x' already exists", "dag_run_id"),
        (
            "DAGRun with DAG ID: 'etl' and DAGRun logical date: "
            "'2026-11-24 00:00:00+00:00' already exists",
            "logical_date",
        ),
        ("Something else entirely", "unknown"),
    ],
)
def test_conflict_clash_from_airflows_409_detail(api: AirflowV1, detail: str, clash: str) -> None:
    assert api.conflict_clash(detail) == clash


@pytest.mark.parametrize(
    ("run_type", "expected_hour"),
    [("manual", 1), ("scheduled", 2)],
)
def test_run_after_is_filled_in_as_airflow_3_means_it(
    api: AirflowV1, run_type: str, expected_hour: int
) -> None:
    run = api.parse_dag_run(
        {
            "dag_id": "etl",
            "dag_run_id": "r1",
            "state": "queued",
            "run_type": run_type,
            "logical_date": "2026-11-24T01:00:00+00:00",
            "data_interval_start": "2026-11-24T01:00:00+00:00",
            "data_interval_end": "2026-11-24T02:00:00+00:00",
        }
    )
    assert run.run_after == datetime(2026, 11, 24, expected_hour, tzinfo=UTC)
