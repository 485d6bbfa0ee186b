"""Sign-in through a real LDAP directory (Debian's slapd, tests/harness/ldap.py).

The panel's own login form, Django's test client: the password goes to the directory
first, then to the panel's own accounts. ``tests/ui/test_ldap_browser.py`` signs in with
chromium.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, DirectoryAccount
from controlpanel.services import tokens
from controlpanel.services import users as user_services
from controlpanel.services.directory import DISABLED, NAME_TAKEN
from controlpanel.views.auth import ONLY_SUPERUSERS, LoginForm
from tests.conftest import LDAP_GROUPS, LDAP_USERS
from tests.factories import PASSWORD
from tests.harness.airflow import free_port
from tests.harness.ldap import (
    LdapServer,
    group_dn,
    panel_settings,
    start_slapd,
    user_dn,
    write_certificates,
)
from tests.world import World

WRONG = html.escape(str(LoginForm.error_messages["invalid_login"]))


@pytest.fixture
def ldap(ldap_server: LdapServer, settings: Any, world: World) -> Iterator[LdapServer]:
    """The panel signs in through slapd; finance-viewers maps the finance group's DN."""
    for name, value in panel_settings(ldap_server).items():
        setattr(settings, name, value)
    settings.DIRECTORY_ROLE_GROUPS = {
        "ldap": {"admin": ["panel-admins"], "auditor": [group_dn("auditors")]}
    }
    team = world.teams["finance-viewers"]
    team.directory_groups = [group_dn("finance")]
    team.save()
    yield ldap_server
    for cn, members in LDAP_GROUPS.items():  # put back what a test changed
        ldap_server.set_members(cn, members)


def sign_in(client: Client, username: str, password: str | None = None) -> Any:
    """Post the panel's login form."""
    password = LDAP_USERS[username] if password is None else password
    return client.post("/accounts/login/", {"username": username, "password": password})


def my_teams(client: Client) -> list[str]:
    return [team["slug"] for team in client.get("/api/me/").json()["teams"]]


def dag_ids(client: Client) -> list[str]:
    return [row["dag_id"] for row in client.get("/api/dags/").json()["results"]]


def last_login_event() -> AuditEvent:
    return AuditEvent.objects.filter(action="auth.login").latest("id")


# --- signing in ---------------------------------------------------------------------------


def test_first_sign_in_creates_the_user_in_the_team_and_shows_its_dags(ldap: LdapServer) -> None:
    client = Client()
    response = sign_in(client, "dana")
    assert response.status_code == 302 and response["Location"] == "/"
    assert my_teams(client) == ["finance-viewers"]
    assert dag_ids(client) == ["finance_daily", "finance_monthly"]
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@example.invalid" and not dana.has_usable_password()
    account = DirectoryAccount.objects.get(user=dana)
    assert (account.provider, account.subject) == ("ldap", user_dn("dana"))
    assert group_dn("finance") in account.groups and "finance" in account.groups
    login = last_login_event()
    assert (login.outcome, login.actor) == (AuditEvent.Outcome.SUCCEEDED, dana)
    assert (login.source, login.payload) == (AuditEvent.Source.DIRECTORY, {"provider": "ldap"})
    for action in ("user.create", "member.add"):
        assert AuditEvent.objects.get(action=action).source == AuditEvent.Source.DIRECTORY


def test_the_username_is_spelled_as_in_the_directory_whatever_was_typed(
    ldap: LdapServer,
) -> None:
    """LDAP compares uids without regard to case; the panel user is named as the directory says."""
    client = Client()
    typed = {"username": "DANA", "password": LDAP_USERS["dana"]}
    assert client.post("/accounts/login/", typed).status_code == 302
    assert client.get("/api/me/").json()["username"] == "dana"
    assert not get_user_model().objects.filter(username="DANA").exists()


def test_someone_removed_from_the_group_loses_the_team_at_the_next_sign_in(
    ldap: LdapServer,
) -> None:
    assert sign_in(Client(), "dana").status_code == 302
    ldap.remove_from_group("finance", "dana")
    client = Client()
    assert sign_in(client, "dana").status_code == 302
    assert my_teams(client) == [] and dag_ids(client) == []
    removed = AuditEvent.objects.get(action="member.remove")
    assert removed.payload["team"] == "finance-viewers"
    assert removed.source == AuditEvent.Source.DIRECTORY


def test_an_auditor_group_reads_the_history_and_an_admin_group_makes_admins(
    ldap: LdapServer,
) -> None:
    rita = Client()
    sign_in(rita, "rita")
    assert rita.get("/audit/").status_code == 200
    assert rita.get("/api/audit/").status_code == 200
    sign_in(Client(), "alex")
    assert get_user_model().objects.get(username="alex").is_superuser
    erin = Client()
    sign_in(erin, "erin")
    assert erin.get("/api/audit/").status_code == 403


def test_a_wrong_password_is_refused_in_plain_words_and_audited(ldap: LdapServer) -> None:
    client = Client()
    response = sign_in(client, "dana", "not-her-password")
    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert client.get("/api/me/").status_code == 401
    failed = last_login_event()
    assert (failed.outcome, failed.actor_username) == (AuditEvent.Outcome.FAILED, "dana")
    assert not get_user_model().objects.filter(username="dana").exists()


def test_wrong_directory_passwords_count_toward_the_login_lockout(
    ldap: LdapServer, settings: Any
) -> None:
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(client, "dana", "guess")
    locked = sign_in(client, "dana")  # the right password, refused without being checked
    assert locked.status_code == 429
    assert client.get("/api/me/").status_code == 401
    assert AuditEvent.objects.filter(action="auth.lockout").count() == 1


def test_a_user_disabled_in_the_panel_stays_refused(ldap: LdapServer, world: World) -> None:
    sign_in(Client(), "dana")
    dana = get_user_model().objects.get(username="dana")
    user_services.deactivate_user(Actor(user=world.users["superuser"]), dana)
    before = AuditEvent.objects.filter(action="auth.login").count()
    client = Client()
    response = sign_in(client, "dana")
    assert response.status_code == 200
    assert html.escape(DISABLED) in response.content.decode()
    assert client.get("/api/me/").status_code == 401
    denied = last_login_event()
    assert (denied.outcome, denied.actor) == (AuditEvent.Outcome.DENIED, dana)
    assert AuditEvent.objects.filter(action="auth.login").count() == before + 1  # not twice


def test_a_directory_username_that_belongs_to_an_account_made_by_hand_is_refused(
    ldap: LdapServer, world: World
) -> None:
    response = sign_in(Client(), "viewer")
    assert html.escape(NAME_TAKEN.format(username="viewer")) in response.content.decode()
    assert not DirectoryAccount.objects.exists()
    assert last_login_event().outcome == AuditEvent.Outcome.DENIED


def test_tokens_of_a_user_who_lost_access_see_nothing_more(ldap: LdapServer) -> None:
    sign_in(Client(), "dana")
    dana = get_user_model().objects.get(username="dana")
    _, plaintext = tokens.create_token(Actor(user=dana), dana, "dana's script")
    script = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert dag_ids(script) == ["finance_daily", "finance_monthly"]
    ldap.remove_from_group("finance", "dana")
    sign_in(Client(), "dana")
    assert script.get("/api/me/").json()["teams"] == []
    assert dag_ids(script) == []
    assert script.get("/api/dags/prod/finance_daily/").status_code == 404


def test_active_directory_memberof_groups_map_by_name(
    ldap: LdapServer, settings: Any, world: World
) -> None:
    """LDAP_GROUP_TYPE=memberOf reads the user's memberOf (slapd's overlay plays AD)."""
    settings.LDAP_GROUP_TYPE = "memberOf"
    settings.LDAP_GROUP_SEARCH_BASE = ""
    team = world.teams["finance-viewers"]
    team.directory_groups = ["Finance"]  # a group's name, in another case
    team.save()
    client = Client()
    assert sign_in(client, "dana").status_code == 302
    assert my_teams(client) == ["finance-viewers"]
    account = DirectoryAccount.objects.get(user__username="dana")
    assert account.groups == [group_dn("finance"), "finance"]


# --- the panel's own accounts next to the directory -----------------------------------------


def test_panel_accounts_still_sign_in_with_their_password(ldap: LdapServer, world: World) -> None:
    client = Client()
    assert sign_in(client, "operator", PASSWORD).status_code == 302
    assert client.get("/api/me/").json()["username"] == "operator"
    assert last_login_event().source == AuditEvent.Source.WEB


def test_with_password_login_off_the_form_takes_directory_users_and_superusers_only(
    ldap: LdapServer, settings: Any, world: World
) -> None:
    settings.PASSWORD_LOGIN = False
    page = Client().get("/accounts/login/").content.decode()
    assert 'name="password"' in page
    refused = sign_in(Client(), "operator", PASSWORD)
    assert html.escape(ONLY_SUPERUSERS) in refused.content.decode()
    assert last_login_event().outcome == AuditEvent.Outcome.DENIED
    assert sign_in(Client(), "dana").status_code == 302
    assert sign_in(Client(), "superuser", PASSWORD).status_code == 302


def test_superusers_sign_in_while_the_directory_is_down(
    ldap: LdapServer, settings: Any, world: World
) -> None:
    settings.LDAP_SERVER_URI = f"ldap://127.0.0.1:{free_port()}"  # nothing listens there
    client = Client()
    response = sign_in(client, "dana")
    assert response.status_code == 200 and WRONG in response.content.decode()
    assert sign_in(client, "superuser", PASSWORD).status_code == 302


# --- settings ------------------------------------------------------------------------------

LDAP = {
    "DEBUG": "1",
    "LDAP_SERVER_URI": "ldaps://ldap.example.invalid",
    "LDAP_USER_SEARCH_BASE": "ou=people,dc=example,dc=org",
    "LDAP_GROUP_SEARCH_BASE": "ou=groups,dc=example,dc=org",
}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"LDAP_SERVER_URI": "ldap.example.invalid"}, "LDAP_SERVER_URI must be an ldap://"),
        ({"LDAP_USER_SEARCH_BASE": ""}, "set LDAP_USER_SEARCH_BASE too"),
        ({"LDAP_USER_FILTER": "(uid=someone)"}, "LDAP_USER_FILTER must contain %(user)s"),
        ({"LDAP_GROUP_TYPE": "posixGroup"}, "LDAP_GROUP_TYPE must be groupOfNames or memberOf"),
        ({"LDAP_GROUP_SEARCH_BASE": ""}, "needs LDAP_GROUP_SEARCH_BASE"),
    ],
)
def test_bad_ldap_settings_stop_the_panel_at_start(
    load_settings: Any, overrides: dict[str, str], problem: str
) -> None:
    result = load_settings(**{**LDAP, **overrides})
    assert result.returncode != 0
    assert problem in result.stderr


def test_ldap_alone_allows_password_login_off_and_the_bind_password_may_come_from_a_file(
    load_settings: Any, tmp_path: Path
) -> None:
    secret = tmp_path / "bind-password"
    secret.write_text("from-a-file\n")
    env = {**LDAP, "PASSWORD_LOGIN": "0", "LDAP_GROUP_TYPE": "memberOf"}
    result = load_settings(**env, LDAP_BIND_PASSWORD_FILE=str(secret))
    assert result.returncode == 0, result.stderr


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(ldap_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second slapd offering StartTLS with a certificate from a throwaway CA."""
    server = start_slapd(tmp_path_factory.mktemp("slapd-tls"), LDAP_USERS, LDAP_GROUPS, tls=True)
    yield server
    server.stop()


@pytest.fixture
def over_tls(tls_server: LdapServer, settings: Any, world: World) -> LdapServer:
    """The panel signs in through the TLS slapd with StartTLS."""
    for name, value in panel_settings(tls_server).items():
        setattr(settings, name, value)
    settings.LDAP_START_TLS = True
    return tls_server


def test_start_tls_trusts_the_ca_of_ldap_ca_cert_file(over_tls: LdapServer, settings: Any) -> None:
    settings.LDAP_CA_CERT_FILE = str(over_tls.workdir / "ca.pem")
    client = Client()
    assert sign_in(client, "dana").status_code == 302
    assert client.get("/api/me/").json()["username"] == "dana"


def test_start_tls_refuses_a_certificate_from_another_ca(
    over_tls: LdapServer, settings: Any, tmp_path: Path
) -> None:
    settings.LDAP_CA_CERT_FILE = str(write_certificates(tmp_path))  # a CA that signed nothing
    response = sign_in(Client(), "dana")
    assert response.status_code == 200 and WRONG in response.content.decode()
    assert not get_user_model().objects.filter(username="dana").exists()
