"""The ``on_call`` hook: every HTTP attempt reported with its endpoint template, never its ids.

Against the real Airflow 2 and 3 for the calls the panel makes; a closed port for a network
failure, and ``responses`` for a gateway error that is retried.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from dags_api import (
    AirflowClient,
    AirflowNotFound,
    AirflowUnavailable,
    BasicAuth,
    ConnectionSettings,
)
from dags_api.endpoints import Id, endpoint_template
from tests.harness.airflow import AirflowInstance, free_port, major_version

Call = tuple[str, str, str, float]


@pytest.fixture
def calls() -> list[Call]:
    return []


@pytest.fixture
def observed_client(airflow_any: AirflowInstance, calls: list[Call]) -> Iterator[AirflowClient]:
    settings = ConnectionSettings(
        airflow_any.url,
        BasicAuth("admin", airflow_any.password("admin")),
        allow_insecure_http=True,
    )
    with AirflowClient(settings, on_call=lambda *call: calls.append(call)) as client:
        yield client


def test_endpoint_template_names_the_ids() -> None:
    segments = ("dags", Id("dag_id", "finance/daily"), "dagRuns", "~", "list")
    assert endpoint_template(segments) == "/dags/{dag_id}/dagRuns/~/list"


@pytest.mark.airflow
def test_real_calls_are_reported_by_template_and_status(
    airflow_any: AirflowInstance, observed_client: AirflowClient, calls: list[Call]
) -> None:
    observed_client.get_dag("cp_quick")
    with pytest.raises(AirflowNotFound):
        observed_client.get_dag_run("cp_quick", "no-such-run-12345")
    observed_client.list_dag_runs(dag_ids=["cp_quick"], states=["running"])

    reported = [(method, endpoint, status) for method, endpoint, status, _ in calls]
    assert ("GET", "/dags/{dag_id}/details", "200") in reported
    assert ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", "404") in reported
    assert ("POST", "/dags/~/dagRuns/list", "200") in reported
    if major_version(airflow_any.version) >= 3:
        # Airflow 3: the version probe of "auto", then the token exchange.
        assert ("GET", "/version", "200") in reported
        assert ("POST", "/auth/token", "201") in reported
    assert not any("cp_quick" in endpoint or "no-such-run" in endpoint for _, endpoint, *_ in calls)
    assert all(0 <= seconds < 60 for *_, seconds in calls)


@pytest.mark.airflow
def test_a_failing_observer_does_not_fail_the_call(airflow: AirflowInstance) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("metrics are broken")

    settings = ConnectionSettings(
        airflow.url,
        BasicAuth("admin", airflow.password("admin")),
        allow_insecure_http=True,
    )
    with AirflowClient(settings, on_call=broken) as client:
        assert client.get_dag("cp_quick").dag_id == "cp_quick"


def test_each_attempt_of_a_refused_connection_is_reported_with_the_reason(
    calls: list[Call],
) -> None:
    settings = ConnectionSettings(
        f"http://127.0.0.1:{free_port()}", api_version="v1", max_retries=2, backoff_seconds=0
    )
    with (
        AirflowClient(settings, on_call=lambda *call: calls.append(call)) as client,
        pytest.raises(AirflowUnavailable),
    ):
        client.list_dags()
    assert [(m, e, s) for m, e, s, _ in calls] == [("GET", "/dags", "refused")] * 3


def test_a_retried_gateway_error_is_reported_once_per_attempt(calls: list[Call]) -> None:
    base = "https://airflow.example.test"
    settings = ConnectionSettings(base, api_version="v1", backoff_seconds=0)
    run_url = f"{base}/api/v1/dags/etl/dagRuns/r1"
    run = {"dag_id": "etl", "dag_run_id": "r1", "state": "running"}
    with (
        responses.RequestsMock() as http,
        AirflowClient(settings, on_call=lambda *call: calls.append(call)) as client,
    ):
        http.get(run_url, status=503)
        http.get(run_url, json=run)
        client.get_dag_run("etl", "r1")
    endpoint = "/dags/{dag_id}/dagRuns/{dag_run_id}"
    assert [(s, e) for _, e, s, _ in calls] == [("503", endpoint), ("200", endpoint)]
