"""Browser test of the user and API token pages: an admin sets up a user, who makes a token.

Headless Debian chromium against a live panel under the production Content-Security-Policy
(the copy button is a static script); the token is then used (and refused once revoked) by
``requests``, as a script would.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from controlpanel.models import AuditEvent, TeamMembership
from controlpanel.security_headers import CONTENT_SECURITY_POLICY
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.helpers.browser import SHOTS, expect, landing_page, logged_in

pytestmark = pytest.mark.django_db(transaction=True)
# Runs before any page script; records every violation the page reports.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + e.sourceFile);
});
"""


def some_people() -> None:
    """An admin and a few colleagues in teams, so the list looks like a real one."""
    UserFactory.create(username="root", is_superuser=True, is_staff=True, first_name="Ruth")
    finance, ops = (
        TeamFactory.create(slug="finance", name="Finance"),
        TeamFactory.create(slug="etl-ops", name="ETL operations"),
    )
    for name, team, role in [
        ("fatima", finance, TeamMembership.Role.ADMIN),
        ("li", finance, TeamMembership.Role.MEMBER),
        ("oskar", ops, TeamMembership.Role.MEMBER),
    ]:
        MembershipFactory.create(team=team, user=UserFactory.create(username=name), role=role)


def sign_in(browser: Any, base_url: str, username: str, password: str) -> Any:
    """A fresh browser signed in through the login form with this password."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(landing_page(base_url))
    return page


def create_dana(admin: Any) -> str:
    """The admin adds dana, makes her an audit reviewer and resets her password; returns it."""
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Manage").click()
    admin.get_by_role("link", name="Users").click()
    admin.get_by_role("link", name="Add a user").click()
    admin.get_by_label("Username").fill("dana")
    admin.get_by_label("Email").fill("dana@example.invalid")
    admin.get_by_label("First name").fill("Dana")
    admin.get_by_label("None yet: set one later with Reset password").check()
    admin.get_by_role("button", name="Add user").click()
    expect(admin.locator("h1")).to_have_text("dana")
    expect(admin.get_by_text("User dana created.")).to_be_visible()

    admin.get_by_role("link", name="Edit, or deactivate").click()
    admin.get_by_label("Audit reviewer").check()
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator(".tag", has_text="Audit reviewer")).to_be_visible()

    admin.get_by_role("link", name="Reset password").click()
    admin.get_by_role("button", name="Set the new password").click()
    expect(admin.get_by_text("it will not be shown again")).to_be_visible()
    password = str(admin.locator("#secret-value").input_value())
    admin.get_by_role("link", name="Done").click()
    expect(admin.locator("#secret-value")).to_have_count(0)
    assert password not in admin.content()
    return password


def test_an_admin_sets_up_a_user_who_signs_in_and_manages_a_token(
    browser: Any, live_server: Any, settings: Any
) -> None:
    settings.PANEL_CSP = CONTENT_SECURITY_POLICY
    some_people()
    admin = logged_in(browser, live_server.url, "root")
    admin.add_init_script(WATCH_VIOLATIONS)
    password = create_dana(admin)
    assert admin.evaluate("window.__csp") == []
    admin.goto(f"{live_server.url}/manage/users/")
    expect(admin.get_by_role("link", name="Finance")).to_have_count(2)
    admin.screenshot(path=str(SHOTS / "users.png"), full_page=True)
    reset = AuditEvent.objects.get(action="user.password_reset")
    assert (reset.actor_username, reset.payload["user"]) == ("root", "dana")

    dana = sign_in(browser, live_server.url, "dana", password)
    expect(dana.get_by_role("link", name="History")).to_be_visible()  # audit reviewer
    expect(dana.get_by_role("link", name="API docs")).to_have_attribute("href", "/api/docs/")
    dana.get_by_role("link", name="API tokens").click()
    dana.get_by_label("Name").fill("nightly report")
    dana.get_by_label("Read-only").check()
    dana.get_by_role("button", name="Create token").click()
    expect(dana.get_by_text("it will not be shown again")).to_be_visible()
    shown = dana.locator("#secret-value").input_value()
    dana.get_by_role("button", name="Copy").click()
    expect(dana.get_by_role("status").filter(has_text="Copied.")).to_be_visible()
    copied = dana.evaluate("navigator.clipboard.readText()")
    assert copied == shown and copied.startswith("acp_")
    assert dana.evaluate("window.__csp") == []
    dana.screenshot(path=str(SHOTS / "tokens.png"), full_page=True)

    api = f"{live_server.url}/api/me/"
    bearer = {"Authorization": f"Bearer {copied}"}
    me = requests.get(api, headers=bearer, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "dana"

    reloaded = dana.reload()
    assert "script-src 'self'" in reloaded.headers["content-security-policy"]
    expect(dana.locator("#secret-value")).to_have_count(0)
    expect(dana.locator(".tokens-table tbody tr")).to_have_count(1)  # reloading made no other
    expect(dana.locator("td[data-label='Last used']")).not_to_have_text("Never")
    dana.get_by_role("link", name="Revoke nightly report").click()
    dana.get_by_role("button", name="Revoke nightly report").click()
    expect(dana.get_by_text(re.compile(r"The token nightly report .* was revoked"))).to_be_visible()
    assert requests.get(api, headers=bearer, timeout=10).status_code == 401
    for page, path in [(dana, "/accounts/tokens/"), (admin, "/manage/users/")]:
        page.set_viewport_size({"width": 390, "height": 800})
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    revoked = AuditEvent.objects.get(action="token.revoke")
    assert (revoked.actor_username, revoked.payload["user"]) == ("dana", "dana")
