"""The approval pages against the real Airflow: request on the DAG page, decide, the run page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from controlpanel.models import AirflowProfile, ApprovalRequest, Run
from controlpanel.services import catalog
from dags_api import AirflowClient
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.forms import form_data
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]
URL = "/dags/harness/cp_params_showcase/"


@pytest.fixture
def profile(panel_airflow: AirflowInstance) -> AirflowProfile:
    """ann triggers cp_params_showcase only with the approval of the managers (max)."""
    profile = harness_profile(panel_airflow)
    profile.track_external_runs = False
    profile.save()
    catalog.refresh_catalog(profile)
    catalog.refresh_dag(profile, "cp_params_showcase")
    analysts, managers = TeamFactory.create(slug="analysts"), TeamFactory.create(slug="managers")
    MembershipFactory.create(team=analysts, user=UserFactory.create(username="ann"))
    MembershipFactory.create(team=managers, user=UserFactory.create(username="max"))
    GrantFactory.create(
        team=analysts,
        profile=profile,
        dag_ids=["cp_params_showcase"],
        level="trigger",
        requires_approval=True,
        approver_team=managers,
    )
    return profile


def login(username: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(username=username))
    return client


def test_request_on_the_dag_page_then_approve_shows_both_people_on_the_run(
    profile: AirflowProfile, panel_admin_client: AirflowClient
) -> None:
    ann, max_ = login("ann"), login("max")
    page = ann.get(URL).content.decode()
    assert "Request approval" in page and 'name="reason"' in page
    missing = ann.post(URL, form_data(ann, URL, param__batch_size="250"))
    assert missing.status_code == 200 and "Say why this run is needed." in missing.content.decode()
    assert not ApprovalRequest.objects.exists()

    data = form_data(ann, URL, param__batch_size="250", reason="quarter close")
    asked = ann.post(URL, data)
    approval = ApprovalRequest.objects.get()
    assert asked["Location"] == f"/approvals/{approval.pk}/"
    assert f"/approvals/{approval.pk}/" in ann.get(URL).content.decode()  # pending, on the DAG page
    assert f"/approvals/{approval.pk}/" in ann.get("/runs/").content.decode()  # and the runs list
    assert "pending-approvals" not in max_.get("/runs/").content.decode()
    assert 'id="nav-approvals"' in ann.get("/").content.decode()
    assert "nav-badge" not in ann.get("/").content.decode()  # nobody approves their own
    assert 'class="nav-badge"' in max_.get("/").content.decode()

    detail = max_.get(f"/approvals/{approval.pk}/").content.decode()
    changed = re.findall(r'<tr class="conf-changed">\s*<th scope="row">([^<]+)', detail)
    assert [label.strip() for label in changed] == ["batch_size"]
    assert "approve-button" in detail and "quarter close" in detail
    assert "approve-button" not in ann.get(f"/approvals/{approval.pk}/").content.decode()
    assert login("outsider").get(f"/approvals/{approval.pk}/").status_code == 404

    decided = max_.post(f"/approvals/{approval.pk}/decide/", {"decision": "approve"})
    assert ApprovalRequest.objects.get().trigger_error == ""
    run = Run.objects.get()
    # max approves but may not view the DAG: back to the request, which names the run
    assert decided["Location"] == f"/approvals/{approval.pk}/"
    assert run.dag_run_id in max_.get(decided["Location"]).content.decode()
    run_page = ann.get(f"/runs/{run.pk}/").content.decode()
    assert re.search(r'id="approved-by">max ', run_page)
    assert (
        panel_admin_client.get_dag_run("cp_params_showcase", run.dag_run_id).conf["batch_size"]
        == 250
    )
    again = max_.post(f"/approvals/{approval.pk}/decide/", {"decision": "reject"}, follow=True)
    assert "already approved" in again.content.decode()
