"""The security headers Mozilla Observatory checks, on the main pages and static files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from controlpanel.security_headers import CONTENT_SECURITY_POLICY
from tests.factories import RunFactory
from tests.world import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_policy(settings: Any) -> None:
    """The policy production sends (DEBUG, on in the tests, turns it off)."""
    settings.PANEL_CSP = CONTENT_SECURITY_POLICY


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().partition(" ")[::2] for part in policy.split(";"))


def assert_hardened(response: Any) -> None:
    csp = directives(response["Content-Security-Policy"])
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_the_main_pages_send_the_headers(world: World, client_as: Callable[[str], Client]) -> None:
    dag = world.dag("prod/finance_daily")
    run = RunFactory.create(profile=world.prod, dag_id=dag.dag_id)
    client = client_as("superuser")
    paths = [
        "/",
        f"/dags/{dag.profile.slug}/{dag.dag_id}/",
        "/runs/",
        f"/runs/{run.pk}/",
        "/audit/",
        "/manage/",
        "/api/docs/",
        "/api/dags/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_hardened(response)
    for path in ("/accounts/login/", "/healthz", "/no-such-page/"):
        assert_hardened(Client().get(path))


def test_no_page_carries_inline_script_or_style(
    world: World, client_as: Callable[[str], Client]
) -> None:
    dag = world.dag("prod/finance_daily")
    client = client_as("superuser")
    for path in ("/", f"/dags/{dag.profile.slug}/{dag.dag_id}/", "/runs/", "/api/docs/"):
        page = client.get(path).content.decode()
        assert "<style" not in page and " style=" not in page, path
        for tag in page.split("<script")[1:]:
            assert tag.split(">", 1)[0].strip().startswith("src="), (path, tag[:80])


def test_debug_sends_no_policy_by_default(settings: Any) -> None:
    settings.PANEL_CSP = ""
    response = Client().get("/accounts/login/")
    assert "Content-Security-Policy" not in response
    assert response["X-Frame-Options"] == "DENY"
