"""Browser tests: headless Debian chromium driven by Playwright against a live panel, the
real Airflow harness and a real Celery worker (which polls Airflow into the database the
run page reads). Screenshots of the main pages go to docs/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from controlpanel.models import AirflowProfile, Dag, Run
from dags_api import AirflowClient
from tests.factories import UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.browser import SHOTS, expect, logged_in, person
from tests.helpers.celery import CeleryProcesses
from tests.helpers.profiles import harness_with_catalog
from tests.world import make_auditor

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]

RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def harness(airflow: AirflowInstance) -> AirflowProfile:
    return harness_with_catalog(airflow)


@pytest.fixture
def harness_any(panel_airflow: AirflowInstance) -> AirflowProfile:
    """The harness profile on the panel-level tests' Airflow (see tests/conftest.py)."""
    return harness_with_catalog(panel_airflow)


def test_operator_fills_the_generated_form_and_watches_the_run_succeed(
    browser: Any,
    live_server: Any,
    harness: AirflowProfile,
    celery_processes: CeleryProcesses,
    admin_client: AirflowClient,
) -> None:
    person("operator", harness, "trigger", dag_patterns=["cp_*"])
    page = logged_in(browser, live_server.url, "operator")
    expect(page.get_by_role("link", name="Params showcase", exact=True)).to_be_visible()
    page.screenshot(path=str(SHOTS / "catalog.png"), full_page=True)

    page.get_by_role("link", name="Params showcase", exact=True).click()
    page.get_by_label("Region").select_option("us")
    page.get_by_label("Dry run", exact=True).check()
    page.locator("#param__run_date").fill("2024-03-15")
    page.locator("#param__batch_size").fill("42")
    channels = page.locator("#param__channels")  # chips: plain clicks, no Ctrl
    channels.get_by_text("email", exact=True).click()
    channels.get_by_text("sms", exact=True).click()
    channels.get_by_text("slack", exact=True).click()
    page.locator("#param__tables").fill("orders\nrefunds")
    page.get_by_role("button", name="Trigger run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))

    page.evaluate("window.__not_reloaded = true")
    expect(page.locator("#run-live .run-state .state")).to_have_text(
        "Succeeded", timeout=RUN_TIMEOUT_MS
    )
    assert page.evaluate("window.__not_reloaded") is True
    expect(page.get_by_role("cell", name="Succeeded").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "run-success.png"), full_page=True)

    run = Run.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert run.dag_id == "cp_params_showcase" and run.triggered_by_id is not None
    conf = admin_client.get_dag_run("cp_params_showcase", run.dag_run_id).conf
    assert conf["region"] == "us" and conf["dry_run"] is True and conf["batch_size"] == 42
    assert conf["run_date"] == "2024-03-15" and conf["channels"] == ["sms", "slack"]
    assert conf["tables"] == ["orders", "refunds"]


def test_a_failing_run_shows_the_failed_task_and_its_log(
    browser: Any, live_server: Any, harness_any: AirflowProfile, celery_processes: CeleryProcesses
) -> None:
    harness = harness_any
    person("etl_operator", harness, "operate", dag_ids=["cp_etl"])
    page = logged_in(browser, live_server.url, "etl_operator")
    page.goto(f"{live_server.url}/dags/{harness.slug}/cp_etl/")
    page.get_by_label("fail_at").select_option("load")
    page.get_by_role("button", name="Trigger run").click()
    page.wait_for_url(re.compile(r"/runs/\d+/$"))
    page.evaluate("window.__not_reloaded = true")
    expect(page.locator("#run-live .run-state .state")).to_have_text(
        "Failed", timeout=RUN_TIMEOUT_MS
    )
    expect(page.get_by_role("heading", name=re.compile("load"))).to_be_visible()
    page.get_by_role("button", name=re.compile("Show log tail")).first.click()
    expect(page.locator("pre.log")).to_contain_text("Deliberate failure in load")
    page.get_by_text("Retry failed tasks").click()  # asks first: which tasks, then "Yes"
    expect(page.get_by_role("button", name="Yes, retry them")).to_be_visible()
    expect(page.locator("details.confirm")).to_contain_text("load")
    assert page.evaluate("window.__not_reloaded") is True
    page.screenshot(path=str(SHOTS / "run-failed.png"), full_page=True)


def test_a_viewer_sees_no_trigger_button_and_a_forged_post_is_refused(
    browser: Any, live_server: Any, harness: AirflowProfile
) -> None:
    person("viewer", harness, "view", dag_patterns=["cp_*"])
    page = logged_in(browser, live_server.url, "viewer")
    page.goto(f"{live_server.url}/dags/{harness.slug}/cp_quick/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.get_by_role("button", name="Trigger run").count() == 0
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams(
                {csrfmiddlewaretoken: token, dag_run_id: 'panel__forged'});
            const response = await fetch(location.pathname, {method: 'POST', body});
            return response.status;
        }"""
    )
    assert status == 403
    assert not Run.objects.filter(triggered_by__username="viewer").exists()


def test_an_auditor_filters_the_history_and_downloads_csv(
    browser: Any, live_server: Any, harness: AirflowProfile
) -> None:
    make_auditor(person("auditor", harness, None))
    person("someone", harness, "view", dag_ids=["cp_quick"])
    logged_in(browser, live_server.url, "someone").context.close()
    page = logged_in(browser, live_server.url, "auditor")
    page.get_by_role("link", name="History").click()
    page.get_by_label("User").fill("someone")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name=re.compile("^someone"))).to_have_count(1)
    page.screenshot(path=str(SHOTS / "history.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    assert [(r["actor_username"], r["action"]) for r in rows] == [("someone", "auth.login")]


def test_an_admin_grants_a_pattern_and_the_member_sees_exactly_those_dags(
    browser: Any, live_server: Any, harness: AirflowProfile
) -> None:
    admin = UserFactory.create(username="boss")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    UserFactory.create(username="member")
    page = logged_in(browser, live_server.url, "boss")
    page.goto(f"{live_server.url}/manage/teams/new/")
    page.get_by_label("Name").fill("Reporting")
    page.get_by_label("Slug").fill("reporting")
    page.get_by_role("button", name="Add team").click()
    page.get_by_label("Username").fill("member")
    page.get_by_role("button", name="Add member").click()
    page.get_by_label("DAG id patterns").fill("cp_p*")
    page.get_by_role("button", name="Add grant").click()
    expect(page.get_by_text("cp_p*").first).to_be_visible()

    member = logged_in(browser, live_server.url, "member")
    links = member.locator("tbody th a").all_inner_texts()
    matching = ["cp_params_showcase", "cp_paused", "cp_paused_wide"]
    granted = Dag.objects.filter(profile=harness, dag_id__in=matching)
    assert sorted(links) == sorted(dag.label for dag in granted), links
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone_page = phone.new_page()
    phone_page.context.add_cookies(member.context.cookies())
    phone_page.goto(f"{live_server.url}/")
    phone_page.screenshot(path=str(SHOTS / "catalog-phone.png"), full_page=True)
