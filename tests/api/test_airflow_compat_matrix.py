"""The Airflow-compatible API: every route, every persona, v1 with basic auth and v2 with a
bearer token (the world of ``test_permission_matrix``: Airflow is a closed port, so an
allowed call that reaches Airflow answers 503, a refused one 403 or 404)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.services import tokens
from tests.api.conftest import ApiWorld
from tests.api.test_permission_matrix import SEES_FINANCE_DAILY, Case, only
from tests.factories import DagFactory
from tests.world import PERSONAS

RUN = "dags/finance_daily/dagRuns/r1"
SEE_SOME_DAG = ("superuser", "team_admin", "operator", "viewer", "operate_user")
TRIGGER: dict[str, Any] = {"conf": {}, "logical_date": None}

CASES = {
    "health": Case("GET", "health", {"anonymous": 503}, 503),
    "monitor health": Case("GET", "monitor/health", {"anonymous": 503}, 503),
    "version": Case("GET", "version", {"anonymous": 503}, 503),
    "dags list": Case("GET", "dags", {}, 200),
    "dag": Case("GET", "dags/finance_daily", only(200, "superuser", *SEES_FINANCE_DAILY), 404),
    "dag details": Case(
        "GET", "dags/finance_daily/details", only(200, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "dag pause": Case(
        "PATCH",
        "dags/finance_daily?update_mask=is_paused",
        only(503, "superuser", **only(403, *SEES_FINANCE_DAILY)),
        404,
        {"is_paused": True},
    ),
    "dag runs": Case(
        "GET", "dags/finance_daily/dagRuns", only(503, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "dag runs of every dag": Case("GET", "dags/~/dagRuns", only(503, *SEE_SOME_DAG), 200),
    "dag runs batch": Case("POST", "dags/~/dagRuns/list", only(503, *SEE_SOME_DAG), 200, {}),
    "trigger": Case(
        "POST",
        "dags/finance_daily/dagRuns",
        only(503, "superuser", "operator", team_admin=403, viewer=403),
        404,
        TRIGGER,
    ),
    "run": Case("GET", RUN, only(503, "superuser", *SEES_FINANCE_DAILY), 404),
    "run state": Case(
        "PATCH",
        RUN,
        only(503, "superuser", **only(403, *SEES_FINANCE_DAILY)),
        404,
        {"state": "failed"},
    ),
    "run clear": Case(
        "POST",
        "dags/orders_etl/dagRuns/r1/clear",
        only(503, "superuser", "operate_user"),
        404,
        {"dry_run": False},
    ),
    "task instances": Case(
        "GET", RUN + "/taskInstances", only(503, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "task instance": Case(
        "GET", RUN + "/taskInstances/t", only(503, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "task instances batch": Case(
        "POST", "dags/~/dagRuns/~/taskInstances/list", only(503, *SEE_SOME_DAG), 200, {}
    ),
    "task log": Case(
        "GET", RUN + "/taskInstances/t/logs/1", only(503, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "method not offered": Case("DELETE", "dags/finance_daily", {}, 405),
    "not offered": Case("GET", "variables", {"anonymous": 404}, 404),
    "not offered write": Case("POST", "connections", {"anonymous": 404}, 404, {}),
}


def _client(api_world: ApiWorld, persona: str, api: str) -> Client:
    user = api_world.users[persona]
    if user is None:
        return Client()
    token = api_world.tokens[persona]
    if api == "v1":
        basic = base64.b64encode(f"{user.username}:{token}".encode()).decode()
        return Client(HTTP_AUTHORIZATION=f"Basic {basic}")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _send(client: Client, case: Case, path: str) -> Any:
    send = getattr(client, case.method.lower())
    if case.body is None:
        return send(path)
    return send(path, data=json.dumps(case.body), content_type="application/json")


@pytest.mark.parametrize("api", ["v1", "v2"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_persona_gets_the_expected_status(name: str, api: str, api_world: ApiWorld) -> None:
    case = CASES[name]
    path = f"/airflow/prod/api/{api}/{case.path}"
    got = {}
    for persona in PERSONAS:
        savepoint = transaction.savepoint()
        response = _send(_client(api_world, persona, api), case, path)
        got[persona] = response.status_code
        if response.status_code >= 400:
            body = response.json()
            wanted = {"type", "title", "status", "detail"} if api == "v1" else {"detail"}
            assert set(body) == wanted, (persona, body)
        transaction.savepoint_rollback(savepoint)
    expected = {persona: case.status_for(persona) for persona in PERSONAS}
    expected.update({k: v for k, v in case.expected.items() if k == "anonymous"})
    assert got == expected


def test_a_session_cookie_is_not_enough(api_world: ApiWorld) -> None:
    """Only API tokens open this API: a browser session (no CSRF check here) does not."""
    client = Client()
    client.force_login(api_world.users["superuser"])
    assert client.get("/airflow/prod/api/v1/dags").status_code == 401


def test_a_token_with_another_username_is_refused(api_world: ApiWorld) -> None:
    token = api_world.tokens["viewer"]
    basic = base64.b64encode(f"superuser:{token}".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=f"Basic {basic}")
    assert client.get("/airflow/prod/api/v1/dags").status_code == 401


def test_an_unknown_profile_is_404(api_world: ApiWorld) -> None:
    client = _client(api_world, "superuser", "v2")
    assert client.get("/airflow/nowhere/api/v2/dags/finance_daily").status_code == 404


def test_basic_auth_looks_up_the_token_hash_and_runs_no_password_hasher(
    api_world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-request cost of a basic-auth call is one token lookup, as for a bearer one."""
    from django.contrib.auth import hashers

    def no_hasher(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a password hasher ran")

    monkeypatch.setattr(hashers, "check_password", no_hasher)
    monkeypatch.setattr(hashers, "get_hasher", no_hasher)
    monkeypatch.setattr(hashers, "identify_hasher", no_hasher)
    client = _client(api_world, "viewer", "v1")
    assert client.get("/airflow/prod/api/v1/dags/finance_daily").status_code == 200


def _post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("api", "body", "status"),
    [
        ("v1", {"conf": {}, "bogus": 1}, 400),
        ("v2", {"conf": {}, "logical_date": None, "bogus": 1}, 422),
        ("v2", {"conf": {}}, 422),  # Airflow 3 requires logical_date (null allowed)
        ("v2", {"conf": {}, "logical_date": None, "execution_date": None}, 422),
        ("v1", {"conf": {}, "dag_run_id": "has spaces"}, 400),
        ("v1", {"conf": {}, "run_after": "2024-01-01T00:00:00Z"}, 400),
        ("v1", {"conf": "not an object"}, 400),
    ],
)
def test_trigger_bodies_are_checked_as_airflow_checks_them(
    api_world: ApiWorld, api: str, body: dict[str, Any], status: int
) -> None:
    client = _client(api_world, "operator", api)
    answer = _post(client, f"/airflow/prod/api/{api}/dags/finance_daily/dagRuns", body)
    assert answer.status_code == status, answer.json()


def test_a_read_only_token_cannot_change_anything_and_the_refusal_is_audited(
    api_world: ApiWorld,
) -> None:
    from controlpanel.models import AuditEvent

    user = api_world.users["superuser"]
    _, plaintext = tokens.create_token(Actor(user=user), user, "reader", read_only=True)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/airflow/prod/api/v2/dags/finance_daily").status_code == 200
    answer = client.patch(
        "/airflow/prod/api/v2/dags/finance_daily",
        data=json.dumps({"is_paused": True}),
        content_type="application/json",
    )
    assert answer.status_code == 403
    event = AuditEvent.objects.get(action="api.write")
    assert (event.outcome, event.source) == ("denied", AuditEvent.Source.AIRFLOW_API)


def test_dag_list_paging_filters_and_a_constant_number_of_queries(
    api_world: ApiWorld, django_assert_max_num_queries: Any
) -> None:
    client = _client(api_world, "superuser", "v1")
    every = client.get("/airflow/prod/api/v1/dags").json()
    ids = [d["dag_id"] for d in every["dags"]]
    assert ids == sorted(ids) and every["total_entries"] == len(ids) >= 2
    page = client.get("/airflow/prod/api/v1/dags", {"limit": 1, "offset": 1}).json()
    assert [d["dag_id"] for d in page["dags"]] == ids[1:2]
    assert page["total_entries"] == len(ids)
    newest_first = client.get("/airflow/prod/api/v1/dags", {"order_by": "-dag_id"}).json()
    assert [d["dag_id"] for d in newest_first["dags"]] == ids[::-1]
    assert client.get("/airflow/prod/api/v1/dags", {"order_by": "fileloc"}).status_code == 400
    for number in range(120):
        DagFactory.create(profile=api_world.world.prod, dag_id=f"bulk_{number:03}")
    capped = client.get("/airflow/prod/api/v1/dags", {"limit": 500}).json()
    assert len(capped["dags"]) == 100  # at most 100 a page, as Airflow
    assert capped["total_entries"] == len(ids) + 120
    finance = client.get("/airflow/prod/api/v1/dags", {"dag_id_pattern": "finance"}).json()
    assert [d["dag_id"] for d in finance["dags"]] == [i for i in ids if "finance" in i]
    with django_assert_max_num_queries(8):
        client.get("/airflow/prod/api/v1/dags")
