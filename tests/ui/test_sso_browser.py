"""Single sign-on in a real browser: the panel's button, the provider's own login page, back.

The provider is the npm ``oidc-provider`` (tests/harness/oidc.py); its development login
page takes any password, the login naming the account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlpanel import oidc
from tests.harness.oidc import OidcProvider, start_oidc_provider
from tests.helpers.browser import expect, landing_page
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def provider(
    tmp_path: Path, live_server: Any, settings: Any, world: World, oidc_harness: None
) -> Iterator[Any]:
    """A provider for the live panel; finance-viewers maps the directory group "finance"."""
    started = start_oidc_provider(tmp_path, [f"{live_server.url}/oidc/callback/"])
    settings.OIDC_ISSUER_URL = started.issuer
    settings.OIDC_CLIENT_ID = started.client_id
    settings.OIDC_CLIENT_SECRET = started.client_secret
    settings.OIDC_ALLOW_INSECURE_HTTP = True
    oidc._client.cache_clear()
    team = world.teams["finance-viewers"]
    team.directory_groups = ["finance"]
    team.save()
    yield started
    started.stop()
    oidc._client.cache_clear()


def sign_in(browser: Any, base_url: str, login: str) -> Any:
    """A new browser context signed in through the provider's login and consent pages."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(landing_page(base_url))
    return page


def test_a_group_member_signs_in_sees_the_team_dags_and_loses_them_with_the_group(
    browser: Any, live_server: Any, provider: OidcProvider
) -> None:
    provider.set_account("dana-sub", preferred_username="dana", groups=["finance"])
    page = sign_in(browser, live_server.url, "dana-sub")
    expect(page.get_by_text("dana")).to_be_visible()
    expect(page.get_by_role("table")).to_have_accessible_name("2 DAGs you may see.")
    expect(page.get_by_role("link", name="Finance Daily", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Finance Monthly", exact=True)).to_be_visible()
    page.context.close()

    provider.set_account("dana-sub", preferred_username="dana", groups=["marketing"])
    page = sign_in(browser, live_server.url, "dana-sub")
    expect(page.get_by_text("dana")).to_be_visible()
    expect(page.get_by_role("link", name="Finance Daily", exact=True)).to_have_count(0)
    page.context.close()


def test_a_forged_answer_is_refused_in_plain_words(
    browser: Any, live_server: Any, provider: OidcProvider
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server.url}/oidc/callback/?code=stolen&state=forged")
    expect(page.get_by_role("alert")).to_have_text(oidc.EXPIRED)
    expect(page.get_by_role("link", name="Sign in with single sign-on")).to_be_visible()
    page.context.close()


def test_an_auditor_group_member_reads_the_history(
    browser: Any, live_server: Any, provider: OidcProvider, settings: Any
) -> None:
    settings.DIRECTORY_ROLE_GROUPS = {"oidc": {"admin": [], "auditor": ["auditors"]}}
    provider.set_account("rita-sub", preferred_username="rita", groups=["auditors"])
    page = sign_in(browser, live_server.url, "rita-sub")
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    expect(page.get_by_role("cell", name="user.auditor_change").first).to_be_visible()
    page.context.close()
