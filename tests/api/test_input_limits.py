"""Hostile input through the real API: refused as 400 / 413 in the API's error shape before
anything reaches Airflow (the profiles point at a closed port, so a call that got through
would answer 503), and raw Airflow detail only for panel admins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import AuditEvent
from tests.api.conftest import ApiWorld, Caller

pytestmark = pytest.mark.django_db

TRIGGER = "/api/dags/prod/finance_daily/runs/"
SHAPE = {"error", "message", "detail", "errors"}


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_post(api_world: ApiWorld, persona: str, path: str, body: str) -> Any:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_world.tokens[persona]}")
    return client.post(path, data=body, content_type="application/json")


def assert_refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == SHAPE and body["detail"] is None
    return body


def test_a_5_mb_conf_is_a_json_413(call: Caller) -> None:
    response = call("operator", "POST", TRIGGER, {"conf": {"x": "a" * 5_000_000}})
    body = assert_refused(response, 413)
    assert body["error"] == "too_large" and "1048576 bytes" in body["message"]


def test_a_body_just_under_the_limit_is_read(call: Caller, settings: Any) -> None:
    settings.CONF_MAX_BYTES = 2_000_000
    response = call("operator", "POST", TRIGGER, {"conf": {"x": "a" * 1_000_000}})
    assert response.status_code == 503  # read, checked and sent on to the (closed) Airflow


@pytest.mark.parametrize(
    "conf_text",
    [nested_objects(5000), nested_lists(100_000), nested_objects(100)],
    ids=["5000 objects", "100000 lists", "100 objects"],
)
@pytest.mark.parametrize("via", ["token", "session"])
def test_deeply_nested_json_is_a_400(api_world: ApiWorld, conf_text: str, via: str) -> None:
    body = '{"conf": {"deep": ' + conf_text + "}}"
    if via == "token":
        response = raw_post(api_world, "operator", TRIGGER, body)
    else:
        client = Client()
        client.force_login(api_world.users["operator"])
        response = client.post(TRIGGER, data=body, content_type="application/json")
    refused = assert_refused(response, 400)
    assert "nested too deeply" in refused["message"]


def test_a_conf_one_level_past_the_limit_is_refused_by_the_trigger_rule_and_audited(
    call: Caller, settings: Any
) -> None:
    settings.CONF_MAX_DEPTH = 5
    deep = json.loads(nested_objects(6))
    response = call("operator", "POST", TRIGGER, {"conf": deep})
    body = assert_refused(response, 400)
    assert body["errors"] == {"conf": ["The conf is nested more than 5 levels deep."]}
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and event.payload["conf"] is None
    at_limit = call("operator", "POST", TRIGGER, {"conf": json.loads(nested_objects(5))})
    assert at_limit.status_code == 503  # taken, and sent on to the (closed) Airflow


def test_2000_keys_of_conf_are_a_400_and_audited(call: Caller) -> None:
    conf = {f"key_{i}": i for i in range(2000)}
    body = assert_refused(call("operator", "POST", TRIGGER, {"conf": conf}), 400)
    assert body["errors"]["conf"] == ["The conf has 2000 keys; at most 1000 are taken."]
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and event.payload["errors"] == body["errors"]


def test_a_conf_past_its_byte_limit_is_a_400(call: Caller) -> None:
    body = assert_refused(call("operator", "POST", TRIGGER, {"conf": {"x": "a" * 300_000}}), 400)
    assert "at most 262144 are taken" in body["errors"]["conf"][0]


def test_a_long_note_is_a_400_and_a_2_mb_note_a_413(call: Caller) -> None:
    body = assert_refused(call("operator", "POST", TRIGGER, {"note": "n" * 1001}), 400)
    assert body["errors"] == {"note": ["The note may have at most 1000 characters."]}
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and len(event.payload["note"]) == 200
    assert_refused(call("operator", "POST", TRIGGER, {"note": "n" * 2_000_000}), 413)
    assert call("operator", "POST", TRIGGER, {"note": "n" * 1000}).status_code == 503


def log_url(api_world: ApiWorld, task_id: str = "extract", query: str = "") -> str:
    return f"/api/runs/{api_world.runs['finance'].pk}/tasks/{task_id}/logs/{query}"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("?map_index=-99999999999999999999", "map_index"),
        ("?map_index=-2", "map_index"),
        ("?map_index=2147483648", "map_index"),
        ("?map_index=\uff11", "map_index"),
        ("?try=-1", "try"),
        ("?try=99999999999999999999", "try"),
        ("?try=abc", "try"),
    ],
)
def test_log_query_numbers_outside_airflows_range_are_a_400(
    api_world: ApiWorld, call: Caller, query: str, name: str
) -> None:
    body = assert_refused(call("operator", "GET", log_url(api_world, query=query)), 400)
    assert list(body["errors"]) == [name] and "whole number" in body["errors"][name][0]


def test_a_5000_character_task_id_is_a_400(api_world: ApiWorld, call: Caller) -> None:
    body = assert_refused(call("operator", "GET", log_url(api_world, task_id="t" * 5000)), 400)
    assert body["errors"] == {"task_id": ["At most 250 characters."]}


def test_edge_values_inside_the_ranges_go_on_to_airflow(api_world: ApiWorld, call: Caller) -> None:
    query = "?map_index=2147483647&try=2147483647"
    assert call("operator", "GET", log_url(api_world, "t" * 250, query)).status_code == 503


@pytest.mark.parametrize("via", ["session", "token"])
def test_airflow_outage_detail_is_only_for_panel_admins(
    api_world: ApiWorld, call: Caller, via: str
) -> None:
    operator = call("operator", "POST", TRIGGER, {"conf": {}}, via=via)
    assert operator.status_code == 503
    body = operator.json()
    assert body["error"] == "airflow_unavailable" and "refused the connection" in body["message"]
    assert body["detail"] is None and "HTTPConnectionPool" not in operator.content.decode()
    admin = call("superuser", "POST", TRIGGER, {"conf": {}}, via=via).json()
    assert admin["message"] == body["message"] and "HTTPConnectionPool" in admin["detail"]
    events = AuditEvent.objects.filter(action="dag.trigger", outcome="failed")
    assert [("HTTPConnectionPool" in e.payload["error_detail"]) for e in events] == [True, True]


def test_log_outage_detail_is_only_for_panel_admins(api_world: ApiWorld, call: Caller) -> None:
    assert call("operator", "GET", log_url(api_world)).json()["detail"] is None
    assert "HTTPConnectionPool" in call("superuser", "GET", log_url(api_world)).json()["detail"]
