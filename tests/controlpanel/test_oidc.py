"""Single sign-on through a real OpenID Connect provider (the npm ``oidc-provider``).

The panel is Django's test client at ``http://testserver``; the provider's login and
consent pages are filled in over HTTP like a browser would, and its redirect back is
handed to the panel's callback. ``test_browser_sso.py`` does the same in chromium.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from joserfc.jwk import RSAKey

from controlpanel import oidc
from controlpanel.audit import Actor
from controlpanel.models import AuditEvent, DirectoryAccount, TeamMembership
from controlpanel.services import users as user_services
from tests.factories import PASSWORD
from tests.harness.oidc import OidcProvider, start_oidc_provider
from tests.world import World

CALLBACK = "http://testserver/oidc/callback/"
FINANCE = "finance"


@pytest.fixture(scope="module")
def provider(
    tmp_path_factory: pytest.TempPathFactory, oidc_harness: None
) -> Iterator[OidcProvider]:
    """One provider for the module, with a client for the test panel's callback."""
    started = start_oidc_provider(tmp_path_factory.mktemp("oidc"), [CALLBACK])
    yield started
    started.stop()


def configure(settings: Any, provider: OidcProvider, **overrides: Any) -> None:
    """Point the panel's settings at ``provider``."""
    settings.OIDC_ISSUER_URL = provider.issuer
    settings.OIDC_CLIENT_ID = provider.client_id
    settings.OIDC_CLIENT_SECRET = provider.client_secret
    settings.OIDC_ALLOW_INSECURE_HTTP = True
    for name, value in overrides.items():
        setattr(settings, name, value)
    oidc._client.cache_clear()


@pytest.fixture
def sso(provider: OidcProvider, settings: Any, world: World) -> Iterator[OidcProvider]:
    """The panel signs in through ``provider``; finance-viewers maps the "finance" group."""
    configure(settings, provider)
    settings.DIRECTORY_ROLE_GROUPS = {"oidc": {"admin": ["panel-admins"], "auditor": ["auditors"]}}
    team = world.teams["finance-viewers"]
    team.directory_groups = [FINANCE]
    team.save()
    provider.set_account(
        "dana-sub", preferred_username="dana", email="dana@example.invalid", groups=[FINANCE]
    )
    yield provider
    oidc._client.cache_clear()


def to_callback(client: Client, login: str, start: str = "/oidc/login/") -> str:
    """Start at the panel, sign in on the provider's pages; the URL it sends the browser to."""
    started = client.get(start)
    assert started.status_code == 302, started.content[:500]
    url = started["Location"]
    browser = requests.Session()
    for _ in range(12):
        if url.startswith("http://testserver"):
            return url
        page = browser.get(url, allow_redirects=False, timeout=10)
        if page.is_redirect:
            url = urljoin(url, page.headers["Location"])
            continue
        action = re.search(r'<form[^>]* action="([^"]+)"', page.text)
        prompt = re.search(r'name="prompt" value="(\w+)"', page.text)
        assert action and prompt, page.text[:1000]
        form = {"prompt": prompt.group(1), "login": login, "password": "any password"}
        answer = browser.post(urljoin(url, action.group(1)), data=form, allow_redirects=False)
        url = urljoin(url, answer.headers["Location"])
    raise AssertionError(f"the provider never sent the browser back: {url}")


def local(url: str) -> str:
    """The path and query of a panel URL, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sign_in(client: Client, login: str = "dana-sub", start: str = "/oidc/login/") -> Any:
    """The panel's answer to the provider's redirect back."""
    return client.get(local(to_callback(client, login, start)))


def last_login_event() -> AuditEvent:
    return AuditEvent.objects.filter(action="auth.login").latest("id")


def my_teams(client: Client) -> list[str]:
    return [team["slug"] for team in client.get("/api/me/").json()["teams"]]


# --- signing in ---------------------------------------------------------------------------


def test_first_sign_in_creates_the_user_puts_them_in_the_team_and_logs_them_in(
    sso: OidcProvider,
) -> None:
    client = Client()
    response = sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert my_teams(client) == ["finance-viewers"]
    dana = get_user_model().objects.get(username="dana")
    assert dana.email == "dana@example.invalid"
    assert DirectoryAccount.objects.get(user=dana).subject == "dana-sub"
    login = last_login_event()
    assert (login.outcome, login.actor) == (AuditEvent.Outcome.SUCCEEDED, dana)
    assert (login.source, login.payload) == (AuditEvent.Source.DIRECTORY, {"provider": "oidc"})
    assert AuditEvent.objects.filter(action="auth.login").count() == 1
    for action in ("user.create", "member.add"):
        assert AuditEvent.objects.get(action=action).source == AuditEvent.Source.DIRECTORY


def test_someone_removed_from_the_group_loses_the_team_at_the_next_sign_in(
    sso: OidcProvider,
) -> None:
    sign_in(Client())
    sso.set_account("dana-sub", preferred_username="dana", groups=["something-else"])
    client = Client()
    assert sign_in(client).status_code == 302
    assert my_teams(client) == []
    removed = AuditEvent.objects.get(action="member.remove")
    assert removed.payload["team"] == "finance-viewers"


def test_an_auditor_group_reads_the_history(sso: OidcProvider) -> None:
    sso.set_account("rita-sub", preferred_username="rita", groups=["auditors"])
    client = Client()
    sign_in(client, "rita-sub")
    assert client.get("/audit/").status_code == 200
    assert client.get("/api/audit/").status_code == 200


def test_the_page_asked_for_is_opened_after_sign_in_but_only_on_this_site(
    sso: OidcProvider,
) -> None:
    assert sign_in(Client(), start="/oidc/login/?next=/runs/")["Location"] == "/runs/"
    elsewhere = "/oidc/login/?next=https://evil.example.invalid/"
    assert sign_in(Client(), start=elsewhere)["Location"] == "/"


def test_a_user_disabled_in_the_panel_stays_refused(sso: OidcProvider, world: World) -> None:
    sign_in(Client())
    dana = get_user_model().objects.get(username="dana")
    user_services.deactivate_user(Actor(user=world.users["superuser"]), dana)
    client = Client()
    response = sign_in(client)
    assert response.status_code == 403
    assert "This account is disabled in the panel" in response.content.decode()
    assert client.get("/api/me/").status_code == 401
    assert last_login_event().outcome == AuditEvent.Outcome.DENIED


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_the_client_authenticates_as_oidc_token_auth_method_says(
    sso: OidcProvider, settings: Any, method: str
) -> None:
    configure(settings, sso, OIDC_TOKEN_AUTH_METHOD=method)
    before = len(sso.token_auth_methods())
    assert sign_in(Client()).status_code == 302
    assert sso.token_auth_methods()[before:] == [method]


# --- answers that are refused ---------------------------------------------------------------


def assert_refused(response: Any, message: str, reason: str) -> None:
    """Refused on the login page with ``message``, audited as a failed login with ``reason``."""
    assert response.status_code in (400, 502)
    assert message in html.unescape(response.content.decode())
    event = last_login_event()
    assert event.outcome == AuditEvent.Outcome.FAILED
    assert event.source == AuditEvent.Source.DIRECTORY
    assert event.message == message
    assert reason in event.payload["reason"]
    assert not get_user_model().objects.filter(username="dana").exists()


def test_a_forged_state_is_refused(sso: OidcProvider) -> None:
    client = Client()
    url = re.sub(r"state=[^&]+", "state=forged", local(to_callback(client, "dana-sub")))
    assert_refused(client.get(url), oidc.EXPIRED, "state")


def test_a_callback_from_another_browser_is_refused(sso: OidcProvider) -> None:
    """The state belongs to the session that started the sign-in."""
    url = local(to_callback(Client(), "dana-sub"))
    assert_refused(Client().get(url), oidc.EXPIRED, "state")


def test_an_id_token_with_another_nonce_is_refused(sso: OidcProvider) -> None:
    client = Client()
    url = local(to_callback(client, "dana-sub"))
    session = client.session
    [key] = [key for key, _ in session.items() if key.startswith("_state_panel_")]
    state = session[key]
    state["data"]["nonce"] = "not-the-nonce-sent"
    session[key] = state
    session.save()
    assert_refused(client.get(url), oidc.UNVERIFIED, "nonce")


def test_an_id_token_not_signed_by_the_provider_keys_is_refused(sso: OidcProvider) -> None:
    """The panel trusts other keys (same key id) than the ones that signed the token."""
    app = oidc.client()
    real = requests.get(app.load_server_metadata()["jwks_uri"], timeout=10).json()["keys"][0]
    impostor = RSAKey.generate_key(2048, parameters={"kid": real["kid"], "alg": "RS256"})
    app.server_metadata["jwks"] = {"keys": [impostor.as_dict(private=False)]}
    client = Client()
    assert_refused(sign_in(client), oidc.UNVERIFIED, "ID token refused")


def test_a_provider_naming_another_issuer_is_refused(
    tmp_path: Path, settings: Any, world: World, oidc_harness: None
) -> None:
    provider = start_oidc_provider(tmp_path, [CALLBACK], host="localhost")
    try:
        configure(settings, provider)
        settings.OIDC_ISSUER_URL = provider.issuer.replace("localhost", "127.0.0.1")
        response = Client().get("/oidc/login/")
        assert_refused(response, oidc.WRONG_ISSUER, "wrong issuer")
    finally:
        provider.stop()
        oidc._client.cache_clear()


def test_a_sign_in_refused_at_the_provider_says_why(sso: OidcProvider) -> None:
    client = Client()
    started = client.get("/oidc/login/")
    state = re.search(r"state=([^&]+)", started["Location"])
    assert state
    url = f"/oidc/callback/?error=access_denied&error_description=End-User+aborted&state={state[1]}"
    response = client.get(url)
    assert_refused(response, "The sign-in service did not sign you in: End-User aborted", "access")


def test_an_account_without_the_username_claim_is_refused(sso: OidcProvider) -> None:
    sso.set_account("nameless-sub", email="nameless@example.invalid")
    response = sign_in(Client(), "nameless-sub")
    message = oidc.MISSING_CLAIM.format(claim="preferred_username")
    assert_refused(response, message, "no preferred_username claim")


# --- the login page ----------------------------------------------------------------------------


def test_the_login_page_offers_single_sign_on_with_its_label(
    sso: OidcProvider, settings: Any
) -> None:
    settings.OIDC_LOGIN_LABEL = "Sign in with Example Corp"
    page = Client().get("/accounts/login/?next=/runs/").content.decode()
    assert (
        '<a class="button" href="/oidc/login/?next=%2Fruns%2F">Sign in with Example Corp</a>'
        in page
    )
    assert 'name="password"' in page


def test_without_single_sign_on_there_is_no_button_and_no_sso_pages(world: World) -> None:
    page = Client().get("/accounts/login/").content.decode()
    assert "/oidc/login/" not in page and 'name="password"' in page
    assert Client().get("/oidc/login/").status_code == 404
    assert Client().get("/oidc/callback/?code=x&state=y").status_code == 404


def test_password_login_off_hides_the_form_and_refuses_passwords(
    sso: OidcProvider, settings: Any, world: World
) -> None:
    settings.PASSWORD_LOGIN = False
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert "/oidc/login/" in page and 'name="password"' not in page
    refused = client.post("/accounts/login/", {"username": "viewer", "password": PASSWORD})
    assert refused.status_code == 403
    assert "Password sign-in is off on this panel" in refused.content.decode()
    assert client.get("/api/me/").status_code == 401
    assert Client().get("/admin/login/?next=/admin/")["Location"] == (
        "/accounts/login/password/?next=%2Fadmin%2F"
    )


def test_superusers_still_sign_in_with_a_password_at_the_break_glass_page(
    sso: OidcProvider, settings: Any, world: World
) -> None:
    settings.PASSWORD_LOGIN = False
    client = Client()
    page = client.get("/accounts/login/password/").content.decode()
    assert 'name="password"' in page and "/oidc/login/" not in page
    refused = client.post("/accounts/login/password/", {"username": "viewer", "password": PASSWORD})
    assert refused.status_code == 200
    assert "Only panel administrators may sign in with a password here." in refused.content.decode()
    assert client.get("/api/me/").status_code == 401
    denied = last_login_event()
    assert (denied.outcome, denied.actor) == (AuditEvent.Outcome.DENIED, world.users["viewer"])
    allowed = client.post(
        "/accounts/login/password/", {"username": "superuser", "password": PASSWORD}
    )
    assert allowed.status_code == 302
    assert client.get("/api/me/").json()["username"] == "superuser"


def test_memberships_from_sign_in_are_marked_as_from_the_directory(sso: OidcProvider) -> None:
    sign_in(Client())
    membership = TeamMembership.objects.get(user__username="dana")
    assert membership.source == TeamMembership.Source.DIRECTORY


# --- settings ------------------------------------------------------------------------------

SSO = {
    "DEBUG": "1",
    "OIDC_ISSUER_URL": "https://login.example.invalid/realms/panel",
    "OIDC_CLIENT_ID": "panel",
    "OIDC_CLIENT_SECRET": "secret",
}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"OIDC_ISSUER_URL": "http://login.example.invalid"}, "OIDC_ISSUER_URL is plain http://"),
        ({"OIDC_CLIENT_SECRET": ""}, "set OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too"),
        ({"OIDC_TOKEN_AUTH_METHOD": "private_key_jwt"}, "OIDC_TOKEN_AUTH_METHOD must be"),
        ({"OIDC_SCOPES": "email groups"}, "OIDC_SCOPES must include openid"),
        ({"OIDC_ISSUER_URL": "", "PASSWORD_LOGIN": "0"}, "PASSWORD_LOGIN=0 needs a directory"),
    ],
)
def test_bad_single_sign_on_settings_stop_the_panel_at_start(
    load_settings: Any, overrides: dict[str, str], problem: str
) -> None:
    result = load_settings(**{**SSO, **overrides})
    assert result.returncode != 0
    assert problem in result.stderr


def test_an_http_issuer_is_accepted_when_allowed_and_the_secret_may_come_from_a_file(
    load_settings: Any, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    env = {**SSO, "OIDC_ISSUER_URL": "http://127.0.0.1:9", "OIDC_ALLOW_INSECURE_HTTP": "1"}
    del env["OIDC_CLIENT_SECRET"]
    result = load_settings(**env, OIDC_CLIENT_SECRET_FILE=str(secret))
    assert result.returncode == 0, result.stderr


def test_a_lockout_on_the_break_glass_page_keeps_its_form(
    sso: OidcProvider, settings: Any, world: World
) -> None:
    settings.PASSWORD_LOGIN = False
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        client.post("/accounts/login/password/", {"username": "superuser", "password": "wrong"})
    locked = client.post(
        "/accounts/login/password/", {"username": "superuser", "password": PASSWORD}
    )
    page = locked.content.decode()
    assert locked.status_code == 429
    assert 'action="/accounts/login/password/"' in page and "/oidc/login/" not in page
