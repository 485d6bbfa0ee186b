"""The panel's trigger form sends what Airflow's own form sends, on Airflow 2.11 and 3.1.8.

Airflow's two example DAGs that use every trigger-form feature (copied into the harness from
the installed Airflow package) are triggered twice per Airflow version, in the same test:
once through Airflow's own form in headless chromium (tests/parity/airflow_forms.py), once
through the panel's form as a browser posts it (the page as drawn, then the same choices),
and the two runs' conf, as Airflow stored them, are compared key by key and type by type
(as JSON text: ``3``, ``3.0`` and ``"3"`` differ).

Where Airflow 2 and 3 disagree with each other the panel follows one rule on both, and the
test says which (see README "Trigger forms"):
- lines of a string list: trimmed, empty lines dropped (Airflow 2; Airflow 3 keeps them);
- an edited date-time: the panel sends ``+00:00`` with seconds (Airflow 2 sends what was
  typed; Airflow 3 ``...:00.000Z`` without seconds): the same instant is compared.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import AirflowProfile, Run
from controlpanel.services import catalog
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance, major_version
from tests.helpers.profiles import harness_profile
from tests.parity.airflow_forms import REQUIRED_TEXT, AirflowFormSession, Edit
from tests.parity.cases import GREETER, TUTORIAL, as_json, tutorial_edits
from tests.ui.browser_form import form_submission

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def panel(airflow_any: AirflowInstance) -> tuple[AirflowProfile, Client]:
    """The harness profile with both example DAGs in the catalog, and an operator's client."""
    profile = harness_profile(airflow_any)
    catalog.refresh_catalog(profile)
    for dag_id in (TUTORIAL, GREETER):
        catalog.refresh_dag(profile, dag_id)
    operator = UserFactory.create(username="parity_operator")
    team = TeamFactory.create(slug="parity")
    MembershipFactory.create(team=team, user=operator)
    GrantFactory.create(team=team, profile=profile, level="trigger", dag_ids=[TUTORIAL, GREETER])
    client = Client()
    client.force_login(operator)
    return profile, client


def trigger_in_panel(
    panel: tuple[AirflowProfile, Client],
    form: AirflowFormSession,
    dag_id: str,
    changes: dict[str, list[str] | None],
) -> dict[str, Any]:
    """Post the panel's form as drawn, with ``changes`` (None: nothing posted, as for an
    unticked box); return the conf Airflow stored for the run."""
    profile, client = panel
    url = f"/dags/{profile.slug}/{dag_id}/"
    data: dict[str, Any] = form_submission(client.get(url).content.decode(), "trigger-form")
    for name, value in changes.items():
        data.pop(f"param__{name}", None)
        if value is not None:
            data[f"param__{name}"] = value
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    run = Run.objects.filter(dag_id=dag_id).latest("id")
    return form.run_conf(dag_id, run.dag_run_id)


def required_filled() -> dict[str, list[str] | None]:
    return {"required_field": [REQUIRED_TEXT]}


def test_tutorial_defaults_are_sent_as_airflow_sends_them(
    panel: tuple[AirflowProfile, Client], form: AirflowFormSession
) -> None:
    airflow = form.trigger(TUTORIAL, {})
    ours = trigger_in_panel(panel, form, TUTORIAL, required_filled())
    assert as_json(ours) == as_json(airflow)


def test_greeter_defaults_and_edits_are_sent_as_airflow_sends_them(
    panel: tuple[AirflowProfile, Client], form: AirflowFormSession
) -> None:
    assert as_json(trigger_in_panel(panel, form, GREETER, {})) == as_json(form.trigger(GREETER, {}))
    edits = {"names": Edit.typed("Ann\nBob"), "german": Edit.untick()}
    ours = trigger_in_panel(panel, form, GREETER, {"names": ["Ann\r\nBob"], "german": None})
    assert as_json(ours) == as_json(form.trigger(GREETER, edits))


def panel_changes(major: int) -> dict[str, list[str] | None]:
    """The choices of ``tutorial_edits`` as the panel's widgets post them."""
    number, text, lines = ("x", "text", "a_simple_list")
    if major >= 3:
        number, text, lines = ("number_param", "text_param", "list_param")
    changes: dict[str, list[str] | None] = {
        number: ["7"],
        "most_loved_number": ["21"],
        "optional_field": [""],
        text: [""],
        "multi_select": ["one", "four"],  # chips: the ticked boxes
        "multi_select_with_label": ["1", "5"],
        "multiline_text": ["first line\r\nsecond line\r\n  third indented"],
        "array_of_objects": ['[{"name": "n1", "country": "c1"}, {"name": "n2"}]'],
        "array_of_numbers": ["4\r\n5.5"],  # one number per line
        "object": ['{"a": 1}'],
        lines: ["alpha\r\n beta \r\n\r\ngamma"],
        "bool": None,  # unticked
        "pick_one": ["value 17"],
        "pick_with_label": ["7"],
        "date": ["2024-05-06"],
        "time": ["07:08:09"],
        "required_field": [REQUIRED_TEXT],
    }
    if major >= 3:
        changes["date_time"] = ["2024-05-06T07:08"]  # what the picker shows, in UTC
    else:
        changes["date_time"] = ["2024-05-06T07:08:09"]
        changes["checked_number"] = ["99.5"]
    return changes


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_tutorial_edits_are_sent_as_airflow_sends_them(
    panel: tuple[AirflowProfile, Client], form: AirflowFormSession
) -> None:
    major = major_version(form.version)
    airflow = form.trigger(TUTORIAL, tutorial_edits(major))
    ours = trigger_in_panel(panel, form, TUTORIAL, panel_changes(major))
    lines = "list_param" if major >= 3 else "a_simple_list"
    # The two documented differences first, then every other key by JSON text.
    assert ours[lines] == ["alpha", "beta", "gamma"]  # Airflow 2's rule, on both versions
    assert instant(ours["date_time"]) == instant(airflow["date_time"])
    assert ours["date_time"].endswith("+00:00")
    same = {key for key in airflow if key not in (lines, "date_time")}
    assert set(ours) == set(airflow)
    assert {k: as_json(ours)[k] for k in same} == {k: as_json(airflow)[k] for k in same}
    assert json.dumps(ours["array_of_numbers"]) == "[4, 5.5]"
