"""A trigger form sent after the session changed in another tab, in a real browser.

Headless chromium against a live panel and the real Airflow 2.11 harness: the form comes
back with what was typed and a sentence saying why; nothing is triggered until the user
presses Trigger again, which then starts the run in Airflow.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from controlpanel.models import AirflowProfile, AuditEvent, Run
from dags_api import AirflowClient, AirflowError
from tests.factories import PASSWORD
from tests.harness.airflow import AirflowInstance
from tests.helpers.browser import expect, logged_in, person
from tests.helpers.profiles import harness_with_catalog

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

DAG_ID = "cp_quick"


@pytest.fixture
def harness(airflow: AirflowInstance, admin_client: AirflowClient) -> Iterator[AirflowProfile]:
    """The harness profile; runs this test started are marked failed afterwards."""
    yield harness_with_catalog(airflow)
    for run in Run.objects.filter(dag_id=DAG_ID):
        # A run Airflow refuses to change has finished: nothing is left running either way.
        with contextlib.suppress(AirflowError):
            admin_client.set_dag_run_state(DAG_ID, run.dag_run_id, "failed")


def log_in_again(page: Any, base_url: str, username: str) -> None:
    """Log out and in again in ``page`` (a second tab: same browser, same cookies)."""
    page.goto(f"{base_url}/")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def test_a_trigger_form_sent_after_logging_in_again_keeps_its_values(
    browser: Any, live_server: Any, harness: AirflowProfile, admin_client: AirflowClient
) -> None:
    person("operator", harness, "trigger", dag_ids=[DAG_ID])
    page = logged_in(browser, live_server.url, "operator")
    page.goto(f"{live_server.url}/dags/{harness.slug}/{DAG_ID}/")
    page.locator("#param__name").fill("kept across sessions")
    page.locator("#note").fill("typed before the other tab logged in again")

    log_in_again(page.context.new_page(), live_server.url, "operator")
    page.get_by_role("button", name="Trigger run").click()

    expect(page.get_by_text("Your session changed since this page was opened")).to_be_visible()
    expect(page.locator("#param__name")).to_have_value("kept across sessions")
    expect(page.locator("#note")).to_have_value("typed before the other tab logged in again")
    assert Run.objects.filter(dag_id=DAG_ID).count() == 0
    assert not AuditEvent.objects.filter(action="dag.trigger").exists()

    page.get_by_role("button", name="Trigger run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    run = Run.objects.get(dag_id=DAG_ID)
    sent = admin_client.get_dag_run(DAG_ID, run.dag_run_id)
    assert sent.conf["name"] == "kept across sessions"
    assert run.note == "typed before the other tab logged in again"
