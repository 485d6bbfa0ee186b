"""The start page (the DAG catalog, behind login) and the base layout every page extends."""

import re

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client: Client) -> Client:
    """A logged-in client: the start page is the catalog, which needs a login."""
    client.force_login(UserFactory.create(username="someone"))
    return client


def test_home_sends_anonymous_visitors_to_the_login_page() -> None:
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_home_is_the_catalog_in_the_shared_layout(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>DAGs</h1>" in html
    assert "Airflow Control Panel" in html
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html


def test_layout_has_skip_link_and_main_landmark(client: Client) -> None:
    html = client.get("/").content.decode()
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html


def test_htmx_requests_carry_the_csrf_token(client: Client) -> None:
    response = client.get("/")
    token = response.context["csrf_token"]
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in response.content.decode()


def test_assets_are_served_locally_never_from_a_cdn(client: Client) -> None:
    html = client.get("/").content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert "/static/css/panel.css" in sources
    assert "/static/vendor/htmx/htmx.min.js" in sources
    assert all(source.startswith("/static/") for source in sources), sources


def test_vendored_htmx_is_version_2_and_found_by_staticfiles() -> None:
    htmx_path = finders.find("vendor/htmx/htmx.min.js")
    assert htmx_path, "static/vendor/htmx/htmx.min.js is missing"
    with open(str(htmx_path), encoding="utf-8") as htmx:
        assert 'version:"2.' in htmx.read()
    assert finders.find("css/panel.css")


def test_security_headers_are_sent(client: Client) -> None:
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_messages_are_rendered_by_the_layout(rf: RequestFactory) -> None:
    request = rf.get("/")
    request.session = SessionStore()
    storage = FallbackStorage(request)
    request._messages = storage  # type: ignore[attr-defined]
    storage.add(constants.SUCCESS, "Run queued.")
    request.user = UserFactory.create(username="reader")
    html = render_to_string("base.html", request=request)
    assert '<li class="message message--success">Run queued.</li>' in html
    assert storage.used, "rendering must mark the messages as shown"
