"""The pages still work in a real browser under the production Content-Security-Policy.

The trigger form's live preview, the run page's htmx refresh and Swagger UI at /api/docs/,
each watched for CSP violations (the ``securitypolicyviolation`` event and the console).
"""

from __future__ import annotations

from typing import Any

import pytest

from controlpanel.security_headers import CONTENT_SECURITY_POLICY
from controlpanel.services import catalog
from tests.factories import RunFactory
from tests.helpers.browser import expect, logged_in, person
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

TUTORIAL = "example_params_ui_tutorial"
# Runs before any page script; records every violation the page reports.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile);
});
"""


@pytest.fixture
def watched_page(browser: Any, live_server: Any, airflow: Any, settings: Any) -> Any:
    """An operator's page under the production policy, collecting CSP complaints."""
    settings.PANEL_CSP = CONTENT_SECURITY_POLICY
    profile = harness_profile(airflow)
    catalog.refresh_dag(profile, TUTORIAL)
    person("operator", profile, "trigger", dag_ids=[TUTORIAL])
    page = logged_in(browser, live_server.url, "operator")
    page.add_init_script(WATCH_VIOLATIONS)
    page.csp_console = []
    page.on(
        "console",
        lambda message: (
            page.csp_console.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.profile = profile
    return page


def assert_no_violations(page: Any) -> None:
    assert page.evaluate("window.__csp") == []
    assert page.csp_console == []


def test_the_trigger_forms_live_preview_works_under_the_policy(
    watched_page: Any, live_server: Any
) -> None:
    page = watched_page
    response = page.goto(f"{live_server.url}/dags/{page.profile.slug}/{TUTORIAL}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("Generated conf (JSON)").click()
    page.locator("#param__x").fill("7")
    page.wait_for_function(
        "() => { try { return JSON.parse(document.getElementById('conf_json').value).x === 7 }"
        " catch (e) { return false } }",
        timeout=10_000,
    )
    expect(page.locator("#api-call")).to_contain_text('"x": 7')
    assert_no_violations(page)


def test_the_run_page_refreshes_through_htmx_under_the_policy(
    watched_page: Any, live_server: Any
) -> None:
    page = watched_page
    run = RunFactory.create(profile=page.profile, dag_id=TUTORIAL, state="running")
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    with page.expect_response(lambda r: r.url.endswith(f"/runs/{run.pk}/live/"), timeout=15_000):
        pass  # htmx asks for the live part every 3 s
    expect(page.locator("#run-live")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"
    assert_no_violations(page)


def test_swagger_ui_works_under_the_policy(watched_page: Any, live_server: Any) -> None:
    page = watched_page
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible(timeout=15_000)
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 5
    assert_no_violations(page)
