"""The DAG page and its generated trigger form: access, rendering, validation, triggering."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils.html import escape

from controlpanel.models import AuditEvent, Dag, Run
from dags_api import (
    AirflowAuthError,
    AirflowConflict,
    AirflowError,
    AirflowNotFound,
    AirflowServerError,
    AirflowUnavailable,
    AirflowValidationError,
)
from tests.factories import RunFactory
from tests.helpers.forms import SHOWCASE_URL, form_data
from tests.ui.conftest import FakeAirflow
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]


class Controls(HTMLParser):
    """Every form control's id and type, and every label's ``for``."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("input", "select", "textarea"):
            self.controls.append({"tag": tag, **attributes})
        if tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))


@pytest.mark.parametrize("persona", PERSONAS)
def test_dag_page_matrix(showcase: Dag, client_as: ClientAs, persona: str) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 200,
        "operate_user": 200,
        "anonymous": 302,
    }
    response = client_as(persona).get(SHOWCASE_URL)
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_trigger_post_matrix(
    world: World, client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 302,
        "operator": 302,
        "team_admin": 403,
        "viewer": 403,
        "anonymous": 302,
    }
    response = client_as(persona).post("/dags/prod/finance_daily/", {"dag_run_id": "panel__x1"})
    assert response.status_code == expected[persona]
    triggered = [c for c in fake_airflow.calls if c[0] == "trigger"]
    assert len(triggered) == (1 if expected[persona] == 302 and persona != "anonymous" else 0)
    if expected[persona] == 403:
        assert AuditEvent.objects.get(action="dag.trigger").outcome == "denied"


def test_viewer_sees_no_trigger_button(
    world: World, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    html = client_as("viewer").get("/dags/prod/finance_daily/").content.decode()
    assert "Trigger run" not in html and "trigger-form" not in html
    assert "may see this DAG and its runs but not trigger it" in html
    operator = client_as("operator").get("/dags/prod/finance_daily/").content.decode()
    assert "Trigger run" in operator


def test_missing_params_are_read_from_airflow_and_failure_is_said_in_words(
    world: World, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    html = client_as("operator").get("/dags/prod/finance_daily/").content.decode()
    assert ("get_dag", "finance_daily") in fake_airflow.calls
    assert (
        "Could not read this DAG&#x27;s params from Airflow: Airflow could not be reached." in html
    )


def test_every_generated_field_has_a_label_and_the_right_widget(
    showcase: Dag, client_as: ClientAs
) -> None:
    html = client_as("operate_user").get(SHOWCASE_URL).content.decode()
    parser = Controls()
    parser.feed(html)
    visible = [c for c in parser.controls if c.get("type") != "hidden" and c.get("id")]
    assert visible and all(c["id"] in parser.label_for for c in visible), visible
    by_id = {c["id"]: c for c in parser.controls if c.get("id")}
    assert by_id["param__run_date"]["type"] == "date"
    assert by_id["param__run_at"]["type"] == "datetime-local"
    assert by_id["param__cutoff_time"]["type"] == "time"
    assert by_id["param__dry_run"]["type"] == "checkbox"
    assert (by_id["param__batch_size"]["min"], by_id["param__batch_size"]["max"]) == ("1", "1000")
    assert by_id["param__customer"]["pattern"] == "^[a-z0-9_]+$"
    assert '<fieldset class="chips" id="param__channels"' in html  # one checkbox per choice
    assert 'name="param__channels" value="email" checked' in html
    assert (
        by_id["param__tables"]["tag"] == "textarea" and by_id["param__options"]["tag"] == "textarea"
    )
    assert '<label for="param__customer">Customer code <span class="required-mark"' in html
    assert '<option value="eu" selected>Europe</option>' in html
    assert '<input type="hidden" name="param__schema_version" value="2">' in html
    assert "<legend>Who</legend>" in html and "<legend>When</legend>" in html
    assert "An optional <strong>comment</strong> for the run log" in html
    assert re.search(r'name="dag_run_id" value="panel__[^"]+"', html)


def test_valid_form_triggers_with_the_typed_conf_and_a_resubmission_finds_the_same_run(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    data = form_data(client, param__region=["us"], param__batch_size="250", param__dry_run="true")
    response = client.post(SHOWCASE_URL, data)
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    sent = fake_airflow.calls[-1][1]
    assert sent["dag_run_id"] == data["dag_run_id"][0] == run.dag_run_id
    assert sent["conf"]["region"] == "us" and sent["conf"]["batch_size"] == 250
    assert sent["conf"]["dry_run"] is True and sent["conf"]["schema_version"] == 2
    assert sent["conf"]["channels"] == ["email"] and sent["conf"]["options"] == {"retries": 2}
    assert sent["logical_date"] is None
    again = client.post(SHOWCASE_URL, data)
    assert again["Location"] == f"/runs/{run.pk}/" and Run.objects.count() == 1


def test_invalid_input_shows_errors_next_to_fields_keeps_input_and_never_calls_airflow(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    data = form_data(client, param__customer="Not OK", param__batch_size="0", param__options="{bad")
    response = client.post(SHOWCASE_URL, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert fake_airflow.calls == [] and Run.objects.count() == 0
    assert 'value="Not OK"' in html and "{bad</textarea>" in html
    assert "This is not in the expected form. Lower-case customer code" in html
    assert "^[a-z0-9_]+$" not in html.split('id="param-fields"')[0]  # no raw regex in the summary
    assert "Enter 1 or more." in html
    assert "This is not valid JSON" in html
    assert html.count('class="form-row form-row--error"') == 3
    assert data["dag_run_id"][0] in html  # the same run id: a later fix and resubmit stays one run


def test_airflow_rejection_is_shown_with_the_input_kept_and_audited(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    fake_airflow.fail_with = AirflowValidationError(
        "The value of 'customer' is not valid: nope", param="customer"
    )
    client = client_as("operate_user")
    html = client.post(SHOWCASE_URL, form_data(client, param__customer="zeta")).content.decode()
    assert "Airflow did not start the run. The value of &#x27;customer&#x27; is not valid" in html
    assert 'value="zeta"' in html
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and event.payload["conf"]["customer"] == "zeta"


@pytest.mark.parametrize(
    "error",
    [AirflowUnavailable(), AirflowAuthError(), AirflowNotFound(), AirflowServerError()],
    ids=lambda e: type(e).__name__,
)
def test_airflow_failures_are_said_in_plain_words_on_the_form(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow, error: AirflowError
) -> None:
    fake_airflow.fail_with = error
    client = client_as("operate_user")
    response = client.post(SHOWCASE_URL, form_data(client, param__customer="kept_value"))
    html = response.content.decode()
    assert response.status_code == 200
    assert escape(f"Airflow did not start the run. {error.user_message}") in html
    assert 'value="kept_value"' in html and Run.objects.count() == 0


def test_duplicate_logical_date_is_explained_at_the_field(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    fake_airflow.fail_with = AirflowConflict("Airflow already has a run with this logical date.")
    client = client_as("operate_user")
    html = client.post(
        SHOWCASE_URL, form_data(client, logical_date="2024-05-01T10:00")
    ).content.decode()
    assert "Another run of this DAG already has this logical date" in html
    assert fake_airflow.calls[0][1]["logical_date"] == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_conf_edited_as_json_is_validated_and_sent(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    bad = form_data(client, use_conf_json="1", conf_json='{"batch_size": 0}')
    html = client.post(SHOWCASE_URL, bad).content.decode()
    assert "batch_size: Enter 1 or more." in html and fake_airflow.calls == []
    assert "not valid JSON" in client.post(SHOWCASE_URL, {**bad, "conf_json": "{"}).content.decode()
    good = {**bad, "conf_json": '{"region": "apac", "extra": true}'}
    assert client.post(SHOWCASE_URL, good).status_code == 302
    assert fake_airflow.calls[-1][1]["conf"] == {"region": "apac", "extra": True}


def test_paused_dag_says_the_run_waits_and_operate_users_may_unpause_and_trigger(
    showcase: Dag, world: World, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    Dag.objects.filter(pk=showcase.pk).update(is_paused=True)
    client = client_as("operate_user")
    html = client.get(SHOWCASE_URL).content.decode()
    assert "a run you trigger waits until someone unpauses it" in html
    assert '<label for="unpause">Unpause the DAG and trigger</label>' in html
    client.post(SHOWCASE_URL, form_data(client, unpause="1"))
    assert [c[0] for c in fake_airflow.calls] == ["pause", "trigger"]
    Dag.objects.filter(pk=world.dag("prod/finance_daily").pk).update(
        is_paused=True, params={"a": {"default": 1, "schema": {}}}
    )
    operator = client_as("operator").get("/dags/prod/finance_daily/").content.decode()
    assert "waits until someone unpauses it" in operator and 'id="unpause"' not in operator


def test_recent_confs_of_the_user_and_team_load_back_into_the_form(
    showcase: Dag, world: World, client_as: ClientAs
) -> None:
    mine = RunFactory.create(
        profile=world.prod,
        dag_id="orders_etl",
        triggered_by=world.users["operate_user"],
        conf={"customer": "zeta", "region": "apac"},
    )
    stranger = RunFactory.create(
        profile=world.prod, dag_id="orders_etl", triggered_by=world.users["outsider"]
    )
    client = client_as("operate_user")
    html = client.get(SHOWCASE_URL).content.decode()
    assert f"?from_run={mine.pk}" in html and f"?from_run={stranger.pk}" not in html
    loaded = client.get(f"{SHOWCASE_URL}?from_run={mine.pk}").content.decode()
    assert 'id="param__customer" name="param__customer"' in loaded and 'value="zeta"' in loaded
    assert '<option value="apac" selected>Asia-Pacific</option>' in loaded
    other_dag = RunFactory.create(
        profile=world.prod, dag_id="finance_daily", conf={"customer": "leak"}
    )
    assert (
        'value="leak"' not in client.get(f"{SHOWCASE_URL}?from_run={other_dag.pk}").content.decode()
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_refresh_from_airflow_matrix(
    showcase: Dag, client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 302,
        "operate_user": 302,
        "anonymous": 302,
    }
    response = client_as(persona).post(f"{SHOWCASE_URL}refresh/")
    assert response.status_code == expected[persona]
    if persona in ("superuser", "operate_user"):
        assert response["Location"] == SHOWCASE_URL
        assert ("get_dag", "orders_etl") in fake_airflow.calls


def test_trigger_needs_csrf(showcase: Dag, world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["operate_user"])
    assert client.post(SHOWCASE_URL, {}).status_code == 403
