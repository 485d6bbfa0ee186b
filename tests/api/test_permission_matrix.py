"""Every endpoint and method, every persona, by session and by API token.

Each persona's request runs in a savepoint that is rolled back, so one persona's change
(a deleted grant, a removed member) never decides another persona's answer. The profiles
point at a closed local port: where access is granted the call reaches "Airflow" and gets
503, which tells an allowed request from a refused one without any network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction

from controlpanel.models import ApiToken, ApprovalRequest, DagGrant, Subscription
from tests.api.conftest import ApiWorld, Caller
from tests.world import PERSONAS

TEAM_PEOPLE = ("team_admin", "operator", "viewer", "operate_user")
FINANCE_VIEWERS = ("team_admin", "viewer")
SEES_FINANCE_DAILY = ("team_admin", "operator", "viewer")


def only(status: int, *personas: str, **others: int) -> dict[str, int]:
    """``status`` for the personas named, plus explicit ones."""
    return {**dict.fromkeys(personas, status), **others}


@dataclass
class Case:
    method: str
    path: str
    expected: dict[str, int]  # persona -> status; others get ``default``
    default: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def status_for(self, persona: str) -> int:
        if persona == "anonymous":
            return 401
        return self.expected.get(persona, self.default)


NEW_USER = {
    "username": "newcomer",
    "email": "newcomer@example.invalid",
    "password": "a perfectly long passphrase 42",
    "is_auditor": False,
}
NEW_PROFILE = {
    "name": "Third",
    "slug": "third",
    "base_url": "https://third.example.invalid",
    "auth_type": "bearer",
    "token": "secret-token",
}

SUBSCRIPTIONS = "/api/teams/finance-viewers/subscriptions/"
SUBSCRIPTION = SUBSCRIPTIONS + "{subscription}/"
APPROVAL = "/api/approvals/{approval}/"

CASES = {
    "me": Case("GET", "/api/me/", {}, 200),
    "users list": Case("GET", "/api/users/", only(200, "superuser"), 403),
    "users create": Case("POST", "/api/users/", only(201, "superuser"), 403, NEW_USER),
    "user detail": Case("GET", "/api/users/viewer/", only(200, "superuser"), 403),
    "user update": Case(
        "PATCH", "/api/users/viewer/", only(200, "superuser"), 403, {"email": "v@example.invalid"}
    ),
    "user deactivate": Case("DELETE", "/api/users/outsider/", only(200, "superuser"), 403),
    "tokens list": Case("GET", "/api/tokens/", {}, 200),
    "token create": Case("POST", "/api/tokens/", {}, 201, {"name": "ci", "expires_days": 30}),
    "token detail": Case(
        "GET", "/api/tokens/{viewer_token}/", only(200, "superuser", "viewer"), 404
    ),
    "token revoke": Case(
        "DELETE", "/api/tokens/{viewer_token}/", only(200, "superuser", "viewer"), 404
    ),
    "profiles list": Case("GET", "/api/profiles/", {}, 200),
    "profile detail": Case("GET", "/api/profiles/prod/", only(200, "superuser", *TEAM_PEOPLE), 404),
    "profile detail not granted": Case(
        "GET", "/api/profiles/staging/", only(200, "superuser"), 404
    ),
    "profile create": Case("POST", "/api/profiles/", only(201, "superuser"), 403, NEW_PROFILE),
    "profile update": Case(
        "PATCH",
        "/api/profiles/prod/",
        only(200, "superuser", **only(403, *TEAM_PEOPLE)),
        404,
        {"name": "Prod renamed"},
    ),
    "profile delete": Case(
        "DELETE", "/api/profiles/prod/", only(204, "superuser", **only(403, *TEAM_PEOPLE)), 404
    ),
    "profile test": Case(
        "POST", "/api/profiles/prod/test/", only(200, "superuser", **only(403, *TEAM_PEOPLE)), 404
    ),
    "teams list": Case("GET", "/api/teams/", {}, 200),
    "team create": Case(
        "POST", "/api/teams/", only(201, "superuser"), 403, {"name": "New", "slug": "new"}
    ),
    "team detail": Case(
        "GET", "/api/teams/finance-viewers/", only(200, "superuser", *FINANCE_VIEWERS), 404
    ),
    "team update": Case(
        "PATCH",
        "/api/teams/finance-viewers/",
        only(200, "superuser", **only(403, *FINANCE_VIEWERS)),
        404,
        {"description": "People who read finance reports"},
    ),
    "team directory groups": Case(
        "PATCH",
        "/api/teams/finance-viewers/",
        only(200, "superuser", **only(403, *FINANCE_VIEWERS)),
        404,
        {"directory_groups": ["cn=finance,ou=groups,dc=example,dc=org"]},
    ),
    "members list": Case(
        "GET",
        "/api/teams/finance-viewers/members/",
        only(200, "superuser", *FINANCE_VIEWERS),
        404,
    ),
    "member add": Case(
        "POST",
        "/api/teams/finance-viewers/members/",
        only(201, "superuser", "team_admin", viewer=403),
        404,
        {"username": "outsider", "role": "member"},
    ),
    "member role": Case(
        "PATCH",
        "/api/teams/finance-viewers/members/viewer/",
        only(200, "superuser", "team_admin", viewer=403),
        404,
        {"role": "admin"},
    ),
    "member remove": Case(
        "DELETE",
        "/api/teams/finance-viewers/members/viewer/",
        only(204, "superuser", "team_admin", viewer=403),
        404,
    ),
    "grants list": Case(
        "GET", "/api/teams/finance-viewers/grants/", only(200, "superuser", *FINANCE_VIEWERS), 404
    ),
    "grant add": Case(
        "POST",
        "/api/teams/finance-viewers/grants/",
        only(201, "superuser", **only(403, *FINANCE_VIEWERS)),
        404,
        {"profile": "prod", "dag_ids": ["marketing_sync"], "level": "view"},
    ),
    "grant remove": Case(
        "DELETE",
        "/api/teams/finance-viewers/grants/{grant}/",
        only(204, "superuser", **only(403, *FINANCE_VIEWERS)),
        404,
    ),
    "subscriptions list": Case(
        "GET", SUBSCRIPTIONS, only(200, "superuser", "team_admin", viewer=403), 404
    ),
    "subscription create": Case(
        "POST",
        SUBSCRIPTIONS,
        only(201, "superuser", "team_admin", viewer=403),
        404,
        {"channel": "email", "emails": ["new@example.invalid"]},
    ),
    "subscription detail": Case(
        "GET", SUBSCRIPTION, only(200, "superuser", "team_admin", viewer=403), 404
    ),
    "subscription update": Case(
        "PATCH",
        SUBSCRIPTION,
        only(200, "superuser", "team_admin", viewer=403),
        404,
        {"on_success": True},
    ),
    "subscription delete": Case(
        "DELETE", SUBSCRIPTION, only(204, "superuser", "team_admin", viewer=403), 404
    ),
    "subscription test": Case(
        "POST", SUBSCRIPTION + "test/", only(200, "superuser", "team_admin", viewer=403), 404
    ),
    "dags list": Case("GET", "/api/dags/", {}, 200),
    "dag detail": Case(
        "GET", "/api/dags/prod/finance_daily/", only(200, "superuser", *SEES_FINANCE_DAILY), 404
    ),
    "dag pause": Case(
        "PATCH",
        "/api/dags/prod/finance_daily/",
        only(503, "superuser", **only(403, *SEES_FINANCE_DAILY)),
        404,
        {"is_paused": True},
    ),
    "dag pause operate": Case(
        "PATCH",
        "/api/dags/prod/orders_etl/",
        only(503, "superuser", "operate_user"),
        404,
        {"is_paused": True},
    ),
    "trigger": Case(
        "POST",
        "/api/dags/prod/finance_daily/runs/",
        only(503, "superuser", "operator", **only(403, *FINANCE_VIEWERS)),
        404,
        {"conf": {}},
    ),
    "trigger needing approval": Case(
        "POST",
        "/api/dags/prod/finance_monthly/runs/",
        only(202, "superuser", "operator", **only(403, *FINANCE_VIEWERS)),
        404,
        {"conf": {}, "reason": "month-end close"},
    ),
    "approvals list": Case("GET", "/api/approvals/", {}, 200),
    "approval detail": Case(
        "GET", APPROVAL, only(200, "superuser", "auditor", "operator", "operate_user"), 404
    ),
    "approval approve": Case(
        "POST",
        APPROVAL + "approve/",
        only(200, "superuser", "operate_user", operator=403, auditor=403),
        404,
        {"comment": "fine"},
    ),
    "approval reject": Case(
        "POST",
        APPROVAL + "reject/",
        only(200, "superuser", "operate_user", operator=403, auditor=403),
        404,
        {"comment": "not now"},
    ),
    "approval cancel": Case(
        "POST",
        APPROVAL + "cancel/",
        only(200, "operator", **only(403, "superuser", "operate_user", "auditor")),
        404,
    ),
    "runs list": Case("GET", "/api/runs/", {}, 200),
    "run detail": Case(
        "GET", "/api/runs/{finance}/", only(200, "superuser", "auditor", *SEES_FINANCE_DAILY), 404
    ),
    "run history": Case(
        "GET",
        "/api/runs/{finance}/history/",
        only(200, "superuser", "auditor", *SEES_FINANCE_DAILY),
        404,
    ),
    "task log": Case(
        "GET",
        "/api/runs/{finance}/tasks/say_hello/logs/",
        only(503, "superuser", "auditor", *SEES_FINANCE_DAILY),
        404,
    ),
    "retry": Case(
        "POST",
        "/api/runs/{etl}/retry/",
        only(503, "superuser", "operate_user", auditor=403),
        404,
    ),
    "audit": Case("GET", "/api/audit/", only(200, "superuser", "auditor"), 403),
    "audit csv": Case("GET", "/api/audit/?format=csv", only(200, "superuser", "auditor"), 403),
}


def _path(case: Case, api_world: ApiWorld) -> str:
    grant = DagGrant.objects.get(team__slug="finance-viewers")
    viewer_token = ApiToken.objects.get(user=api_world.users["viewer"])
    return case.path.format(
        finance=api_world.runs["finance"].pk,
        etl=api_world.runs["etl"].pk,
        grant=grant.pk,
        viewer_token=viewer_token.pk,
        subscription=Subscription.objects.get().pk,
        approval=ApprovalRequest.objects.get().pk,
    )


@pytest.mark.parametrize("via", ["session", "token"])
@pytest.mark.parametrize("name", list(CASES))
def test_every_persona_gets_the_expected_status(
    name: str, via: str, approval_world: ApiWorld, call: Caller
) -> None:
    api_world = approval_world
    case = CASES[name]
    path = _path(case, api_world)
    got = {}
    for persona in PERSONAS:
        savepoint = transaction.savepoint()
        response = call(persona, case.method, path, case.body, via=via, **case.headers)
        got[persona] = response.status_code
        if response.status_code >= 400:
            body = response.json()
            assert set(body) >= {"error", "message", "detail"}, (persona, body)
        transaction.savepoint_rollback(savepoint)
    expected = {persona: case.status_for(persona) for persona in PERSONAS}
    assert got == expected
