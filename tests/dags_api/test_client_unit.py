"""Client behaviour a real Airflow cannot be made to show on demand.

Safe trigger retries after a lost answer, paging over many pages, URL building, and the
checks the client makes before anything is sent. HTTP is mocked with ``responses``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from dags_api import (
    AirflowClient,
    AirflowConflict,
    AirflowServerError,
    AirflowUnavailable,
    AirflowValidationError,
    BasicAuth,
    BearerToken,
    ConnectionSettings,
    Credentials,
    InsecureConnectionError,
)

BASE = "https://airflow.example.test"
API = f"{BASE}/api/v1"
RUN_ID = "panel__2026-11-24T07:50:01.123456+00:00__a1b2c3d4e5f60718"
# The run id as it must appear in a URL path: ':' and '+' percent-encoded.
RUN_ID_IN_PATH = "panel__2026-11-24T07%3A50%3A01.123456%2B00%3A00__a1b2c3d4e5f60718"

ClientFactory = Callable[..., AirflowClient]

# A paging regression must fail, not loop: an unmatched request fails at once.
pytestmark = pytest.mark.timeout(10)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[ClientFactory]:
    clients: list[AirflowClient] = []

    def make(
        base_url: str = BASE, credentials: Credentials | None = None, **overrides: Any
    ) -> AirflowClient:
        settings = ConnectionSettings(
            base_url,
            credentials or BasicAuth("panel", "s3cret"),
            **{"api_version": "v1", **overrides},
        )
        client = AirflowClient(settings, sleep=sleeps.append)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def run_payload(
    dag_run_id: str = RUN_ID, conf: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """A run as Airflow 2.11 serializes it."""
    return {
        "dag_id": "etl_daily",
        "dag_run_id": dag_run_id,
        "state": "queued",
        "logical_date": "2026-11-24T07:50:01.123456+00:00",
        "execution_date": "2026-11-24T07:50:01.123456+00:00",
        "queued_at": "2026-11-24T07:50:01.200000+00:00",
        "start_date": None,
        "end_date": None,
        "data_interval_start": "2026-11-24T07:50:01.123456+00:00",
        "data_interval_end": "2026-11-24T07:50:01.123456+00:00",
        "last_scheduling_decision": None,
        "run_type": "manual",
        "external_trigger": True,
        "conf": conf if conf is not None else {"day": "2026-11-24"},
        "note": None,
        **fields,
    }


def conflict(detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Conflict", "status": 409, "detail": detail}


def query_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def body_of(call: Any) -> dict[str, Any]:
    return json.loads(call.request.body)


# --- triggers --------------------------------------------------------------------------


def test_trigger_sends_conf_run_id_and_aware_logical_date(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.post(f"{API}/dags/etl_daily/dagRuns", json=run_payload())
    logical_date = datetime(2026, 11, 24, 9, 0, tzinfo=timezone(timedelta(hours=2)))

    result = make_client().trigger_dag_run(
        "etl_daily",
        conf={"day": "2026-11-24"},
        dag_run_id=RUN_ID,
        logical_date=logical_date,
        note="from the panel",
    )

    assert result.already_existed is False
    assert result.run.dag_run_id == RUN_ID
    assert body_of(http.calls[0]) == {
        "conf": {"day": "2026-11-24"},
        "dag_run_id": RUN_ID,
        "logical_date": "2026-11-24T09:00:00+02:00",
        "note": "from the panel",
    }


def test_trigger_without_run_id_is_sent_once_on_gateway_error(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    http.post(
        f"{API}/dags/etl_daily/dagRuns",
        status=502,
        body="<html><head><title>502 Bad Gateway</title></head></html>",
    )

    with pytest.raises(AirflowServerError) as caught:
        make_client().trigger_dag_run("etl_daily", conf={"day": "2026-11-24"})

    assert caught.value.status_code == 502
    assert len(http.calls) == 1  # a blind retry could start the DAG twice
    assert sleeps == []


def test_trigger_without_run_id_is_sent_once_on_connection_error(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.post(
        f"{API}/dags/etl_daily/dagRuns",
        body=requests.exceptions.ConnectionError("Connection reset by peer"),
    )

    with pytest.raises(AirflowUnavailable):
        make_client().trigger_dag_run("etl_daily")

    assert len(http.calls) == 1


def test_trigger_retry_after_lost_answer_finds_the_run_it_created(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    trigger_url = f"{API}/dags/etl_daily/dagRuns"
    http.post(trigger_url, body=requests.exceptions.ConnectionError("Connection reset by peer"))
    http.post(
        trigger_url,
        status=409,
        content_type="application/problem+json",
        json=conflict(f"DAGRun with DAG ID: 'etl_daily' and DAGRun ID: '{RUN_ID}' already exists"),
    )
    http.get(f"{trigger_url}/{RUN_ID_IN_PATH}", json=run_payload(conf={"day": "2026-11-24"}))

    result = make_client().trigger_dag_run(
        "etl_daily", conf={"day": "2026-11-24"}, dag_run_id=RUN_ID
    )

    assert result.already_existed is True
    assert result.run.dag_run_id == RUN_ID
    assert result.run.conf == {"day": "2026-11-24"}
    assert [call.request.method for call in http.calls] == ["POST", "POST", "GET"]
    assert sleeps == [0.5]


def test_trigger_conflict_with_a_different_conf_is_reported_as_a_run_id_clash(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    trigger_url = f"{API}/dags/etl_daily/dagRuns"
    http.post(trigger_url, body=requests.exceptions.ConnectionError("Connection reset by peer"))
    http.post(
        trigger_url,
        status=409,
        content_type="application/problem+json",
        json=conflict(f"DAGRun with DAG ID: 'etl_daily' and DAGRun ID: '{RUN_ID}' already exists"),
    )
    http.get(f"{trigger_url}/{RUN_ID_IN_PATH}", json=run_payload(conf={"day": "2026-01-01"}))

    with pytest.raises(AirflowConflict) as caught:
        make_client().trigger_dag_run("etl_daily", conf={"day": "2026-11-24"}, dag_run_id=RUN_ID)

    error = caught.value
    assert error.clash == "dag_run_id"
    assert RUN_ID in error.user_message
    assert "different configuration" in error.user_message
    assert "already exists" in error.detail


def test_trigger_conflict_on_logical_date_names_the_date(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    trigger_url = f"{API}/dags/etl_daily/dagRuns"
    http.post(
        trigger_url,
        status=409,
        content_type="application/problem+json",
        json=conflict(
            "DAGRun with DAG ID: 'etl_daily' and DAGRun logical date: "
            "'2026-11-24 00:00:00+00:00' already exists"
        ),
    )
    http.get(
        f"{trigger_url}/{RUN_ID_IN_PATH}",
        status=404,
        content_type="application/problem+json",
        json={
            "type": "about:blank",
            "title": "DAGRun not found",
            "status": 404,
            "detail": f"DAGRun with DAG ID: 'etl_daily' and DagRun ID: '{RUN_ID}' not found",
        },
    )

    with pytest.raises(AirflowConflict) as caught:
        make_client().trigger_dag_run(
            "etl_daily", dag_run_id=RUN_ID, logical_date=datetime(2026, 11, 24, tzinfo=UTC)
        )

    assert caught.value.clash == "logical_date"
    assert "2026-11-24T00:00:00+00:00" in caught.value.user_message
    assert "logical date" in caught.value.user_message


def test_clear_failed_tasks_is_never_retried(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    http.post(
        f"{API}/dags/etl_daily/clearTaskInstances",
        status=503,
        body="<html><title>503 Service Unavailable</title></html>",
    )

    with pytest.raises(AirflowServerError):
        make_client().clear_failed_task_instances("etl_daily", RUN_ID)

    assert len(http.calls) == 1
    assert sleeps == []
    # Airflow defaults to a dry run: the body must ask for the real thing.
    assert body_of(http.calls[0]) == {
        "dry_run": False,
        "dag_run_id": RUN_ID,
        "only_failed": True,
        "reset_dag_runs": True,
    }


# --- paging and URLs -------------------------------------------------------------------


def dag_payload(dag_id: str) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "description": None,
        "is_paused": False,
        "is_active": True,
        "tags": [],
        "owners": ["airflow"],
    }


def test_list_dags_walks_offsets_until_total_entries(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    for offset in (0, 100, 200):
        page_items = [dag_payload(f"dag_{offset + i:03d}") for i in range(100)]
        http.get(
            f"{API}/dags",
            json={"dags": page_items, "total_entries": 300},
            match=[matchers.query_param_matcher({"offset": str(offset)}, strict_match=False)],
        )

    dags = make_client().list_dags()

    assert len(dags) == 300
    assert len({dag.dag_id for dag in dags}) == 300
    # Three full pages and total_entries reached: no fourth request.
    assert [query_of(call)["offset"] for call in http.calls] == [["0"], ["100"], ["200"]]
    assert all(query_of(call)["limit"] == ["100"] for call in http.calls)


def test_list_dags_sends_each_tag_as_its_own_query_key(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/dags", json={"dags": [dag_payload("etl_daily")], "total_entries": 1})

    make_client().list_dags(tags=["finance", "daily"], paused=False)

    query = query_of(http.calls[0])
    assert query["tags"] == ["finance", "daily"]
    assert query["paused"] == ["false"]


def test_list_dag_runs_posts_the_batch_endpoint_and_walks_pages(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    url = f"{API}/dags/~/dagRuns/list"
    for offset, count in ((0, 100), (100, 50)):
        page_items = [run_payload(f"run_{i:03d}") for i in range(offset, offset + count)]
        http.post(
            url,
            json={"dag_runs": page_items, "total_entries": 150},
            match=[matchers.json_params_matcher({"page_offset": offset}, strict_match=False)],
        )

    runs = make_client().list_dag_runs(dag_ids=["etl_daily", "cp_quick"], states=["running"])

    assert [run.dag_run_id for run in runs] == [f"run_{i:03d}" for i in range(150)]
    assert [urlsplit(call.request.url).path for call in http.calls] == [
        "/api/v1/dags/~/dagRuns/list"
    ] * 2
    bodies = [body_of(call) for call in http.calls]
    assert [body["page_offset"] for body in bodies] == [0, 100]
    assert all(body["page_limit"] == 100 for body in bodies)
    assert bodies[0]["dag_ids"] == ["etl_daily", "cp_quick"]
    assert bodies[0]["states"] == ["running"]


def test_short_page_ends_the_walk_even_if_total_entries_says_more(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    url = f"{API}/dags/etl_daily/dagRuns/{RUN_ID_IN_PATH}/taskInstances"
    task = {"dag_id": "etl_daily", "dag_run_id": RUN_ID, "state": "success", "try_number": 1}
    http.get(
        url,
        json={
            "task_instances": [
                {**task, "task_id": f"load_{i}", "map_index": -1} for i in range(40)
            ],
            "total_entries": 250,  # over-reported: the walk must not ask for empty pages
        },
        match=[matchers.query_param_matcher({"offset": "0", "limit": "100"})],
    )

    tasks = make_client().list_task_instances("etl_daily", RUN_ID)

    assert [t.task_id for t in tasks] == [f"load_{i}" for i in range(40)]
    assert len(http.calls) == 1


def test_run_id_with_plus_and_colon_is_percent_encoded_in_the_path(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(f"{API}/dags/etl_daily/dagRuns/{RUN_ID_IN_PATH}", json=run_payload())

    run = make_client().get_dag_run("etl_daily", RUN_ID)

    assert run.dag_run_id == RUN_ID
    path = urlsplit(http.calls[0].request.url).path
    assert path == f"/api/v1/dags/etl_daily/dagRuns/{RUN_ID_IN_PATH}"
    assert "+" not in path


# --- checks before anything is sent ----------------------------------------------------


@pytest.mark.parametrize("credentials", [BasicAuth("panel", "s3cret"), BearerToken("tok-123")])
def test_credentials_over_plain_http_are_refused_before_any_request(
    http: responses.RequestsMock, credentials: Credentials
) -> None:
    settings = ConnectionSettings("http://airflow.example.test", credentials)

    with pytest.raises(InsecureConnectionError) as caught:
        AirflowClient(settings)

    assert "http://" in caught.value.user_message
    assert len(http.calls) == 0


@pytest.mark.parametrize(
    ("base_url", "credentials", "allow_insecure_http"),
    [
        ("http://airflow.example.test", BasicAuth("panel", "s3cret"), True),
        ("http://airflow.example.test", None, False),  # /version needs no credentials
        ("https://airflow.example.test", BasicAuth("panel", "s3cret"), False),
    ],
)
def test_allowed_connections_reach_airflow(
    http: responses.RequestsMock,
    base_url: str,
    credentials: Credentials | None,
    allow_insecure_http: bool,
) -> None:
    http.get(f"{base_url}/api/v1/version", json={"version": "2.11.0"})
    settings = ConnectionSettings(
        base_url, credentials, allow_insecure_http=allow_insecure_http, api_version="v1"
    )

    with AirflowClient(settings) as client:
        assert client.version().version == "2.11.0"

    sent_auth = http.calls[0].request.headers.get("Authorization")
    assert (sent_auth is not None) == (credentials is not None)


def test_secrets_do_not_appear_in_reprs() -> None:
    basic = BasicAuth("panel", "s3cret-pw")
    bearer = BearerToken("s3cret-token")
    settings = ConnectionSettings(BASE, basic)

    assert "s3cret-pw" not in repr(basic)
    assert "panel" in repr(basic)
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-token" not in repr(bearer)
    assert "s3cret-token" not in repr(ConnectionSettings(BASE, bearer))


@pytest.mark.parametrize(
    ("overrides", "expected_verify"),
    [
        ({}, True),
        ({"verify_tls": False}, False),
        ({"ca_bundle": "/etc/panel/airflow-ca.pem"}, "/etc/panel/airflow-ca.pem"),
        ({"verify_tls": False, "ca_bundle": "/etc/panel/airflow-ca.pem"}, False),
    ],
)
def test_tls_settings_reach_requests_even_with_requests_ca_bundle_set(
    http: responses.RequestsMock,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    overrides: dict[str, Any],
    expected_verify: bool | str,
) -> None:
    # requests lets REQUESTS_CA_BUNDLE override session.verify; many hosts set it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    http.get(f"{API}/version", json={"version": "2.11.0"})
    client = make_client(**overrides)

    client.version()

    assert client.transport.session.verify == expected_verify
    sent_verify = http.calls[0].request.req_kwargs["verify"]  # type: ignore[attr-defined]
    if expected_verify is True:  # the system (or environment's) CAs
        assert sent_verify in (True, "/etc/ssl/certs/ca-certificates.crt")
    else:
        assert sent_verify == expected_verify


def test_naive_logical_date_is_refused_before_any_request(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    with pytest.raises(AirflowValidationError) as caught:
        make_client().trigger_dag_run("etl_daily", logical_date=datetime(2026, 11, 24, 6, 0))

    assert "time zone" in caught.value.user_message
    assert len(http.calls) == 0


@pytest.mark.parametrize("bad_run_id", ["my run", "etl/2026-11-24", "run#1", "überlauf", ""])
def test_invalid_run_id_is_refused_before_any_request(
    http: responses.RequestsMock, make_client: ClientFactory, bad_run_id: str
) -> None:
    with pytest.raises(AirflowValidationError) as caught:
        make_client().trigger_dag_run("etl_daily", dag_run_id=bad_run_id)

    assert "letters, digits" in caught.value.user_message
    assert len(http.calls) == 0


def test_run_cannot_be_set_to_running(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    with pytest.raises(AirflowValidationError) as caught:
        make_client().set_dag_run_state("etl_daily", RUN_ID, "running")

    assert "success, failed, queued" in caught.value.user_message
    assert len(http.calls) == 0


@responses.activate
def test_task_instances_of_many_runs_are_asked_for_100_run_ids_at_a_time() -> None:
    url = "https://airflow.example.com/api/v1/dags/~/dagRuns/~/taskInstances/list"
    bodies: list[dict[str, Any]] = []

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        bodies.append(body)
        tis = [
            {
                "dag_id": "d",
                "dag_run_id": run_id,
                "task_id": "t",
                "map_index": -1,
                "try_number": 1,
                "state": "success",
            }
            for run_id in body["dag_run_ids"][:1]
        ]
        return 200, {}, json.dumps({"task_instances": tis, "total_entries": len(tis)})

    responses.add_callback(responses.POST, url, callback=answer)
    client = AirflowClient(ConnectionSettings("https://airflow.example.com", api_version="v1"))
    run_ids = [f"run_{i}" for i in range(250)]
    found = client.list_task_instances_batch(dag_ids=["d"], dag_run_ids=run_ids)
    assert [len(b["dag_run_ids"]) for b in bodies] == [100, 100, 50]
    assert [ti.dag_run_id for ti in found] == ["run_0", "run_100", "run_200"]
