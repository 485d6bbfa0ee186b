"""Suite-wide fixtures: the real Airflow started by the harness, and clients for its users.

Set ``TEST_AIRFLOW_URL`` to reuse an Airflow 2 already started with
``python -m tests.harness.airflow serve`` (same users), and ``TEST_AIRFLOW3_URL`` for an
Airflow 3 (``serve --version 3.1.8``); otherwise each is started for the session when a test
first needs it and torn down at the end.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dags_api import AirflowClient, BasicAuth, ConnectionSettings, DagRun
from tests.harness.airflow import (
    AIRFLOW3_VERSION,
    AIRFLOW_VERSION,
    AirflowInstance,
    major_version,
    start_airflow,
)
from tests.helpers.celery import celery_processes  # noqa: F401 (a fixture for every test)
from tests.world import World, build_world


def _airflow_for_session(
    tmp_path_factory: pytest.TempPathFactory, version: str, reuse_variable: str
) -> Iterator[AirflowInstance]:
    """Reuse the Airflow at ``$reuse_variable`` if set, else start one for the session."""
    reuse = os.environ.get(reuse_variable)
    if reuse:
        yield AirflowInstance(url=reuse.rstrip("/"), home=Path("/nonexistent"), version=version)
        return
    instance = start_airflow(tmp_path_factory.mktemp(f"airflow-{version}-home"), version=version)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    """A real Airflow 2 webserver and scheduler on loopback with the suite's test DAGs."""
    yield from _airflow_for_session(tmp_path_factory, AIRFLOW_VERSION, "TEST_AIRFLOW_URL")


@pytest.fixture(scope="session")
def airflow3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    """A real Airflow 3 (API server, scheduler, DAG processor) with the same DAGs and users.

    ``TEST_AIRFLOW3_URL`` reuses one started with ``serve --version 3.1.8``.
    """
    yield from _airflow_for_session(tmp_path_factory, AIRFLOW3_VERSION, "TEST_AIRFLOW3_URL")


@pytest.fixture(scope="session", params=[AIRFLOW_VERSION, AIRFLOW3_VERSION])
def airflow_any(request: pytest.FixtureRequest) -> AirflowInstance:
    """Each real Airflow in turn, 2.x then 3.x: for tests that must pass on both."""
    name = "airflow3" if major_version(request.param) >= 3 else "airflow"
    instance: AirflowInstance = request.getfixturevalue(name)
    return instance


ClientFactory = Callable[..., AirflowClient]


def _client_factory(instance: AirflowInstance) -> Iterator[ClientFactory]:
    clients: list[AirflowClient] = []

    def build(user: str = "admin", password: str | None = None, **options: object) -> AirflowClient:
        settings = ConnectionSettings(
            instance.url,
            BasicAuth(user, password if password is not None else instance.password(user)),
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
def airflow_client_for(airflow: AirflowInstance) -> Iterator[ClientFactory]:
    """Build a client for one of the harness users (or any credentials) of the real Airflow."""
    yield from _client_factory(airflow)


@pytest.fixture(scope="session")
def any_client_for(airflow_any: AirflowInstance) -> Iterator[ClientFactory]:
    """``airflow_client_for`` for each real Airflow in turn (see ``airflow_any``)."""
    yield from _client_factory(airflow_any)


@pytest.fixture(scope="session")
def any_admin_client(any_client_for: ClientFactory) -> AirflowClient:
    """``admin_client`` for each real Airflow in turn (see ``airflow_any``)."""
    return any_client_for("admin")


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
# A fixed audit HMAC key for the same reason.
TEST_AUDIT_KEY = "test-audit-hmac-key-0123456789-abcdefghijklmnop"


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    settings.AUDIT_HMAC_KEYS = [TEST_AUDIT_KEY]
    # Every test its own (empty) checkpoint directory, never the developer's var/.
    settings.AUDIT_CHECKPOINT_DIR = tmp_path_factory.mktemp("audit-checkpoints")
    # Real hashing costs ~0.2 s per user; tests create many users and test no hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # API throttle counters in the test Redis, with a fresh budget for every test.
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            **settings.CACHES["throttle"],
            "LOCATION": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
            "KEY_PREFIX": f"test-throttle-{uuid.uuid4().hex}",
        },
    }
    # Metrics and locks go to the test Redis, never into a developer's database 0.
    settings.REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium from Debian (scripts/test installs it), one for the whole session.

    Playwright's sync API allows one instance per thread: every browser test shares this.
    """
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") or os.environ.get("PANEL_REQUIRE_SERVICES"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/test must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls
    # (and pytest-django's database set-up) are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def oidc_harness() -> None:
    """Node.js and the npm oidc-provider for the single sign-on tests (installed once).

    Without Node.js the tests are skipped locally and fail in CI (scripts/test installs it).
    """
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") or os.environ.get("PANEL_REQUIRE_SERVICES"):
            pytest.fail("Node.js is missing: scripts/test must install it")
        pytest.skip("Node.js is not installed")
    from tests.harness.oidc import ensure_oidc_provider

    ensure_oidc_provider()


@pytest.fixture(scope="session")
def ldap_harness() -> None:
    """Debian's slapd and ldap-utils for the LDAP sign-in tests (installed once as root).

    When they are missing and cannot be installed the tests are skipped locally and fail
    in CI (scripts/test installs them).
    """
    from tests.harness.airflow import HarnessError
    from tests.harness.ldap import ensure_slapd

    try:
        ensure_slapd()
    except HarnessError as exc:
        if os.environ.get("CI") or os.environ.get("PANEL_REQUIRE_SERVICES"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


# The LDAP directory of the tests: uid -> password, and group cn -> members' uids.
LDAP_USERS = {
    "dana": "dana-password",
    "rita": "rita-password",
    "alex": "alex-password",
    "erin": "erin-password",
    "viewer": "the-directory-viewer-password",  # the panel has a "viewer" made by hand
}
LDAP_GROUPS = {"finance": ["dana"], "auditors": ["rita"], "panel-admins": ["alex"]}


@pytest.fixture(scope="session")
def ldap_server(ldap_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One slapd for the test session (tests/harness/ldap.py), with LDAP_USERS and LDAP_GROUPS.

    Tests that change the groups put them back (the ``ldap`` fixture of test_ldap.py).
    """
    from tests.harness.ldap import start_slapd

    server = start_slapd(tmp_path_factory.mktemp("slapd"), LDAP_USERS, LDAP_GROUPS)
    yield server
    server.stop()
