"""Hostile input on the web trigger form: form errors (never a 500, never Airflow's 413 or
414 as a failure), refused before Airflow and audited like any refused trigger."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import AuditEvent, Dag, Run
from tests.helpers.forms import SHOWCASE_URL, form_data
from tests.ui.conftest import FakeAirflow

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]

DEEP_OBJECTS = '{"a":' * 5000 + "1" + "}" * 5000
DEEP_LISTS = "[" * 100_000 + "]" * 100_000
PAST_DEPTH = '{"a":' * 33 + "1" + "}" * 33  # parses, but one level past CONF_MAX_DEPTH


def refused(client: Client, data: dict[str, Any], fake: FakeAirflow, *texts: str) -> str:
    """Post the form; it comes back with ``texts`` shown, nothing sent, the refusal audited."""
    response = client.post(SHOWCASE_URL, data)
    html = response.content.decode()
    assert response.status_code == 200
    for text in texts:
        assert text in html
    assert fake.calls == [] and Run.objects.count() == 0
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and event.source == "web"
    return html


@pytest.mark.parametrize(
    ("conf_json", "message"),
    [
        (DEEP_OBJECTS, "The conf is nested too deeply."),
        (DEEP_LISTS, "The conf is nested too deeply."),
        (PAST_DEPTH, "The conf is nested more than 32 levels deep."),
        (
            json.dumps({f"k{i}": i for i in range(2000)}),
            "The conf has 2000 keys; at most 1000 are taken.",
        ),
    ],
    ids=["5000 objects", "100000 lists", "33 levels", "2000 keys"],
)
def test_the_json_box_past_the_limits_is_a_form_error(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow, conf_json: str, message: str
) -> None:
    client = client_as("operate_user")
    data = form_data(client, use_conf_json="1", conf_json=conf_json)
    refused(client, data, fake_airflow, message)


@pytest.mark.parametrize("text", [DEEP_OBJECTS, DEEP_LISTS, PAST_DEPTH])
def test_a_json_field_past_the_depth_limit_is_a_field_error(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow, text: str
) -> None:
    client = client_as("operate_user")
    html = refused(client, form_data(client, param__options=text), fake_airflow)
    assert "This JSON is nested too deeply." in html


def test_the_preview_of_a_deep_field_says_so_instead_of_failing(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    data = form_data(client, param__options=PAST_DEPTH, conf_json=DEEP_LISTS)
    response = client.post(f"{SHOWCASE_URL}preview/", {**data, "source": "fields"})
    assert response.status_code == 200
    assert response.json()["json_error"].startswith("The conf is nested too deeply.")
    response = client.post(f"{SHOWCASE_URL}preview/", {**data, "source": "json"})
    assert response.json()["json_error"] == "The conf is nested too deeply."


def test_a_note_past_its_limit_is_a_form_error_and_a_huge_one_a_400(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    data = form_data(client, note="n" * 1001)
    refused(client, data, fake_airflow, "The note may have at most 1000 characters.")
    assert len(AuditEvent.objects.get(action="dag.trigger").payload["note"]) == 1000
    huge = client.post(SHOWCASE_URL, {**data, "note": "n" * 2_000_000})
    assert huge.status_code == 400 and fake_airflow.calls == []
    assert client.post(SHOWCASE_URL, {**data, "note": "n" * 1000}).status_code == 302


def test_a_posted_run_id_longer_than_airflow_takes_is_replaced(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    data = form_data(client, dag_run_id="r" * 5000)
    assert client.post(SHOWCASE_URL, data).status_code == 302
    sent = fake_airflow.calls[-1][1]["dag_run_id"]
    assert sent.startswith("panel__") and len(sent) <= 250
