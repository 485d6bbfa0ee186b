"""LDAP sign-in in a real browser: the panel's own login form, the password checked by slapd.

The directory is Debian's slapd (tests/harness/ldap.py, users and groups in tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from controlpanel.audit import Actor
from controlpanel.services import users as user_services
from controlpanel.services.directory import DISABLED
from controlpanel.views.auth import LoginForm
from tests.conftest import LDAP_GROUPS, LDAP_USERS
from tests.harness.ldap import LdapServer, group_dn, panel_settings
from tests.helpers.browser import expect, landing_page
from tests.world import World

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ldap(ldap_server: LdapServer, settings: Any, world: World) -> Iterator[LdapServer]:
    """The live panel signs in through slapd; finance-viewers maps the finance group's DN."""
    for name, value in panel_settings(ldap_server).items():
        setattr(settings, name, value)
    settings.DIRECTORY_ROLE_GROUPS = {"ldap": {"admin": [], "auditor": [group_dn("auditors")]}}
    team = world.teams["finance-viewers"]
    team.directory_groups = [group_dn("finance")]
    team.save()
    yield ldap_server
    for cn, members in LDAP_GROUPS.items():
        ldap_server.set_members(cn, members)


def open_login(browser: Any, base_url: str, username: str, password: str) -> Any:
    """A new browser context that filled in and sent the panel's login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    return page


def test_a_group_member_signs_in_sees_the_team_dags_and_loses_them_with_the_group(
    browser: Any, live_server: Any, ldap: LdapServer
) -> None:
    page = open_login(browser, live_server.url, "dana", LDAP_USERS["dana"])
    page.wait_for_url(landing_page(live_server.url))
    expect(page.get_by_role("table")).to_have_accessible_name("2 DAGs you may see.")
    expect(page.get_by_role("link", name="Finance Daily", exact=True)).to_be_visible()
    page.context.close()

    ldap.remove_from_group("finance", "dana")
    page = open_login(browser, live_server.url, "dana", LDAP_USERS["dana"])
    page.wait_for_url(landing_page(live_server.url))
    expect(page.get_by_role("link", name="Finance Daily", exact=True)).to_have_count(0)
    page.context.close()


def test_an_auditor_group_member_reads_the_history(
    browser: Any, live_server: Any, ldap: LdapServer
) -> None:
    page = open_login(browser, live_server.url, "rita", LDAP_USERS["rita"])
    page.wait_for_url(landing_page(live_server.url))
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    expect(page.get_by_role("cell", name="user.auditor_change").first).to_be_visible()
    page.context.close()


def test_a_wrong_password_and_a_disabled_user_are_refused_in_plain_words(
    browser: Any, live_server: Any, ldap: LdapServer, world: World
) -> None:
    page = open_login(browser, live_server.url, "dana", "not-her-password")
    expect(page.get_by_text(str(LoginForm.error_messages["invalid_login"]))).to_be_visible()
    page.context.close()

    page = open_login(browser, live_server.url, "dana", LDAP_USERS["dana"])
    page.wait_for_url(landing_page(live_server.url))
    page.context.close()
    dana = get_user_model().objects.get(username="dana")
    user_services.deactivate_user(Actor(user=world.users["superuser"]), dana)
    page = open_login(browser, live_server.url, "dana", LDAP_USERS["dana"])
    expect(page.get_by_text(DISABLED)).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    page.context.close()
