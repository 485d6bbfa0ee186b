"""Airflow 3 (``/api/v2``) shapes and behaviour a real Airflow cannot be made to show on demand.

Detection, token expiry and renewal, error bodies of other databases and parsing corner
cases. HTTP is mocked with ``responses``; everything a real Airflow 3 shows is also tested
against one in ``test_against_airflow.py``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from dags_api import (
    AirflowAuthError,
    AirflowClient,
    AirflowConflict,
    AirflowServerError,
    AirflowUnavailable,
    AirflowValidationError,
    BasicAuth,
    BearerToken,
    ConnectionSettings,
    Credentials,
)
from dags_api.tokens import jwt_expiry

BASE = "https://airflow3.example.test"
API = f"{BASE}/api/v2"
API1 = f"{BASE}/api/v1"
TOKEN_URL = f"{BASE}/auth/token"

ClientFactory = Callable[..., AirflowClient]

pytestmark = pytest.mark.timeout(10)


def jwt(exp: float | None = None, sub: str = "admin") -> str:
    """An unsigned JWT-shaped token; the client reads ``exp`` without checking signatures."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {"sub": sub}
    if exp is not None:
        claims["exp"] = exp
    return f"{part({'alg': 'HS512', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    clients: list[AirflowClient] = []

    def make(
        credentials: Credentials | None = None, api_version: str = "v2", **overrides: Any
    ) -> AirflowClient:
        settings = ConnectionSettings(
            BASE,
            credentials or BasicAuth("panel", "s3cret"),
            api_version=api_version,  # type: ignore[arg-type]
            **overrides,
        )
        client = AirflowClient(settings, sleep=lambda seconds: None)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def login(http: responses.RequestsMock, *tokens: str) -> None:
    """Answer ``POST /auth/token`` with ``tokens``, one per request, as Airflow 3 does (201)."""
    for token in tokens:
        http.post(TOKEN_URL, json={"access_token": token}, status=201)


def run_payload(dag_run_id: str = "r1", **fields: Any) -> dict[str, Any]:
    """A run as Airflow 3.1 serializes it."""
    return {
        "dag_run_id": dag_run_id,
        "dag_id": "etl",
        "logical_date": None,
        "queued_at": "2026-11-24T08:00:00.1Z",
        "start_date": None,
        "end_date": None,
        "duration": None,
        "data_interval_start": None,
        "data_interval_end": None,
        "run_after": "2026-11-24T08:00:00Z",
        "last_scheduling_decision": None,
        "run_type": "manual",
        "state": "queued",
        "triggered_by": "rest_api",
        "triggering_user_name": "panel",
        "conf": {},
        "note": None,
        "dag_versions": [],
        "bundle_version": None,
        "dag_display_name": "etl",
        **fields,
    }


def dag_payload(dag_id: str = "etl", **fields: Any) -> dict[str, Any]:
    """A DAG as Airflow 3.1 lists it (``is_stale``, ``next_dagrun_logical_date``)."""
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "is_paused": False,
        "is_stale": False,
        "last_parsed_time": "2026-11-24T08:00:00Z",
        "fileloc": f"/dags/{dag_id}.py",
        "description": None,
        "timetable_description": "Never, external triggers only",
        "tags": [{"name": "b", "dag_id": dag_id}, {"name": "a", "dag_id": dag_id}],
        "owners": ["airflow"],
        "has_import_errors": False,
        "next_dagrun_logical_date": None,
        "next_dagrun_run_after": None,
        **fields,
    }


# --- detection ----------------------------------------------------------------------------


def test_auto_detects_airflow_3_once_and_uses_api_v2(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/version", json={"version": "3.1.8", "git_version": None})
    login(http, jwt())
    http.get(f"{API}/dags", json={"dags": [dag_payload()], "total_entries": 1})
    http.get(f"{API}/dags", json={"dags": [dag_payload()], "total_entries": 1})
    client = make_client(api_version="auto")

    assert [d.dag_id for d in client.list_dags()] == ["etl"]
    assert [d.dag_id for d in client.list_dags()] == ["etl"]
    assert client.api_version == "v2"
    probe = http.calls[0].request
    assert probe.url == f"{API}/version"
    assert "Authorization" not in probe.headers  # the probe sends no credentials
    assert [str(c.request.url).split("?")[0] for c in http.calls[1:]] == [
        TOKEN_URL,
        f"{API}/dags",
        f"{API}/dags",
    ]


def test_auto_falls_back_to_api_v1_on_airflow_2(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/version", body="<html>Not Found</html>", status=404)
    http.get(f"{API1}/version", json={"version": "2.11.0"})
    client = make_client(api_version="auto")
    assert client.detect_api_version() == "v1"
    assert client.api_version == "v1"
    assert len(http.calls) == 2  # detected once, remembered


def test_detection_reports_an_airflow_answering_neither_version(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/version", status=404, json={"detail": "Not Found"})
    http.get(f"{API1}/version", status=500, body="<html>Oops</html>")
    with pytest.raises(AirflowServerError) as err:
        make_client(api_version="auto").detect_api_version()
    assert "internal error" in err.value.user_message


def test_an_unreachable_airflow_is_guessed_v1_and_detected_again_later(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    client = make_client(api_version="auto", max_retries=0)
    with pytest.raises(AirflowUnavailable):
        client.detect_api_version()  # nothing mocked: refused
    assert client.api_version == "v1"  # the guess while Airflow cannot be asked
    assert client._api is None  # not remembered: asked again later


def test_explicit_v2_never_probes(http: responses.RequestsMock, make_client: ClientFactory) -> None:
    http.get(f"{API}/version", json={"version": "3.1.8"})
    client = make_client(api_version="v2")
    assert client.api_version == "v2"
    assert client.version().major == 3
    assert len(http.calls) == 1


# --- tokens -------------------------------------------------------------------------------


def test_username_and_password_become_a_cached_bearer_token(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    token = jwt(exp=datetime.now(UTC).timestamp() + 3600)
    login(http, token)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    client = make_client()

    client.get_dag_run("etl", "r1")
    client.get_dag_run("etl", "r1")

    login_request = http.calls[0].request
    assert json.loads(login_request.body or b"{}") == {"username": "panel", "password": "s3cret"}
    assert "Authorization" not in login_request.headers  # no basic auth on Airflow 3
    for call in http.calls[1:]:
        assert call.request.headers["Authorization"] == f"Bearer {token}"
    assert client.transport.tokens is not None and client.transport.tokens.fetch_count == 1


def test_a_token_about_to_expire_is_renewed_before_use(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    soon = jwt(exp=datetime.now(UTC).timestamp() + 30)  # inside the renewal margin
    later = jwt(exp=datetime.now(UTC).timestamp() + 3600, sub="again")
    login(http, soon, later)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    client = make_client()

    client.get_dag_run("etl", "r1")  # fetches `soon`, renews at once: it expires too soon
    client.get_dag_run("etl", "r1")

    sent = [c.request.headers.get("Authorization") for c in http.calls]
    assert sent[-1] == f"Bearer {later}"


@pytest.mark.parametrize(
    ("status", "detail"), [(401, "Not authenticated"), (403, "Invalid JWT token")]
)
def test_a_refused_cached_token_is_renewed_once_and_the_request_sent_again(
    http: responses.RequestsMock, make_client: ClientFactory, status: int, detail: str
) -> None:
    login(http, jwt(sub="old"), jwt(sub="new"))
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    http.get(f"{API}/dags/etl/dagRuns/r1", json={"detail": detail}, status=status)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload(state="running"))
    client = make_client()

    client.get_dag_run("etl", "r1")
    assert client.get_dag_run("etl", "r1").state == "running"  # revoked, renewed, resent
    assert client.transport.tokens is not None and client.transport.tokens.fetch_count == 2
    assert http.calls[-1].request.headers["Authorization"] == f"Bearer {jwt(sub='new')}"


def test_a_role_refusal_is_not_retried_with_a_new_token(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    http.post(f"{API}/dags/etl/dagRuns", json={"detail": "Forbidden"}, status=403)
    client = make_client()
    client.get_dag_run("etl", "r1")

    with pytest.raises(AirflowAuthError) as err:
        client.trigger_dag_run("etl")
    assert err.value.status_code == 403
    assert len(http.calls) == 3  # login, read, one trigger: no second login, no resend


def test_wrong_password_reads_like_on_airflow_2(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.post(TOKEN_URL, json={"detail": "Invalid credentials"}, status=401)
    with pytest.raises(AirflowAuthError) as err:
        make_client().list_dags()
    assert err.value.user_message == (
        "Airflow refused the request: check the credentials or the Airflow role."
    )
    assert err.value.detail == "Invalid credentials"


def test_the_version_probe_sends_not_even_a_static_token(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/version", json={"version": "3.1.8"})
    assert make_client(BearerToken("static-tok"), api_version="auto").detect_api_version() == "v2"
    assert "Authorization" not in http.calls[0].request.headers


def test_a_static_bearer_token_is_sent_as_is(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload())
    make_client(BearerToken("static-tok")).get_dag_run("etl", "r1")
    assert len(http.calls) == 1  # no login
    assert http.calls[0].request.headers["Authorization"] == "Bearer static-tok"


def test_health_and_version_fetch_no_token(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    health = {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-11-24T08:00:00Z"},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": None},
    }
    http.get(f"{API}/monitor/health", json=health)
    http.get(f"{API}/version", json={"version": "3.1.8"})
    client = make_client()
    status = client.health()
    assert client.version().version == "3.1.8"
    assert status.scheduler_healthy and status.dag_processor_healthy is True
    assert status.triggerer_healthy is None
    assert len(http.calls) == 2


def test_jwt_expiry_is_read_without_verifying() -> None:
    assert jwt_expiry(jwt(exp=1_900_000_000)) == 1_900_000_000
    assert jwt_expiry(jwt()) is None
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.c") is None


# --- request shapes -------------------------------------------------------------------------


def test_trigger_always_sends_logical_date_null_when_not_given(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    http.post(f"{API}/dags/etl/dagRuns", json=run_payload())
    http.post(f"{API}/dags/etl/dagRuns", json=run_payload("r2"))
    client = make_client()
    client.trigger_dag_run("etl", conf={"a": 1})
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    client.trigger_dag_run("etl", dag_run_id="r2", logical_date=when, note="hi")

    first, second = (json.loads(c.request.body or b"{}") for c in http.calls[1:])
    assert first == {"conf": {"a": 1}, "logical_date": None}
    assert second == {
        "conf": {},
        "logical_date": "2030-01-02T03:04:05+00:00",
        "dag_run_id": "r2",
        "note": "hi",
    }


def test_dag_list_sends_repeated_tags_and_exclude_stale(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    stale = dag_payload("old", is_stale=True, next_dagrun_logical_date="2030-01-01T00:00:00Z")
    http.get(f"{API}/dags", json={"dags": [stale], "total_entries": 1})
    [dag] = make_client().list_dags(tags=["a", "b"], paused=False, only_active=False)

    query = parse_qs(urlsplit(str(http.calls[1].request.url)).query)
    assert query["tags"] == ["a", "b"]
    assert query["tags_match_mode"] == ["any"]
    assert query["exclude_stale"] == ["false"]
    assert query["paused"] == ["false"]
    assert "only_active" not in query
    assert dag.is_active is False
    assert dag.tags == ("a", "b")
    assert dag.next_dagrun == datetime(2030, 1, 1, tzinfo=UTC)


def test_clear_sends_every_flag_whatever_the_defaults(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    ti = {"dag_id": "etl", "dag_run_id": "r1", "task_id": "load", "map_index": -1}
    http.post(f"{API}/dags/etl/clearTaskInstances", json={"task_instances": [ti]})
    cleared = make_client().clear_failed_task_instances("etl", "r1")

    assert [c.task_id for c in cleared] == ["load"]
    assert json.loads(http.calls[1].request.body or b"{}") == {
        "dry_run": False,
        "dag_run_id": "r1",
        "only_failed": True,
        "only_running": False,
        "reset_dag_runs": True,
        "include_upstream": False,
        "include_downstream": False,
        "include_future": False,
        "include_past": False,
    }


# --- error shapes ---------------------------------------------------------------------------


def test_422_field_errors_become_a_validation_error(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    detail = [
        {
            "type": "timezone_aware",
            "loc": ["body", "logical_date"],
            "msg": "Input should have timezone info",
            "input": "2030-01-01T00:00:00",
        }
    ]
    http.post(f"{API}/dags/etl/dagRuns", json={"detail": detail}, status=422)
    with pytest.raises(AirflowValidationError) as err:
        make_client().trigger_dag_run("etl")
    assert err.value.status_code == 422
    assert err.value.param is None
    assert err.value.user_message == (
        "Airflow rejected the request: logical_date: Input should have timezone info"
    )


def test_422_naming_a_conf_param_reads_like_airflow_2s_param_error(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    detail = [{"type": "int_type", "loc": ["body", "conf", "rows"], "msg": "not an integer"}]
    http.post(f"{API}/dags/etl/dagRuns", json={"detail": detail}, status=422)
    with pytest.raises(AirflowValidationError) as err:
        make_client().trigger_dag_run("etl", conf={"rows": "many"})
    assert err.value.param == "rows"
    assert err.value.user_message == "The value of 'rows' is not valid: not an integer"


def test_param_errors_read_the_same_on_both_versions(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    message = "Invalid input for param rows: 'many' is not of type 'integer'\n\nFailed validating"
    http.post(f"{API1}/dags/etl/dagRuns", json={"detail": message, "status": 400}, status=400)
    login(http, jwt())
    http.post(f"{API}/dags/etl/dagRuns", json={"detail": message}, status=400)

    errors = []
    for version in ("v1", "v2"):
        with pytest.raises(AirflowValidationError) as err:
            make_client(api_version=version).trigger_dag_run("etl", conf={"rows": "many"})
        errors.append((err.value.user_message, err.value.param))
    assert (
        errors[0]
        == errors[1]
        == (
            "The value of 'rows' is not valid: 'many' is not of type 'integer'",
            "rows",
        )
    )


def unique_violation(orig_error: str) -> dict[str, Any]:
    """Airflow 3's 409: the database's unique-constraint error in an object ``detail``."""
    return {
        "detail": {
            "reason": "Unique constraint violation",
            "statement": "INSERT INTO dag_run (dag_id, logical_date, run_id) VALUES (?, ?, ?)",
            "orig_error": orig_error,
            "message": "Serious error when handling your request. Check logs for more details",
        }
    }


@pytest.mark.parametrize(
    ("orig_error", "clash"),
    [
        ("UNIQUE constraint failed: dag_run.dag_id, dag_run.run_id", "dag_run_id"),
        (
            'duplicate key value violates unique constraint "dag_run_dag_id_run_id_key"',
            "dag_run_id",
        ),
        ("Duplicate entry 'etl-r1' for key 'dag_run.dag_run_dag_id_run_id_key'", "dag_run_id"),
        ("UNIQUE constraint failed: dag_run.dag_id, dag_run.logical_date", "logical_date"),
        (
            'duplicate key value violates unique constraint "dag_run_dag_id_logical_date_key"',
            "logical_date",
        ),
    ],
)
def test_409_object_detail_tells_which_field_clashed(
    http: responses.RequestsMock, make_client: ClientFactory, orig_error: str, clash: str
) -> None:
    login(http, jwt())
    when = datetime(2030, 1, 1, tzinfo=UTC)
    http.post(f"{API}/dags/etl/dagRuns", json=unique_violation(orig_error), status=409)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload(conf={"other": 1}))
    with pytest.raises(AirflowConflict) as err:
        make_client().trigger_dag_run("etl", dag_run_id="r1", logical_date=when)
    assert err.value.clash == clash
    assert "INSERT" not in err.value.detail  # the SQL stays in Airflow's log
    assert orig_error in err.value.detail


def test_conflict_messages_read_the_same_on_both_versions(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    v1_detail = "DAGRun with DAG ID: 'etl' and DAGRun ID: 'r1' already exists"
    http.post(f"{API1}/dags/etl/dagRuns", json={"detail": v1_detail}, status=409)
    http.get(f"{API1}/dags/etl/dagRuns/r1", json=run_payload(conf={"other": 1}))
    login(http, jwt())
    v2_body = unique_violation("UNIQUE constraint failed: dag_run.dag_id, dag_run.run_id")
    http.post(f"{API}/dags/etl/dagRuns", json=v2_body, status=409)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload(conf={"other": 1}))

    messages = []
    for version in ("v1", "v2"):
        with pytest.raises(AirflowConflict) as err:
            make_client(api_version=version).trigger_dag_run("etl", dag_run_id="r1")
        messages.append((err.value.user_message, err.value.clash))
    assert messages[0] == messages[1]
    assert messages[0][1] == "dag_run_id"


def test_a_retried_trigger_that_already_created_its_run_is_recognised(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    v2_body = unique_violation("UNIQUE constraint failed: dag_run.dag_id, dag_run.run_id")
    http.post(f"{API}/dags/etl/dagRuns", json=v2_body, status=409)
    http.get(f"{API}/dags/etl/dagRuns/r1", json=run_payload(conf={"a": 1}))
    result = make_client().trigger_dag_run("etl", conf={"a": 1}, dag_run_id="r1")
    assert result.already_existed is True
    assert result.run.logical_date is None and result.run.run_after is not None


# --- response shapes ------------------------------------------------------------------------


def test_run_fields_map_to_the_common_shape(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    payload = run_payload(run_type="scheduled", logical_date="2030-01-01T00:00:00Z")
    http.get(f"{API}/dags/etl/dagRuns/r1", json=payload)
    run = make_client().get_dag_run("etl", "r1")
    assert run.external_trigger is False  # Airflow 3 has no such field: run_type tells
    assert run.logical_date == datetime(2030, 1, 1, tzinfo=UTC)
    assert run.run_after == datetime(2026, 11, 24, 8, tzinfo=UTC)


def test_task_duration_comes_from_its_dates(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    ti = {
        "dag_id": "etl",
        "dag_run_id": "r1",
        "task_id": "load",
        "map_index": -1,
        "try_number": 1,
        "state": "success",
        "start_date": "2026-11-24T08:36:58.966092Z",
        "end_date": "2026-11-24T08:37:00.048101Z",
        "duration": -56.918,  # what Airflow 3.1.8 on SQLite reported for this task
        "operator": "PythonOperator",
    }
    http.get(
        f"{API}/dags/etl/dagRuns/r1/taskInstances",
        json={"task_instances": [ti], "total_entries": 1},
    )
    [parsed] = make_client().list_task_instances("etl", "r1")
    assert parsed.duration == pytest.approx(1.082009)


def test_log_events_become_plain_text(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    content = [
        {"event": "::group::Log message source details", "sources": ["/logs/attempt=1.log"]},
        {"event": "::endgroup::"},
        {
            "timestamp": "2026-11-24T08:37:00.048219Z",
            "event": "hello panel",
            "level": "info",
            "logger": "task.stdout",
        },
        {
            "timestamp": "2026-11-24T08:37:00.894858Z",
            "event": "Task failed with exception",
            "level": "error",
            "logger": "task",
            "filename": "task_runner.py",
            "lineno": 1186,
            "error_detail": [
                {
                    "exc_type": "RuntimeError",
                    "exc_value": "Deliberate failure",
                    "frames": [{"filename": "/dags/etl.py", "lineno": 13, "name": "_step"}],
                }
            ],
        },
        "a line that is already text",
    ]
    url = f"{API}/dags/etl/dagRuns/r1/taskInstances/t/logs/1"
    http.get(url, json={"content": content, "continuation_token": None})
    text = make_client().get_task_log("etl", "r1", "t", 1, map_index=2)

    assert http.calls[1].request.headers["Accept"] == "application/json"  # 406 on text/plain
    assert parse_qs(urlsplit(str(http.calls[1].request.url)).query)["map_index"] == ["2"]
    assert text.splitlines() == [
        "*** Found local files:",
        "***   * /logs/attempt=1.log",
        "[2026-11-24T08:37:00.048219Z] {task.stdout} INFO - hello panel",
        "[2026-11-24T08:37:00.894858Z] {task_runner.py:1186} ERROR - Task failed with exception",
        "Traceback (most recent call last):",
        '  File "/dags/etl.py", line 13, in _step',
        "RuntimeError: Deliberate failure",
        "a line that is already text",
    ]


def test_a_log_sent_as_one_string_is_returned_as_is(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    url = f"{API}/dags/etl/dagRuns/r1/taskInstances/t/logs/1"
    http.get(url, json={"content": "line one\nline two\n", "continuation_token": None})
    assert make_client().get_task_log("etl", "r1", "t", 1) == "line one\nline two\n"


def test_an_unreadable_log_answer_is_a_server_error(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    login(http, jwt())
    url = f"{API}/dags/etl/dagRuns/r1/taskInstances/t/logs/1"
    http.get(url, body="<html>proxy page</html>")
    with pytest.raises(AirflowServerError):
        make_client().get_task_log("etl", "r1", "t", 1)


def test_settings_refuse_an_unknown_api_version() -> None:
    with pytest.raises(ValueError, match="api_version"):
        ConnectionSettings(BASE, api_version="v9")  # type: ignore[arg-type]
