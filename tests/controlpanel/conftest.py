"""Fixtures for the control panel's own tests (settings, views, Celery wiring)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from pytest_django import Settings

from controlpanel.audit import Actor
from tests.controlpanel.notify_helpers import receiver, send_in_process  # noqa: F401 (fixtures)
from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every variable the settings module reads, so a subprocess starts from a known state
# whatever the developer's shell or the test command exported.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "TIME_ZONE",
    "LOG_LEVEL",
    "SECURE_COOKIES",
    "STATIC_MANIFEST",
    "LOG_FORMAT",
    "METRICS_ALLOWED_IPS",
    "METRICS_TOKEN",
    "AUDIT_HMAC_KEYS",
    "AUDIT_CHECKPOINT_DIR",
    "OIDC_ISSUER_URL",
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_ALLOW_INSECURE_HTTP",
    "OIDC_TOKEN_AUTH_METHOD",
    "OIDC_SCOPES",
    "PASSWORD_LOGIN",
)

# Printed by the subprocess as JSON so tests can assert on the settings Django ended up with.
_DUMP_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
names = ["DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASES", "CELERY_BROKER_URL",
         "CELERY_RESULT_BACKEND", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "STORAGES"]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""

SettingsLoader = Callable[..., subprocess.CompletedProcess[str]]


def _clean_environment(**overrides: str) -> dict[str, str]:
    """Return os.environ without any settings variable (or its _FILE twin), plus overrides."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTINGS_VARIABLES and key.removesuffix("_FILE") not in SETTINGS_VARIABLES
    }
    env["DJANGO_SETTINGS_MODULE"] = "controlpanel.settings"
    env.update(overrides)
    return env


@pytest.fixture
def load_settings() -> SettingsLoader:
    """Start Django in a fresh interpreter with the given environment; return the result.

    Settings are evaluated once per process, so only a new process shows what a given
    environment really produces at start-up.
    """

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _DUMP_SETTINGS],
            cwd=REPO_ROOT,
            env=_clean_environment(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def subprocess_env() -> Callable[..., dict[str, str]]:
    """Build the environment for a child process: no inherited settings, plus overrides."""
    return _clean_environment


@pytest.fixture(scope="session")
def suite_redis_url() -> str:
    """The Redis database reserved for tests: TEST_REDIS_URL, or database 15 on localhost."""
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def reachable_redis_url(suite_redis_url: str) -> str:
    """The test Redis URL, skipping the test when no Redis answers there."""
    client = redis.Redis.from_url(suite_redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        if os.environ.get("CI") or os.environ.get("PANEL_REQUIRE_SERVICES"):
            pytest.fail(f"no Redis reachable at {suite_redis_url} ({exc})")
        pytest.skip(f"no Redis reachable at {suite_redis_url} ({exc}); set TEST_REDIS_URL")
    finally:
        client.close()
    return suite_redis_url


@pytest.fixture(autouse=True)
def plain_static_storage(settings: Settings) -> None:
    """Render templates without a collectstatic manifest, whatever STATIC_MANIFEST says."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def boss() -> Actor:
    """A panel superuser acting in the services (the run-tracking tests' trigger-er)."""
    user = UserFactory.create(username="boss")
    user.is_superuser = True
    user.save()
    return Actor(user=user)
