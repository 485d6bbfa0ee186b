"""The run page in a phone-sized browser: a run that failed, retried from the page, against the
real Airflow (polled in the test's own process while the page refreshes its live part)."""

from __future__ import annotations

import itertools
import re
import uuid
from typing import Any

import pytest

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, Run
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import start_run
from tests.helpers.browser import SHOTS, expect, logged_in, person
from tests.helpers.polling import finished, poll_until
from tests.helpers.profiles import harness_with_catalog

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# Every text the page's status region says, in order (a refresh with no change says nothing).
RECORD_ANNOUNCEMENTS = """() => {
    window.__said = [];
    const region = document.getElementById('run-announcer');
    new MutationObserver(() => window.__said.push(region.textContent))
        .observe(region, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def harness(panel_airflow: AirflowInstance) -> AirflowProfile:
    return harness_with_catalog(panel_airflow)


def test_a_failed_then_retried_run_fits_a_phone_and_tells_its_story(
    browser: Any, live_server: Any, harness: AirflowProfile
) -> None:
    user = person("etl_operator", harness, "operate", dag_ids=["cp_etl"])
    run = start_run(
        Actor(user=user),
        harness.dags.get(dag_id="cp_etl"),
        conf={"fail_at": "transform", "fail_mode": "first_try"},
        dag_run_id=f"panel__nightly_orders_reload_with_a_long_run_id_{uuid.uuid4().hex}",
    )
    poll_until(harness, finished(run))

    desktop = logged_in(browser, live_server.url, "etl_operator")
    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    phone.add_cookies(desktop.context.cookies())
    page = phone.new_page()
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#run-live .run-state .state")).to_have_text("Failed")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name=re.compile("Show log tail")).first.click()
    expect(page.locator("pre.log")).to_contain_text("Deliberate failure in transform")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_text("Retry failed tasks").click()
    confirm = page.get_by_role("button", name="Yes, retry them")
    expect(confirm).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    confirm.click()
    page.wait_for_url(re.compile(rf"/runs/{run.pk}/$"))
    page.evaluate(RECORD_ANNOUNCEMENTS)
    poll_until(harness, finished(run))
    assert Run.objects.get(pk=run.pk).state == "success"
    expect(page.locator("#run-live .run-state .state")).to_have_text("Succeeded", timeout=15_000)

    timeline = page.locator(".timeline-table")
    expect(timeline).to_contain_text("Failed → Queued again (retry by etl_operator)")
    expect(timeline).to_contain_text("Skipped: an upstream task failed → Queued again")
    assert "upstream_failed" not in timeline.inner_text()
    said = page.evaluate("window.__said")
    assert said and said[-1] == "Succeeded. Every task finished.", said
    assert all(a != b for a, b in itertools.pairwise(said)), said

    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert max(widths[:2]) <= PHONE["width"], widths
    page.screenshot(path=str(SHOTS / "run-page.png"), full_page=True)
    phone.close()
