"""Browser test helpers: Playwright's ``expect``, people with one grant, a logged-in page.

Importing this module skips the importing test module when Playwright is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from controlpanel.models import AirflowProfile
from tests.factories import PASSWORD, GrantFactory, MembershipFactory, TeamFactory, UserFactory

expect = pytest.importorskip("playwright.sync_api").expect

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def person(name: str, profile: AirflowProfile, level: str | None, **selector: Any) -> Any:
    """A user in a team of their own with one grant on the harness profile."""
    user = UserFactory.create(username=name)
    if level:
        team = TeamFactory.create(slug=f"{name}-team")
        MembershipFactory.create(team=team, user=user)
        GrantFactory.create(team=team, profile=profile, level=level, **selector)
    return user


def landing_page(base_url: str) -> re.Pattern[str]:
    """Where signing in leads: the catalog, or the overview for an auditor in no team."""
    return re.compile(rf"^{re.escape(base_url)}/(overview/)?$")


def logged_in(browser: Any, base_url: str, username: str, **options: Any) -> Any:
    """A new browser context and page, logged in through the login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(landing_page(base_url))
    return page
