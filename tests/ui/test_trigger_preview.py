"""The trigger form's live preview (what the form would send) and its JSON box, server side.

The preview reads the posted form with the same code as a trigger, so what it shows is what
a trigger would send; it changes nothing, calls no Airflow and writes no audit event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import AuditEvent, Dag, Run
from tests.helpers.forms import SHOWCASE_URL, form_data
from tests.ui.conftest import FakeAirflow
from tests.world import PERSONAS

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
PREVIEW_URL = SHOWCASE_URL + "preview/"


def preview(client: Client, source: str = "fields", **changes: Any) -> dict[str, Any]:
    data = form_data(client, **changes) | {"source": [source]}
    response = client.post(PREVIEW_URL, data)
    assert response.status_code == 200, response.content
    return dict(response.json())


@pytest.mark.parametrize("persona", PERSONAS)
def test_preview_matrix(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 200,
        "operate_user": 200,
        "anonymous": 302,
    }
    response = client_as(persona).post(PREVIEW_URL, {"source": "fields"})
    assert response.status_code == expected[persona]
    assert fake_airflow.calls == [] and Run.objects.count() == 0
    assert not AuditEvent.objects.filter(action="dag.trigger").exists()


def test_a_viewer_of_the_dag_may_not_preview_a_trigger(
    world: Any, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    assert client_as("viewer").post("/dags/prod/finance_daily/preview/").status_code == 403


def test_preview_is_csrf_protected(showcase: Dag, client_as: ClientAs) -> None:
    client = client_as("operate_user")
    client.handler.enforce_csrf_checks = True
    assert client.post(PREVIEW_URL, {"source": "fields"}).status_code == 403


def test_preview_shows_what_the_fields_would_send_and_the_api_call(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    answer = preview(client, param__batch_size="250", param__comment="", param__tables="a\nb")
    conf = json.loads(answer["conf_json"])
    assert conf["batch_size"] == 250 and conf["comment"] is None and conf["tables"] == ["a", "b"]
    assert conf["schema_version"] == 2  # the constant goes along, as in Airflow
    assert (
        "curl -X POST" in answer["api_call"]
        and "/api/dags/prod/orders_etl/runs/" in answer["api_call"]
    )
    assert '"batch_size": 250' in answer["api_call"] and "$PANEL_TOKEN" in answer["api_call"]
    assert answer["errors"] == [] and answer["json_error"] == ""
    assert fake_airflow.calls == []
    assert not AuditEvent.objects.exclude(action__startswith="auth.").exists()


def test_preview_names_each_bad_field_in_words(showcase: Dag, client_as: ClientAs) -> None:
    answer = preview(client_as("operate_user"), param__customer="Bad Code!", param__batch_size="")
    by_id = {e["id"]: e for e in answer["errors"]}
    assert by_id["param__customer"]["label"] == "Customer code"
    assert by_id["param__customer"]["message"] == (
        "This is not in the expected form. Lower-case customer code"
    )
    assert by_id["param__batch_size"]["message"] == "This field is required."


def test_keys_of_the_json_box_that_are_not_params_go_along_with_the_fields(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    box = json.dumps({"batch_size": 1, "extra": {"kept": True}})
    answer = preview(client, conf_json=box, param__batch_size="7")
    conf = json.loads(answer["conf_json"])
    assert conf["batch_size"] == 7 and conf["extra"] == {"kept": True}  # the fields win
    response = client.post(SHOWCASE_URL, form_data(client, conf_json=box, param__batch_size="7"))
    assert response.status_code == 302
    sent = fake_airflow.calls[-1][1]["conf"]
    assert sent["extra"] == {"kept": True} and sent["batch_size"] == 7


def test_a_broken_json_box_is_named_not_silently_dropped(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    html = client.post(SHOWCASE_URL, form_data(client, conf_json='{"extra": ')).content.decode()
    assert "The conf is not valid JSON" in html and "empty it to send only the fields" in html
    assert fake_airflow.calls == []


def test_editing_the_json_box_draws_the_fields_from_it(showcase: Dag, client_as: ClientAs) -> None:
    client = client_as("operate_user")
    box = json.dumps({"customer": "zeta", "batch_size": 0, "region": "us"})
    answer = preview(client, source="json", conf_json=box)
    html = answer["fields_html"]
    assert 'id="param__customer" name="param__customer"' in html and 'value="zeta"' in html
    assert '<option value="us" selected>' in html
    assert "Enter 1 or more." in html  # the JSON's values are checked like the fields
    assert [e["id"] for e in answer["errors"]] == ["param__batch_size"]
    broken = preview(client, source="json", conf_json="[1, 2")
    assert broken["json_error"].startswith("The conf is not valid JSON")
    assert "fields_html" not in broken
    assert preview(client, source="json", conf_json="[1]")["json_error"].startswith(
        "The conf must be a JSON object"
    )


def test_a_json_box_nested_too_deeply_is_an_error_not_a_crash(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    deep = "[" * 100_000 + "]" * 100_000
    answer = preview(client, source="json", conf_json=deep)
    assert answer["json_error"] == "The conf is nested too deeply."
    response = client.post(SHOWCASE_URL, form_data(client, use_conf_json="1", conf_json=deep))
    assert response.status_code == 200 and b"nested too deeply" in response.content
    assert fake_airflow.calls == []
