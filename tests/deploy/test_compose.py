"""docker-compose.yml and the Dockerfile agree with the code (Docker cannot run here).

Checked: the services and their commands, the settings names given in the environment,
ports, volumes, health checks, and that a production environment passes
``manage.py check --deploy`` with no warning.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from django.urls import resolve

REPO = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
PANEL_SERVICES = ("migrate", "web", "worker", "beat")


def settings_names() -> set[str]:
    """Every environment variable controlpanel/settings.py reads."""
    source = (REPO / "controlpanel" / "settings.py").read_text()
    return set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', source))


def test_every_service_is_there() -> None:
    assert set(COMPOSE["services"]) == {"db", "redis", *PANEL_SERVICES}


def test_panel_environment_uses_only_real_settings_and_all_required_ones() -> None:
    env = COMPOSE["x-panel"]["environment"]
    unknown = set(env) - settings_names()
    assert not unknown, f"compose sets variables the panel never reads: {unknown}"
    required = {
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "BEHIND_TLS_PROXY",
    }
    assert required <= set(env)
    assert str(env["DEBUG"]) == "0"
    for secret in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
        assert ":?" in env[secret], f"{secret} must be required, not defaulted"


def test_service_hosts_in_urls_match_service_names() -> None:
    env = COMPOSE["x-panel"]["environment"]
    assert "@db:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    db_env = COMPOSE["services"]["db"]["environment"]
    assert f"postgres://{db_env['POSTGRES_USER']}:" in env["DATABASE_URL"]
    assert env["DATABASE_URL"].endswith(f"/{db_env['POSTGRES_DB']}")


def test_commands_point_at_real_code() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    for name, role in (("worker", "worker"), ("beat", "beat")):
        command = services[name]["command"]
        assert command[:4] == ["celery", "-A", "controlpanel", role]
    from controlpanel.celery import app

    assert app.main == "controlpanel"
    cmd = re.search(r"CMD \[(.*)\]", DOCKERFILE)
    assert cmd and '"controlpanel.wsgi:application"' in cmd.group(1)
    from controlpanel import wsgi

    assert callable(wsgi.application)


def test_ports_volumes_and_health_checks() -> None:
    services = COMPOSE["services"]
    assert services["web"]["ports"] == ["8000:8000"]
    assert "EXPOSE 8000" in DOCKERFILE and '"0.0.0.0:8000"' in DOCKERFILE
    used = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert used <= set(COMPOSE["volumes"]) and "db-data" in used
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], name
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    path = re.search(r"127\.0\.0\.1:8000(/\S*?)'", web_check)
    assert path and resolve(path.group(1)).url_name == "healthz"


def test_dockerfile_copies_what_exists() -> None:
    for source in re.findall(r"^COPY (\S+)", DOCKERFILE, flags=re.M):
        assert (REPO / source).exists(), source


@pytest.mark.parametrize("service", PANEL_SERVICES)
def test_panel_services_share_the_image_and_settings(service: str) -> None:
    config = COMPOSE["services"][service]
    assert config["image"] == "airflow-control-panel:latest"
    assert config["environment"] == COMPOSE["x-panel"]["environment"]


def test_a_production_environment_passes_check_deploy(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k" * 20 + "-production-like-secret-key-for-the-check",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "panel.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://panel.example.com",
        "BEHIND_TLS_PROXY": "1",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
        "SECURE_HSTS_PRELOAD": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_collectstatic_with_hashed_storage_works(tmp_path: Path) -> None:
    """What the Dockerfile and scripts/run do: a reference to a missing file would fail it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "controlpanel.settings",
        "DEBUG": "0",
        "SECRET_KEY": "s" * 20 + "-collectstatic-only-secret-key-for-the-test",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_MANIFEST": "1",
    }
    script = (
        "import django, sys; django.setup(); "
        "from django.conf import settings; settings.STATIC_ROOT = sys.argv[1]; "
        "from django.core.management import call_command; "
        "call_command('collectstatic', '--noinput', verbosity=0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "static")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = (tmp_path / "static" / "staticfiles.json").read_text()
    assert "vendor/htmx/htmx.min.js" in manifest and "css/panel.css" in manifest
