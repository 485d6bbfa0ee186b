"""Browser test of the two-person rule: request on the DAG page, approve, watch the run live.

Headless Debian chromium against a live panel, the real Airflow harness and a real Celery
worker (which polls the run into the database the run page reads).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from controlpanel.models import AirflowProfile, Run
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.browser import expect, logged_in
from tests.helpers.celery import CeleryProcesses
from tests.helpers.profiles import harness_with_catalog

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]
RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def harness(panel_airflow: AirflowInstance) -> AirflowProfile:
    """ann triggers cp_quick only with the approval of the managers (max), who view it."""
    profile = harness_with_catalog(panel_airflow)
    analysts, managers = TeamFactory.create(slug="analysts"), TeamFactory.create(slug="managers")
    MembershipFactory.create(team=analysts, user=UserFactory.create(username="ann"))
    MembershipFactory.create(team=managers, user=UserFactory.create(username="max"))
    GrantFactory.create(
        team=analysts,
        profile=profile,
        dag_ids=["cp_quick"],
        level="trigger",
        requires_approval=True,
        approver_team=managers,
    )
    GrantFactory.create(team=managers, profile=profile, dag_ids=["cp_quick"], level="view")
    return profile


def test_a_request_approved_by_a_manager_runs_and_the_run_page_names_both(
    browser: Any, live_server: Any, harness: AirflowProfile, celery_processes: CeleryProcesses
) -> None:
    ann = logged_in(browser, live_server.url, "ann")
    ann.goto(f"{live_server.url}/dags/harness/cp_quick/")
    ann.get_by_label("Reason").fill("rerun for the auditors")
    ann.get_by_role("button", name="Request approval").click()
    ann.wait_for_url(re.compile(r"/approvals/\d+/$"))
    expect(ann.locator("h1")).to_contain_text("Pending")

    max_ = logged_in(browser, live_server.url, "max")
    expect(max_.locator("#nav-approvals .nav-badge")).to_have_text("1")
    max_.locator("#nav-approvals").click()
    max_.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    expect(max_.locator("#reason")).to_have_text("rerun for the auditors")
    max_.get_by_label("Comment").fill("go ahead")
    max_.get_by_role("button", name="Approve and start the run").click()
    max_.wait_for_url(re.compile(r"/runs/\d+/$"))
    expect(max_.locator("#approved-by")).to_contain_text("max")
    expect(max_.locator("#run-live .run-state .state")).to_have_text(
        "Succeeded", timeout=RUN_TIMEOUT_MS
    )
    run = Run.objects.select_related("triggered_by", "approved_by").get(
        pk=int(max_.url.rstrip("/").rsplit("/", 1)[1])
    )
    assert run.triggered_by is not None and run.approved_by is not None
    assert (run.triggered_by.username, run.approved_by.username) == ("ann", "max")
    ann.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(ann.locator("#approved-by")).to_contain_text("max")
