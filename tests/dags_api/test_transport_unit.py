"""HTTP shapes a real Airflow cannot be made to show: gateway errors, HTML pages, retries.

Mocked at the requests layer with ``responses``; the injected ``sleep`` records the
backoff instead of waiting.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from dags_api import (
    AirflowAuthError,
    AirflowClient,
    AirflowNotFound,
    AirflowServerError,
    AirflowValidationError,
    BasicAuth,
    BearerToken,
    ConnectionSettings,
    Credentials,
)

BASE = "https://airflow.example.test"
API = f"{BASE}/api/v1"
VERSION_URL = f"{API}/version"

AIRFLOW_HTML_500 = """<!DOCTYPE html>
<html lang="en">
  <head><title>Airflow 500 Internal Server Error</title></head>
  <body>
    <h1>Ooops!</h1>
    <pre>Traceback (most recent call last):
  File "/opt/airflow/flask/app.py", line 880, in full_dispatch_request
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked</pre>
  </body>
</html>"""

ClientFactory = Callable[..., AirflowClient]

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

    def make(credentials: Credentials | None = None, **overrides: Any) -> AirflowClient:
        settings = ConnectionSettings(
            BASE, credentials or BasicAuth("panel", "s3cret"), **{"api_version": "v1", **overrides}
        )
        client = AirflowClient(settings, sleep=sleeps.append)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_html_error_page_gives_plain_message_and_title_in_detail(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(VERSION_URL, status=500, body=AIRFLOW_HTML_500, content_type="text/html")

    with pytest.raises(AirflowServerError) as caught:
        make_client().version()

    error = caught.value
    assert error.status_code == 500
    assert "HTTP 500" in error.user_message
    assert "<" not in error.user_message
    assert "Traceback" not in error.user_message
    assert "Airflow 500 Internal Server Error" in error.detail
    assert "<title>" not in error.detail
    assert len(http.calls) == 1  # a plain 500 is not a gateway hiccup: no retry


@pytest.mark.parametrize(
    ("problem", "expected_detail"),
    [
        (
            {
                "type": "https://airflow.apache.org/docs/apache-airflow/2.11.0/"
                "stable-rest-api-ref.html#section/Errors/Unknown",
                "title": "Internal Server Error",
                "status": 500,
                "detail": "(sqlite3.OperationalError) database is locked",
            },
            "(sqlite3.OperationalError) database is locked",
        ),
        (
            {
                "type": "about:blank",
                "title": "Internal Server Error",
                "status": 500,
                "detail": None,
            },
            "Internal Server Error",
        ),
    ],
)
def test_problem_json_500_keeps_airflows_detail(
    http: responses.RequestsMock,
    make_client: ClientFactory,
    problem: dict[str, object],
    expected_detail: str,
) -> None:
    http.get(VERSION_URL, status=500, json=problem, content_type="application/problem+json")

    with pytest.raises(AirflowServerError) as caught:
        make_client().version()

    assert caught.value.detail == expected_detail
    assert caught.value.status_code == 500
    assert "administrator" in caught.value.user_message


def test_gateway_errors_on_a_read_are_retried_with_backoff(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    http.get(VERSION_URL, status=502, body="<html><title>502 Bad Gateway</title></html>")
    http.get(VERSION_URL, status=503, body="<html><title>503 Service Unavailable</title></html>")
    http.get(VERSION_URL, status=200, json={"version": "2.11.0", "git_version": None})

    info = make_client().version()

    assert info.version == "2.11.0"
    assert len(http.calls) == 3
    assert sleeps == [0.5, 1.0]


def test_gateway_error_on_every_attempt_gives_up_after_max_retries(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    http.get(VERSION_URL, status=504, body="<html><title>504 Gateway Time-out</title></html>")

    with pytest.raises(AirflowServerError) as caught:
        make_client(max_retries=2, backoff_seconds=0.25).version()

    assert caught.value.status_code == 504
    assert "504 Gateway Time-out" in caught.value.detail
    assert len(http.calls) == 1 + 2
    assert sleeps == [0.25, 0.5]


def test_success_that_is_not_json_says_so(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    # What a reverse proxy's login page or a wrong base URL looks like.
    http.get(
        VERSION_URL,
        status=200,
        body="<html><title>Sign in</title></html>",
        content_type="text/html",
    )

    with pytest.raises(AirflowServerError) as caught:
        make_client().version()

    assert "not JSON" in caught.value.user_message
    assert "Sign in" in caught.value.detail


def test_param_validation_error_names_the_param_and_keeps_only_the_first_line(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    detail = (
        "Invalid input for param count: 'x' is not of type 'integer'\n\n"
        "Failed validating 'type' in schema:\n"
        "    {'minimum': 1, 'type': 'integer'}\n\n"
        "On instance:\n    'x'"
    )
    http.post(
        f"{API}/dags/etl_daily/dagRuns",
        status=400,
        json={"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail},
        content_type="application/problem+json",
    )

    with pytest.raises(AirflowValidationError) as caught:
        make_client().trigger_dag_run("etl_daily", conf={"count": "x"})

    error = caught.value
    assert error.param == "count"
    assert "'count'" in error.user_message
    assert "'x' is not of type 'integer'" in error.user_message
    assert "Failed validating" not in error.user_message
    assert "\n" not in error.user_message
    assert error.detail == detail


def test_forbidden_tells_the_user_to_check_credentials_or_role(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(
        f"{API}/dags/etl_daily/details",
        status=403,
        json={
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
            "detail": "Access is denied",
        },
        content_type="application/problem+json",
    )

    with pytest.raises(AirflowAuthError) as caught:
        make_client().get_dag("etl_daily")

    assert "check the credentials or the Airflow role" in caught.value.user_message
    assert caught.value.status_code == 403
    assert len(http.calls) == 1


def test_missing_dag_is_named_in_the_message(
    http: responses.RequestsMock, make_client: ClientFactory
) -> None:
    http.get(
        f"{API}/dags/etl_daily/details",
        status=404,
        json={
            "type": "about:blank",
            "title": "DAG not found",
            "status": 404,
            "detail": "The DAG with dag_id: etl_daily was not found",
        },
        content_type="application/problem+json",
    )

    with pytest.raises(AirflowNotFound) as caught:
        make_client().get_dag("etl_daily")

    assert "the DAG 'etl_daily'" in caught.value.user_message
    assert caught.value.detail == "The DAG with dag_id: etl_daily was not found"


def test_bearer_token_is_sent(http: responses.RequestsMock, make_client: ClientFactory) -> None:
    http.get(VERSION_URL, json={"version": "2.11.0"})

    make_client(BearerToken("tok-123")).version()

    assert http.calls[0].request.headers["Authorization"] == "Bearer tok-123"


def test_basic_auth_is_sent(http: responses.RequestsMock, make_client: ClientFactory) -> None:
    http.get(VERSION_URL, json={"version": "2.11.0"})

    make_client(BasicAuth("panel", "s3cret")).version()

    expected = base64.b64encode(b"panel:s3cret").decode()
    assert http.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_connection_error_on_a_read_is_retried(
    http: responses.RequestsMock, make_client: ClientFactory, sleeps: list[float]
) -> None:
    http.get(VERSION_URL, body=requests.exceptions.ConnectionError("Connection reset by peer"))
    http.get(VERSION_URL, json={"version": "2.11.0"})

    assert make_client().version().version == "2.11.0"
    assert len(http.calls) == 2
    assert sleeps == [0.5]
