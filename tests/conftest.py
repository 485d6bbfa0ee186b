"""Suite-wide fixtures: the real Airflow started by the harness, and clients for its users.

Set ``TEST_AIRFLOW_URL`` to reuse an Airflow 2 already started with
``python -m tests.harness.airflow serve`` (same users), and ``TEST_AIRFLOW3_URL`` for an
Airflow 3 (``serve --version 3.1.8``); otherwise each is started for the session when a test
first needs it and torn down at the end.

Every test is marked by what it needs (``pytest_itemcollected`` below), so that
``scripts/test`` can choose by marker: ``airflow``, ``browser``, ``live_server``, ``celery``,
``directory`` (a real OpenID Connect or LDAP server) and ``database`` (any test database);
``engine`` marks what runs a second time on PostgreSQL. Panel-level tests use one Airflow
(``panel_airflow``), and a module's tests share one ``world`` where none of them commits.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from dags_api import AirflowClient, BasicAuth, ConnectionSettings, DagRun
from tests.harness.airflow import (
    AIRFLOW3_VERSION,
    AIRFLOW_VERSION,
    AirflowInstance,
    HarnessError,
    major_version,
    start_airflow,
)
from tests.helpers.celery import celery_processes  # noqa: F401 (a fixture for every test)
from tests.world import World, build_world

# What a test needs, by the fixtures it asks for (directly or through other fixtures).
NEEDS_BY_FIXTURE: dict[str, tuple[str, ...]] = {
    "airflow": ("airflow", "airflow3", "airflow_any", "panel_airflow"),
    "browser": ("browser",),
    "live_server": ("live_server",),
    "celery": ("celery_processes",),
    "directory": ("oidc_harness", "ldap_server"),
    "database": ("db", "transactional_db", "django_db_setup"),
}
# Needs that start an outside process: what ``scripts/test --quick`` leaves out.
OUTSIDE_NEEDS = ("airflow", "browser", "live_server", "celery", "directory")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``scripts/test --quick``), worker gwN uses Redis database
    ``TEST_REDIS_URL``'s minus N: metrics counters and throttles are per database, and two
    workers must not count into each other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit() and int(worker[2:]) > 0:
        base = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
        prefix, _, number = base.rpartition("/")
        if number.isdigit():
            os.environ["TEST_REDIS_URL"] = f"{prefix}/{int(number) - int(worker[2:])}"


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark every test by what it needs (before ``-m`` chooses); ``engine`` for database
    tests that need nothing outside (their behaviour may differ between SQLite and
    PostgreSQL: queries, locks, JSON fields, transactions), unless marked ``not_engine``."""
    fixtures = set(getattr(item, "fixturenames", ()))
    needs = {
        need
        for need, names in NEEDS_BY_FIXTURE.items()
        if fixtures.intersection(names) or item.get_closest_marker(need)
    }
    if item.get_closest_marker("django_db"):
        needs.add("database")
    for need in sorted(needs):
        if not item.get_closest_marker(need):
            item.add_marker(need)
    if (
        "database" in needs
        and not needs.intersection(OUTSIDE_NEEDS)
        and not item.get_closest_marker("not_engine")
        and not item.get_closest_marker("engine")
    ):
        item.add_marker("engine")


# Panel-level behaviour (services, pages, API, tracking) is tested against one Airflow; the
# version difference itself is tested where it lives: dags_api, the parity tests, the
# side-by-side test and the Airflow-compatible API's official clients run on both.
PANEL_AIRFLOW_MAJOR = int(os.environ.get("TEST_PANEL_AIRFLOW_MAJOR", "3"))


# The Airflows the chosen tests need, started side by side in threads as soon as the tests
# are chosen, while the first tests run: each takes 20-40 s to come up.
_STARTING: dict[str, Future[AirflowInstance]] = {}


# Airflow 2 keeps its metadata in PostgreSQL for the tests (a database made per instance on
# this server, dropped at the end), so its LocalExecutor forks tasks from the scheduler instead
# of the SequentialExecutor's new interpreter per task. Empty: SQLite, as the demo runs it.
AIRFLOW_POSTGRES_URL = os.environ.get(
    "TEST_AIRFLOW_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432"
)


def _start_harness_airflow(home: Path, version: str) -> AirflowInstance:
    """Start one harness Airflow; Airflow 2 on PostgreSQL where the server answers."""
    if AIRFLOW_POSTGRES_URL and major_version(version) < 3:
        try:
            return start_airflow(home, version=version, postgres_url=AIRFLOW_POSTGRES_URL)
        except HarnessError as exc:
            if "prepare the PostgreSQL database" not in str(exc):
                raise
            print(f"[airflow harness] no PostgreSQL for Airflow {version}, using SQLite: {exc}")
    return start_airflow(home, version=version)


def _airflows_needed(items: list[pytest.Item]) -> list[tuple[str, str]]:
    """(version, reuse variable) of each Airflow the tests ask for, directly or through
    ``airflow_any`` and ``panel_airflow`` (which ask for theirs when they run)."""
    names: set[str] = set()
    for item in items:
        names.update(getattr(item, "fixturenames", ()))
    panel = "panel_airflow" in names
    needed = []
    if names & {"airflow", "airflow_any"} or (panel and PANEL_AIRFLOW_MAJOR < 3):
        needed.append((AIRFLOW_VERSION, "TEST_AIRFLOW_URL"))
    if names & {"airflow3", "airflow_any"} or (panel and PANEL_AIRFLOW_MAJOR >= 3):
        needed.append((AIRFLOW3_VERSION, "TEST_AIRFLOW3_URL"))
    return needed


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every Airflow the chosen tests need at once, in the background."""
    if session.config.option.collectonly or os.environ.get("PANEL_NO_AIRFLOW_PRESTART"):
        return
    wanted = [v for v, reuse in _airflows_needed(session.items) if not os.environ.get(reuse)]
    if not wanted:
        return
    factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    pool = ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="airflow-start")
    for version in wanted:
        home = factory.mktemp(f"airflow-{version}-home")
        _STARTING[version] = pool.submit(_start_harness_airflow, home, version)
    pool.shutdown(wait=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop an Airflow started in advance that no test ended up using."""
    while _STARTING:
        _version, starting = _STARTING.popitem()
        with contextlib.suppress(Exception):
            starting.result().stop()


def _airflow_for_session(
    tmp_path_factory: pytest.TempPathFactory, version: str, reuse_variable: str
) -> Iterator[AirflowInstance]:
    """Reuse the Airflow at ``$reuse_variable`` if set, else start one for the session."""
    reuse = os.environ.get(reuse_variable)
    if reuse:
        yield AirflowInstance(url=reuse.rstrip("/"), home=Path("/nonexistent"), version=version)
        return
    starting = _STARTING.pop(version, None)
    if starting is not None:
        instance = starting.result()
    else:
        home = tmp_path_factory.mktemp(f"airflow-{version}-home")
        instance = _start_harness_airflow(home, version)
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


@pytest.fixture(scope="session")
def panel_airflow(request: pytest.FixtureRequest) -> AirflowInstance:
    """The one real Airflow of the panel-level tests (``TEST_PANEL_AIRFLOW_MAJOR``, 2 or 3)."""
    instance: AirflowInstance = request.getfixturevalue(
        "airflow3" if PANEL_AIRFLOW_MAJOR >= 3 else "airflow"
    )
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
def panel_client_for(panel_airflow: AirflowInstance) -> Iterator[ClientFactory]:
    """``airflow_client_for`` for the panel-level tests' Airflow (see ``panel_airflow``)."""
    yield from _client_factory(panel_airflow)


@pytest.fixture(scope="session")
def panel_admin_client(panel_client_for: ClientFactory) -> AirflowClient:
    """``admin_client`` for the panel-level tests' Airflow (see ``panel_airflow``)."""
    return panel_client_for("admin")


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
        time.sleep(0.5)
        run = client.get_dag_run(dag_id, dag_run_id)
    return run


def _is_transactional(item: pytest.Item) -> bool:
    """True when the test commits for real (pytest-django's rule): it cannot share a world."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (
        marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")
    ):
        return True
    fixtures = getattr(item, "fixturenames", ())
    return "transactional_db" in fixtures or "live_server" in fixtures


# Test modules whose world is built once and shared (set at collection): no test in them
# commits for real, so every test runs in a savepoint inside the module's open transaction.
_MODULES_SHARING_A_WORLD: set[str] = set()


def _module_of(node: pytest.Item | pytest.Collector) -> str:
    """The test file a test (or a module's collector) belongs to, as its node id says."""
    return node.nodeid.split("::", 1)[0]


def _uses_world(item: pytest.Item) -> bool:
    return "world" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let a module's tests share one world where it is safe, and run its tests that do not
    use the world before those that do (so they never see it)."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(_module_of(item), []).append(item)
    _MODULES_SHARING_A_WORLD.clear()
    if os.environ.get("PANEL_SHARED_WORLD", "1") == "0":  # to rule it out when a test fails
        return
    for module, module_items in modules.items():
        if any(map(_uses_world, module_items)) and not any(map(_is_transactional, module_items)):
            _MODULES_SHARING_A_WORLD.add(module)
    # pytest-django ran first and grouped the tests (plain database, committing, no
    # database); within each run of one module's tests, those without the world go first.
    reordered: list[pytest.Item] = []
    for module, run in itertools.groupby(items, key=_module_of):
        run_items = list(run)
        if module in _MODULES_SHARING_A_WORLD:
            run_items.sort(key=_uses_world)
        reordered.extend(run_items)
    items[:] = reordered


@pytest.fixture(scope="module")
def _module_world(
    request: pytest.FixtureRequest, django_db_setup: None, django_db_blocker: Any
) -> Iterator[World | None]:
    """The world of a module that shares one (else None), built once in a transaction that
    stays open for the module and is rolled back at its end. Each test's own transaction is
    a savepoint inside it, so what a test writes is gone before the next test."""
    if _module_of(request.node) not in _MODULES_SHARING_A_WORLD:
        yield None
        return
    from django.db import transaction
    from django.test.utils import override_settings

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        # The keys and hasher every test runs with (see _test_settings): the world's secrets
        # and passwords must read back the same way in the tests.
        with override_settings(
            FIELD_ENCRYPTION_KEYS=[TEST_ENCRYPTION_KEY],
            AUDIT_HMAC_KEYS=[TEST_AUDIT_KEY],
            PASSWORD_HASHERS=TEST_PASSWORD_HASHERS,
        ):
            shared = build_world()
    try:
        yield shared
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(_module_world: World | None, db: None) -> World:
    """Two profiles, their DAGs, three teams with grants and every persona (tests/world.py).

    Built once per module where no test commits for real (``_module_world``), else per test.
    """
    if _module_world is not None:
        return _module_world.reloaded()
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
TEST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [TEST_ENCRYPTION_KEY]
    settings.AUDIT_HMAC_KEYS = [TEST_AUDIT_KEY]
    # Every test its own (empty) checkpoint directory, never the developer's var/.
    settings.AUDIT_CHECKPOINT_DIR = tmp_path_factory.mktemp("audit-checkpoints")
    # Real hashing costs ~0.2 s per user; tests create many users and test no hashing.
    settings.PASSWORD_HASHERS = TEST_PASSWORD_HASHERS
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
