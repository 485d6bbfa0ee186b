"""The styled dead ends: 404, 403, 500 and expired forms, with navigation and a way back.

The API keeps its JSON errors: only HTML pages change.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from controlpanel.models import AuditEvent, Dag, Run
from controlpanel.permissions import AUDIT_REVIEWERS_ONLY, PROFILE_MANAGERS_ONLY
from controlpanel.views.errors import SESSION_CHANGED, server_error
from tests.factories import RunFactory
from tests.helpers.forms import SHOWCASE_URL, form_data
from tests.ui.browser_form import form_submission
from tests.ui.conftest import FakeAirflow
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
WAYS_BACK = ('href="/runs/"', 'aria-label="Ways back"')


def assert_styled(html: str, signed_in: bool = True) -> None:
    """The page has the panel's stylesheet, header, a way back, and the account menu."""
    assert "/static/css/panel.css" in html and 'class="site-header"' in html
    for link in WAYS_BACK:
        assert link in html
    assert ("Log out" in html) is signed_in


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_an_unknown_page_is_a_styled_404_for_everyone(client_as: ClientAs, persona: str) -> None:
    response = client_as(persona).get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in html
    assert "There is no such page, or it is not one you may see." in html
    assert_styled(html, signed_in=persona != "anonymous")
    assert ('aria-label="Main"' in html) is (persona != "anonymous")


def test_a_dag_the_user_may_not_see_stays_a_plain_404(world: World, client_as: ClientAs) -> None:
    """The 404 does not tell that the DAG exists: same page as for a DAG that does not."""
    hidden = client_as("outsider").get("/dags/prod/finance_daily/")
    missing = client_as("outsider").get("/dags/prod/no_such_dag/")
    assert hidden.status_code == missing.status_code == 404
    assert "finance_daily" not in hidden.content.decode()
    run = RunFactory.create(profile=world.prod, dag_id="finance_daily")
    assert client_as("outsider").get(f"/runs/{run.pk}/").status_code == 404


# --- 403 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/audit/", AUDIT_REVIEWERS_ONLY),
        ("/manage/profiles/", PROFILE_MANAGERS_ONLY),
        ("/manage/profiles/new/", PROFILE_MANAGERS_ONLY),
        ("/manage/teams/", "Only panel admins and team admins manage teams"),
    ],
)
def test_a_known_page_without_the_right_says_what_is_missing(
    world: World, client_as: ClientAs, url: str, message: str
) -> None:
    response = client_as("operator").get(url)
    html = response.content.decode()
    assert response.status_code == 403
    assert "You may not open this page" in html and message in html
    assert_styled(html)
    assert client_as("anonymous").get(url).status_code == 302  # still sent to log in


def test_a_member_is_told_who_manages_their_team(world: World, client_as: ClientAs) -> None:
    response = client_as("viewer").get("/manage/teams/finance-viewers/")
    assert response.status_code == 403
    assert "Only this team&#x27;s admins and panel admins manage" in response.content.decode()
    assert client_as("viewer").get("/manage/teams/etl-ops/").status_code == 404


def test_a_refused_action_says_its_own_reason(showcase: Dag, client_as: ClientAs) -> None:
    response = client_as("superuser").get("/dags/prod/orders_etl/")
    assert response.status_code == 200
    viewer = client_as("viewer")
    denied = viewer.post("/dags/prod/finance_daily/", {})
    assert denied.status_code == 403
    assert "You may see finance_daily but not trigger it" in denied.content.decode()


# --- the Manage link ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_manage_link_only_for_those_who_manage_something(
    world: World, client_as: ClientAs, persona: str
) -> None:
    html = client_as(persona).get("/runs/").content.decode()
    shown = 'href="/manage/"' in html
    assert shown is (persona in {"superuser", "team_admin"})


# --- 500 ---------------------------------------------------------------------------------------


@pytest.mark.urls("tests.ui.error_urls")
def test_a_crash_is_a_styled_500_with_navigation(world: World) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(world.users["operator"])
    response = client.get("/crash/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in html and "The error was logged" in html
    assert 'aria-label="Main"' in html and 'href="/runs/"' in html
    assert "/static/css/panel.css" in html


def test_the_500_page_needs_no_database_and_no_session(world: World) -> None:
    request = RequestFactory().get("/anything/")  # no user, no session, no messages
    with CaptureQueriesContext(connection) as queries:
        response = server_error(request)
    assert response.status_code == 500 and len(queries) == 0
    assert "Something went wrong" in response.content.decode()


@pytest.mark.urls("tests.ui.error_urls")
def test_a_crash_in_the_api_stays_json(world: World) -> None:
    response = Client(raise_request_exception=False).get("/api/crash/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["error"] == "internal_server_error"


@pytest.mark.urls("tests.ui.error_urls")
def test_a_refused_form_under_the_api_stays_json(world: World) -> None:
    response = Client(enforce_csrf_checks=True).post("/api/plain-form/", {})
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "forbidden"


# --- the API keeps its JSON ------------------------------------------------------------------


def test_unknown_api_urls_answer_json_in_the_apis_shape(world: World, client_as: ClientAs) -> None:
    client = client_as("operator")
    panel = client.get("/api/no-such-thing/")
    assert panel.status_code == 404 and panel["Content-Type"] == "application/json"
    assert json.loads(panel.content)["error"] == "not_found"
    v1 = client.get("/airflow/prod/api/v1/no-such-thing")
    assert v1.status_code == 404 and v1["Content-Type"] == "application/problem+json"
    assert json.loads(v1.content)["status"] == 404
    v2 = client.get("/airflow/prod/api/v2/no-such-thing")
    assert v2.status_code == 404 and set(json.loads(v2.content)) == {"detail"}


def test_api_refusals_stay_json(world: World, client_as: ClientAs) -> None:
    response = client_as("viewer").post(
        "/api/dags/prod/finance_daily/runs/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "forbidden"


# --- expired forms (CSRF) ----------------------------------------------------------------------


def stale_client(world: World, persona: str) -> Client:
    """A browser whose form carries a token the session no longer accepts."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users[persona])
    return client


def test_an_expired_trigger_form_comes_back_filled_and_nothing_is_triggered(
    showcase: Dag,
    world: World,
    client_as: ClientAs,
    fake_airflow: FakeAirflow,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = stale_client(world, "operate_user")
    data = form_data(client, param__customer="globex", param__batch_size="250")
    data["csrfmiddlewaretoken"] = ["a-token-from-an-older-session" + "x" * 35]
    events_before = AuditEvent.objects.count()
    response = client.post(SHOWCASE_URL, data)
    html = response.content.decode()
    assert response.status_code == 403
    assert SESSION_CHANGED.replace("'", "&#x27;") in html
    assert 'value="globex"' in html and 'value="250"' in html
    assert data["dag_run_id"][0] in html  # the same run id when it is sent again
    assert fake_airflow.calls == [] and Run.objects.count() == 0
    assert AuditEvent.objects.count() == events_before  # refused before anything was tried
    logged = [r.getMessage() for r in caplog.records if r.name == "controlpanel.views.errors"]
    assert logged and "POST /dags/prod/orders_etl/" in logged[0]
    assert 'id="trigger-form"' in html and 'aria-label="Main"' in html
    again = form_submission(html, "trigger-form")  # with the page's fresh token
    again.pop("use_conf_json", None)
    again.pop("unpause", None)
    response = client.post(SHOWCASE_URL, again)
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.dag_run_id == data["dag_run_id"][0] and run.conf["customer"] == "globex"


def test_other_expired_forms_explain_and_offer_a_way_back(
    world: World, client_as: ClientAs
) -> None:
    client = stale_client(world, "operator")
    response = client.post(
        "/dags/prod/finance_daily/refresh/", {}, HTTP_REFERER="http://testserver/runs/?state=failed"
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>This form has expired</h1>" in html and "nothing was done" in html
    assert 'href="http://testserver/runs/?state=failed"' in html
    assert_styled(html)


def test_an_expired_form_never_links_back_to_another_site(world: World) -> None:
    client = stale_client(world, "operator")
    response = client.post("/accounts/logout/", {}, HTTP_REFERER="https://evil.example/")
    assert response.status_code == 403 and "evil.example" not in response.content.decode()


def test_an_expired_login_form_asks_to_go_back(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "operator", "password": "x"})
    html = response.content.decode()
    assert response.status_code == 403 and "This form has expired" in html
    assert "cookie" in html  # no CSRF cookie at all: say that cookies are needed
    assert_styled(html, signed_in=False)
