"""Settings come from the environment and refuse to start on an unsafe or bad value.

Each case starts Django in a new interpreter, because settings are read once per process.
"""

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SettingsLoader = Callable[..., subprocess.CompletedProcess[str]]

GOOD_KEY = "k3Jq9v-Zp1xW8sYt4bNc7mRa2LdE6fHu0gTiVoKyQ5wXzS"


def loaded_settings(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """Return the settings a ``load_settings`` run printed, failing with its stderr if not."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_without_secret_key_refuses_to_start(load_settings: SettingsLoader) -> None:
    result = load_settings(DEBUG="0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_debug_defaults_to_off(load_settings: SettingsLoader) -> None:
    result = load_settings()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_weak_secret_keys_are_refused_in_production(load_settings: SettingsLoader) -> None:
    for weak in ("too-short", "django-insecure-" + "x" * 40, ""):
        result = load_settings(DEBUG="0", SECRET_KEY=weak)
        assert result.returncode != 0, weak
        assert "SECRET_KEY" in result.stderr
        if weak:
            assert weak not in result.stderr, "the rejected key must not be echoed"


def test_production_starts_with_a_good_key_and_secure_defaults(
    load_settings: SettingsLoader,
) -> None:
    settings = loaded_settings(load_settings(DEBUG="0", SECRET_KEY=GOOD_KEY))
    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == GOOD_KEY
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert settings["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert settings["DATABASES"]["default"]["NAME"] == str(REPO_ROOT / "var" / "db.sqlite3")
    assert settings["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"


def test_debug_runs_without_a_key_and_over_plain_http(load_settings: SettingsLoader) -> None:
    settings = loaded_settings(load_settings(DEBUG="1"))
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"].startswith("django-insecure")
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["STORAGES"]["staticfiles"]["BACKEND"] == (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )


def test_bad_boolean_names_the_variable_and_value(load_settings: SettingsLoader) -> None:
    result = load_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG must be a boolean" in result.stderr
    assert "'maybe'" in result.stderr


def test_bad_log_level_is_refused(load_settings: SettingsLoader) -> None:
    result = load_settings(DEBUG="1", LOG_LEVEL="loud")
    assert result.returncode != 0
    assert "LOG_LEVEL must be one of" in result.stderr


def test_secret_key_file_is_read(load_settings: SettingsLoader, tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(GOOD_KEY + "\n", encoding="utf-8")
    settings = loaded_settings(load_settings(DEBUG="0", SECRET_KEY_FILE=str(key_file)))
    assert settings["SECRET_KEY"] == GOOD_KEY


def test_postgres_database_url(load_settings: SettingsLoader) -> None:
    settings = loaded_settings(
        load_settings(DEBUG="1", DATABASE_URL="postgres://panel:s%3Acret@db.internal:5433/panel")
    )
    expected = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "panel",
        "USER": "panel",
        "PASSWORD": "s:cret",
        "HOST": "db.internal",
        "PORT": "5433",
    }
    database = settings["DATABASES"]["default"]
    assert {key: database.get(key) for key in expected} == expected


def test_sqlite_database_url(load_settings: SettingsLoader, tmp_path: Path) -> None:
    path = tmp_path / "panel.sqlite3"
    settings = loaded_settings(load_settings(DEBUG="1", DATABASE_URL=f"sqlite:///{path}"))
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASES"]["default"]["NAME"] == str(path)


def test_lists_and_redis_url_come_from_the_environment(load_settings: SettingsLoader) -> None:
    settings = loaded_settings(
        load_settings(
            DEBUG="1",
            ALLOWED_HOSTS="panel.example.com, panel.internal",
            REDIS_URL="redis://cache.internal:6380/2",
        )
    )
    assert settings["ALLOWED_HOSTS"] == ["panel.example.com", "panel.internal"]
    assert settings["CELERY_BROKER_URL"] == "redis://cache.internal:6380/2"
    assert settings["CELERY_RESULT_BACKEND"] == "redis://cache.internal:6380/2"
