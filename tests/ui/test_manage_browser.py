"""Browser tests of the admin forms: the connection slug filled from the name and the test
on save, the team page's member picker and removal confirmation, the History's action
picker with links. Under the production Content-Security-Policy, watched for violations.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from controlpanel.audit import Actor, record_event
from controlpanel.models import AirflowProfile, TeamMembership
from controlpanel.security_headers import CONTENT_SECURITY_POLICY
from tests.factories import MembershipFactory, RunFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.browser import SHOTS, expect, logged_in
from tests.helpers.profiles import harness_with_catalog
from tests.ui.test_csp_browser import WATCH_VIOLATIONS, assert_no_violations
from tests.world import make_auditor

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


def watched(browser: Any, live_server: Any, username: str) -> Any:
    """A logged-in page that records CSP violations (see test_csp_browser)."""
    page = logged_in(browser, live_server.url, username)
    page.add_init_script(WATCH_VIOLATIONS)
    page.csp_console = []
    page.on(
        "console",
        lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return page


@pytest.fixture
def strict_csp(settings: Any) -> None:
    """The production Content-Security-Policy, as test_csp_browser uses it."""
    settings.PANEL_CSP = CONTENT_SECURITY_POLICY


def test_the_slug_follows_the_name_and_a_wrong_password_is_a_warning_after_saving(
    browser: Any, live_server: Any, airflow: AirflowInstance, strict_csp: None
) -> None:
    UserFactory.create(username="admin", is_superuser=True, is_staff=True)
    page = watched(browser, live_server, "admin")
    page.goto(f"{live_server.url}/manage/profiles/new/")
    name, slug = page.locator("#id_name"), page.get_by_label("Slug")
    name.press_sequentially("Data Lake EU")
    expect(slug).to_have_value("data-lake-eu")
    slug.fill("lake")  # edited by hand: the name no longer changes it
    name.fill("Data Lake EU 2")
    expect(slug).to_have_value("lake")
    slug.fill("")  # emptied: it follows the name again
    name.fill("Data Lake EU 2!")
    expect(slug).to_have_value("data-lake-eu-2")

    page.get_by_label("Airflow URL").fill(airflow.url)
    page.locator("#id_username").fill("admin")
    page.get_by_label("Password or token").fill("not-the-password")
    page.get_by_label("Allow plain http").check()
    page.get_by_role("button", name="Add connection").click()
    page.wait_for_url(f"{live_server.url}/manage/profiles/")
    warning = page.locator(".message--warning", has_text="Saved, but")
    expect(warning).to_have_text(
        "Saved, but Airflow refused these credentials (401): check the password."
    )
    assert AirflowProfile.objects.filter(slug="data-lake-eu-2").exists()
    assert_no_violations(page)


def test_a_team_admin_picks_a_user_and_confirms_a_removal(
    browser: Any, live_server: Any, strict_csp: None
) -> None:
    team = TeamFactory.create(slug="analysts", name="Analysts")
    MembershipFactory.create(team=team, user=UserFactory.create(username="lead"), role="admin")
    MembershipFactory.create(team=team, user=UserFactory.create(username="bob"))
    UserFactory.create(username="ada.l", first_name="Ada", last_name="Lovelace")
    UserFactory.create(username="zed")
    page = watched(browser, live_server, "lead")
    page.goto(f"{live_server.url}/manage/teams/analysts/")

    username = page.get_by_label("Username")
    expect(username).to_have_attribute("list", "member-candidates")
    username.press_sequentially("love")  # by name: the server narrows the list
    options = page.locator("#member-candidates option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("value", "ada.l")
    username.fill("ada.l")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".message--success")).to_have_text("Added ada.l to Analysts as Member.")

    page.get_by_role("link", name="Remove bob…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove bob from Analysts?")
    assert TeamMembership.objects.filter(team=team, user__username="bob").exists()
    page.get_by_role("button", name="Remove bob").click()
    page.wait_for_url(f"{live_server.url}/manage/teams/analysts/")
    expect(page.locator(".message--success")).to_have_text("Removed bob from Analysts.")
    assert not TeamMembership.objects.filter(team=team, user__username="bob").exists()
    assert_no_violations(page)


def test_an_auditor_picks_an_action_in_plain_words_and_follows_a_run_link(
    browser: Any, live_server: Any, airflow: AirflowInstance
) -> None:
    profile = harness_with_catalog(airflow)
    auditor = UserFactory.create(username="auditor")
    make_auditor(auditor)
    operator = UserFactory.create(username="olga")
    run = RunFactory.create(
        profile=profile, dag_id="cp_quick", dag_run_id="manual__demo", state="success"
    )
    actor = Actor(operator, ip_address="10.0.0.7")
    record_event(actor, "dag.pause", outcome="succeeded", profile=profile, dag_id="cp_quick")
    for dag_run_id in ("manual__demo", "manual__gone"):
        record_event(
            actor,
            "dag.trigger",
            outcome="succeeded",
            profile=profile,
            dag_id="cp_quick",
            dag_run_id=dag_run_id,
        )
    page = logged_in(browser, live_server.url, "auditor")
    page.goto(f"{live_server.url}/audit/")
    page.get_by_label("Action").select_option(label="Triggered a run")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"action=dag\.trigger"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Triggered a run")
    page.screenshot(path=str(SHOTS / "audit-filter.png"), full_page=True)
    page.get_by_role("link", name="Run manual__demo").click()
    page.wait_for_url(f"{live_server.url}/runs/{run.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Run manual__demo")
