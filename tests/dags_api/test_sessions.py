"""Airflow 2: one login through the web form, then the session cookie instead of basic auth.

Against the real Airflow 2.11. Mocked only what it cannot show: Airflow 2.3+ adds the session
backend to any custom ``auth_backends`` itself, so an API that takes basic auth only (a
proxy, an older Airflow) is mocked, as are a missing login page and a rate-limited login.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from dags_api import AirflowAuthError, AirflowClient, BasicAuth, ConnectionSettings
from dags_api.sessions import RETRY_LOGIN_SECONDS
from tests.harness.airflow import AirflowInstance

LOGIN_REQUESTS = 2  # GET /login/ for the CSRF token, POST /login/ with the form


def session_client(
    instance: AirflowInstance, user: str = "admin", **options: object
) -> AirflowClient:
    settings = ConnectionSettings(
        instance.url,
        BasicAuth(user, str(options.pop("password", instance.password(user)))),
        allow_insecure_http=True,
        api_version="v1",
        login_session=True,
        **options,  # type: ignore[arg-type]
    )
    return AirflowClient(settings)


def read_many(client: AirflowClient, times: int) -> None:
    for _ in range(times):
        client.list_dag_runs(dag_ids=["cp_paused"], states=["queued"])


@pytest.mark.airflow
def test_one_login_serves_many_requests(airflow: AirflowInstance) -> None:
    with session_client(airflow) as client:
        read_many(client, 10)
        assert client.transport.logins is not None
        assert client.transport.logins.login_count == 1
        # Ten requests with the cookie: no basic auth retry was needed for any of them.
        assert client.transport.request_count == LOGIN_REQUESTS + 10
        assert client.transport.session.cookies.get("session")


@pytest.mark.airflow
def test_an_invalid_session_falls_back_to_basic_auth_and_logs_in_again(
    airflow: AirflowInstance,
) -> None:
    with session_client(airflow) as client:
        read_many(client, 1)
        cookies = client.transport.session.cookies
        domain = next(iter(cookies)).domain
        cookies.set("session", "expired-or-forged", domain=domain, path="/")
        before = client.transport.request_count
        read_many(client, 1)  # refused cookie, then basic auth: still answered
        assert client.transport.request_count - before == 2
        read_many(client, 3)  # a new login, then the cookie again
        assert client.transport.logins is not None and client.transport.logins.login_count == 2
        assert client.transport.request_count - before == 2 + LOGIN_REQUESTS + 3


@pytest.mark.airflow
def test_a_user_without_the_right_is_refused_once_not_logged_in_again(
    airflow: AirflowInstance,
) -> None:
    with session_client(airflow, "viewer") as client:
        read_many(client, 1)
        with pytest.raises(AirflowAuthError):
            client.trigger_dag_run("cp_paused", dag_run_id="viewer-may-not")
        read_many(client, 1)
        assert client.transport.logins is not None and client.transport.logins.login_count == 1


@pytest.mark.airflow
def test_a_wrong_password_is_refused_as_with_basic_auth(airflow: AirflowInstance) -> None:
    with session_client(airflow, password="wrong") as client:
        with pytest.raises(AirflowAuthError):
            read_many(client, 1)
        with pytest.raises(AirflowAuthError):
            read_many(client, 1)
        # The failed login is not repeated for every request: basic auth answers for a while.
        assert client.transport.logins is not None and client.transport.logins.login_count == 1


@pytest.mark.airflow
def test_without_login_session_basic_auth_is_sent_as_before(airflow: AirflowInstance) -> None:
    settings = ConnectionSettings(
        airflow.url, BasicAuth("admin", airflow.password("admin")), allow_insecure_http=True
    )
    with AirflowClient(settings) as client:
        read_many(client, 3)
        assert client.transport.logins is None
        assert client.transport.request_count == 2 + 3  # the version probes, then 3 reads


# --- shapes a real Airflow does not show here --------------------------------------------

BASE = "https://airflow.example.test"
RUNS = f"{BASE}/api/v1/dags/~/dagRuns/list"
EMPTY = {"dag_runs": [], "total_entries": 0}


def mocked_client() -> AirflowClient:
    settings = ConnectionSettings(
        BASE, BasicAuth("panel", "pw"), api_version="v1", login_session=True, max_retries=0
    )
    return AirflowClient(settings)


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, "not found"), (200, "<html>no form here</html>"), (429, "Too Many Requests")],
)
def test_a_login_page_that_gives_no_session_means_basic_auth_for_a_while(
    status: int, body: str
) -> None:
    with responses.RequestsMock() as rsps, mocked_client() as client:
        login = rsps.get(f"{BASE}/login/", body=body, status=status)
        runs = rsps.post(RUNS, json=EMPTY)
        read_many(client, 3)
        assert login.call_count == 1 and runs.call_count == 3
        assert all(c.request.headers["Authorization"].startswith("Basic ") for c in runs.calls)


def test_a_login_is_tried_again_after_the_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    with responses.RequestsMock() as rsps, mocked_client() as client:
        login = rsps.get(f"{BASE}/login/", status=429)
        rsps.post(RUNS, json=EMPTY)
        read_many(client, 1)
        logins = client.transport.logins
        assert logins is not None
        monkeypatch.setattr(logins, "_clock", lambda: 1e12 + RETRY_LOGIN_SECONDS)
        read_many(client, 1)
        assert login.call_count == 2


def basic_only_api(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    """An API that takes basic auth and refuses a session cookie alone."""
    if request.headers.get("Authorization", "").startswith("Basic "):
        return 200, {}, json.dumps(EMPTY)
    return 401, {}, json.dumps({"title": "Unauthorized", "status": 401})


def test_an_api_taking_basic_auth_only_still_works() -> None:
    with responses.RequestsMock() as rsps, mocked_client() as client:
        rsps.get(f"{BASE}/login/", body='<input name="csrf_token" type="hidden" value="t">')
        logged_in = {"Location": f"{BASE}/home", "Set-Cookie": "session=abc; Path=/"}
        rsps.post(f"{BASE}/login/", status=302, headers=logged_in)
        rsps.add_callback(responses.POST, RUNS, callback=basic_only_api)
        read_many(client, 1)  # login, the cookie refused, basic auth
        assert client.transport.request_count == LOGIN_REQUESTS + 2
        read_many(client, 5)  # noticed: basic auth straight away, no new login
        assert client.transport.request_count == LOGIN_REQUESTS + 2 + 5
        assert client.transport.logins is not None and client.transport.logins.login_count == 1
