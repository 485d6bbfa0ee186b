"""The generated trigger forms against the real Airflow harness."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import AirflowProfile, AuditEvent, Run
from controlpanel.services import catalog
from dags_api import AirflowClient
from tests.conftest import wait_for_run
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.forms import form_data
from tests.helpers.profiles import harness_profile
from tests.ui.conftest import SHOWCASE_PARAMS

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(airflow: AirflowInstance) -> tuple[Client, AirflowProfile]:
    """A logged-in user with trigger rights on the harness's cp_* DAGs (catalog synced)."""
    profile = harness_profile(airflow)
    catalog.refresh_catalog(profile)
    user = UserFactory.create(username="form_user")
    team = TeamFactory.create(slug="form-team")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(team=team, profile=profile, dag_patterns=["cp_*"], level="trigger")
    client = Client()
    client.force_login(user)
    return client, profile


def test_the_stored_showcase_params_are_what_the_unit_tests_use(
    operator: tuple[Client, AirflowProfile],
) -> None:
    _, profile = operator
    dag = catalog.refresh_dag(profile, "cp_params_showcase")
    assert dag.params == SHOWCASE_PARAMS


@pytest.mark.parametrize(
    ("dag_id", "changes", "expected"),
    [
        (
            "cp_params_showcase",
            {
                "param__region": ["apac"],
                "param__channels": ["sms", "slack"],
                "param__dry_run": "true",
                "param__batch_size": "250",
                "param__run_date": "2024-02-29",
                "param__tables": "orders\nrefunds",
                "param__comment": "from the form",
            },
            {"region": "apac", "channels": ["sms", "slack"], "dry_run": True, "batch_size": 250},
        ),
        ("cp_etl", {"param__rows": "3"}, {"fail_at": "none", "rows": 3}),
    ],
)
def test_the_generated_form_triggers_a_real_run(
    operator: tuple[Client, AirflowProfile],
    admin_client: AirflowClient,
    dag_id: str,
    changes: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    client, profile = operator
    url = f"/dags/{profile.slug}/{dag_id}/"
    response = client.post(url, form_data(client, url, **changes))
    assert response.status_code == 302, re.findall(
        r'class="field-error"[^<]*<li>([^<]*)', response.content.decode()
    )
    run = Run.objects.get(dag_id=dag_id)
    assert response["Location"] == f"/runs/{run.pk}/"
    in_airflow = admin_client.get_dag_run(dag_id, run.dag_run_id)
    assert expected.items() <= in_airflow.conf.items()
    finished = wait_for_run(admin_client, dag_id, run.dag_run_id)
    assert finished.state == "success"
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert run.dag_run_id in page


def test_invalid_input_shows_field_errors_without_calling_airflow(
    operator: tuple[Client, AirflowProfile], admin_client: AirflowClient
) -> None:
    client, profile = operator
    url = f"/dags/{profile.slug}/cp_params_showcase/"
    data = form_data(client, url, param__customer="NO!", param__threshold="7")
    before = len(admin_client.list_dag_runs(dag_ids=["cp_params_showcase"]))
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "This is not in the expected form." in html and "Enter 1 or less." in html
    assert Run.objects.count() == 0
    # Refused before Airflow, and audited like the API's refusal: failed, with the errors.
    event = AuditEvent.objects.get(action="dag.trigger")
    assert (
        event.outcome == "failed" and event.message == "The conf does not match the DAG's params."
    )
    assert set(event.payload["errors"]) == {"customer", "threshold"}
    assert len(admin_client.list_dag_runs(dag_ids=["cp_params_showcase"])) == before
