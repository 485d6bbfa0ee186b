"""Suite-wide fixtures: the real Airflow started by the harness, and clients for its users.

Set ``TEST_AIRFLOW_URL`` to reuse an Airflow already started with
``python -m tests.harness.airflow serve`` (same users); otherwise one is started for the
session and torn down at the end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dags_api import AirflowClient, BasicAuth, ConnectionSettings, DagRun
from tests.harness.airflow import AirflowInstance, start_airflow
from tests.world import World, build_world


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    """A real Airflow 2 webserver and scheduler on loopback with the suite's test DAGs."""
    reuse = os.environ.get("TEST_AIRFLOW_URL")
    if reuse:
        yield AirflowInstance(url=reuse.rstrip("/"), home=Path("/nonexistent"))
        return
    instance = start_airflow(tmp_path_factory.mktemp("airflow-home"))
    try:
        yield instance
    finally:
        instance.stop()


ClientFactory = Callable[..., AirflowClient]


@pytest.fixture(scope="session")
def airflow_client_for(airflow: AirflowInstance) -> Iterator[ClientFactory]:
    """Build a client for one of the harness users (or any credentials) of the real Airflow."""
    clients: list[AirflowClient] = []

    def build(user: str = "admin", password: str | None = None, **options: object) -> AirflowClient:
        settings = ConnectionSettings(
            airflow.url,
            BasicAuth(user, password if password is not None else airflow.password(user)),
            allow_insecure_http=True,  # loopback only: the harness serves plain http
            **options,  # type: ignore[arg-type]
        )
        client = AirflowClient(settings)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def admin_client(airflow_client_for: ClientFactory) -> AirflowClient:
    """A client logged in as the harness user with Airflow's Admin role."""
    return airflow_client_for("admin")


def wait_for_run(
    client: AirflowClient,
    dag_id: str,
    dag_run_id: str,
    *,
    states: frozenset[str] = frozenset({"success", "failed"}),
    timeout: float = 240,
) -> DagRun:
    """Poll one run until it reaches one of ``states``; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    run = client.get_dag_run(dag_id, dag_run_id)
    while run.state not in states:
        if time.monotonic() > deadline:
            pytest.fail(f"run {dag_run_id} of {dag_id} still {run.state} after {timeout} s")
        time.sleep(1)
        run = client.get_dag_run(dag_id, dag_run_id)
    return run


@pytest.fixture
def world(db: None) -> World:
    """Two profiles, their DAGs, three teams with grants and every persona (tests/world.py)."""
    return build_world()


@pytest.fixture
def client_as(world: World) -> Callable[[str], Client]:
    """A Django test client logged in as a persona ("anonymous": not logged in)."""

    def build(persona: str) -> Client:
        client = Client()
        user = world.users[persona]
        if user is not None:
            client.force_login(user)
        return client

    return build


# A fixed Fernet key for tests (pytest-django runs with DEBUG off, which needs real keys).
TEST_ENCRYPTION_KEY = "x0Q2hQmG8mU3oZf3l7p0Q6k0kVxv6mCqK2bYw7Zt9aE="


@pytest.fixture(autouse=True)
def _test_settings(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    # Real hashing costs ~0.2 s per user; tests create many users and test no hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
