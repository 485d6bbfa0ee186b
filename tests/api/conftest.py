"""Fixtures for the API tests: the standard world with runs, tokens and a caller per persona."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, ApprovalRequest, Dag, Run, Subscription
from controlpanel.services import tokens
from dags_api import ConnectionSettings
from tests.factories import GrantFactory, RunFactory
from tests.harness.airflow import free_port
from tests.world import World

Caller = Callable[..., Any]


@dataclass
class ApiWorld:
    """The standard world plus runs and one API token per persona."""

    world: World
    runs: dict[str, Run]
    tokens: dict[str, str]  # persona -> plaintext

    @property
    def users(self) -> dict[str, Any]:
        return self.world.users


@pytest.fixture
def no_airflow_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow calls fail at once instead of backing off (the unreachable-port world)."""
    original = AirflowProfile.connection_settings

    def without_retries(self: AirflowProfile) -> ConnectionSettings:
        return dataclasses.replace(original(self), max_retries=0)

    monkeypatch.setattr(AirflowProfile, "connection_settings", without_retries)


@pytest.fixture
def api_world(world: World, no_airflow_retries: None) -> ApiWorld:
    """Profiles pointing at a closed local port (no internet), runs, and tokens."""
    for profile in (world.prod, world.staging):
        profile.base_url = f"http://127.0.0.1:{free_port()}"
        profile.allow_insecure_http = True
        profile.save()
    Dag.objects.update(params_synced_at=timezone.now())  # no params to fetch from Airflow
    runs = {
        "finance": RunFactory.create(
            profile=world.prod,
            dag_id="finance_daily",
            state="success",
            triggered_by=world.users["operator"],
        ),
        "etl": RunFactory.create(profile=world.prod, dag_id="orders_etl", state="failed"),
        "staging": RunFactory.create(profile=world.staging, dag_id="finance_daily"),
    }
    Subscription.objects.create(
        team=world.teams["finance-viewers"], channel="email", emails=["ops@example.invalid"]
    )
    plaintexts = {}
    for persona, user in world.users.items():
        if user is not None:
            _, plaintexts[persona] = tokens.create_token(Actor(user=user), user, f"{persona} key")
    return ApiWorld(world, runs, plaintexts)


@pytest.fixture
def approval_world(api_world: ApiWorld) -> ApiWorld:
    """``api_world`` where operator triggers finance_monthly only with the approval of
    etl-ops (operate_user); one request of theirs is pending."""
    world = api_world.world
    GrantFactory.create(
        team=world.teams["finance-triggerers"],
        profile=world.prod,
        dag_ids=["finance_monthly"],
        level="trigger",
        requires_approval=True,
        approver_team=world.teams["etl-ops"],
    )
    approval = ApprovalRequest.objects.create(
        profile=world.prod,
        dag_id="finance_monthly",
        requested_by=world.users["operator"],
        reason="month-end close",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    approval.approver_teams.set([world.teams["etl-ops"]])
    return api_world


def _client_for(api_world: ApiWorld, persona: str, via: str) -> Client:
    user = api_world.users[persona]
    if user is None:
        return Client()
    if via == "token":
        return Client(HTTP_AUTHORIZATION=f"Bearer {api_world.tokens[persona]}")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def call(api_world: ApiWorld) -> Caller:
    """``call(persona, method, path, body=None, via="session"|"token", **headers)``."""

    def request(
        persona: str,
        method: str,
        path: str,
        body: Any = None,
        via: str = "session",
        **headers: str,
    ) -> Any:
        client = _client_for(api_world, persona, via)
        send = getattr(client, method.lower())
        if body is None:
            return send(path, **headers)
        return send(path, data=json.dumps(body), content_type="application/json", **headers)

    return request
