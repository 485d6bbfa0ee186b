"""docker-compose.yml and the Dockerfile agree with the code (Docker cannot run here).

Checked: the services and their commands, the settings names given in the environment,
ports, volumes, health checks, the optional demo Airflow (profile ``demo``) and the README's
commands for it, and that a production environment passes ``manage.py check --deploy`` with
no warning.
"""

from __future__ import annotations

import re
import secrets
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
    assert set(COMPOSE["services"]) == {"db", "redis", *PANEL_SERVICES, "demo-airflow"}


def test_only_the_demo_airflow_is_optional() -> None:
    """A plain ``docker compose up`` starts the panel; ``--profile demo`` adds the demo."""
    profiles = {name: s.get("profiles") for name, s in COMPOSE["services"].items()}
    assert profiles.pop("demo-airflow") == ["demo"]
    assert set(profiles.values()) == {None}
    for name, service in COMPOSE["services"].items():
        assert "demo-airflow" not in service.get("depends_on", {}), name


def test_panel_environment_uses_only_real_settings_and_all_required_ones() -> None:
    env = COMPOSE["x-panel"]["environment"]
    unknown = set(env) - settings_names()
    assert not unknown, f"compose sets variables the panel never reads: {unknown}"
    required = {
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "AUDIT_HMAC_KEYS",
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "BEHIND_TLS_PROXY",
    }
    assert required <= set(env)
    assert str(env["DEBUG"]) == "0"
    # Secure unless the .env file turns them off for a plain-http try-out.
    assert env["BEHIND_TLS_PROXY"] == "${BEHIND_TLS_PROXY:-1}"
    assert env["SECURE_COOKIES"] == "${SECURE_COOKIES:-1}"
    for secret in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "AUDIT_HMAC_KEYS"):
        assert ":?" in env[secret], f"{secret} must be required, not defaulted"


def test_env_example_lists_every_required_secret() -> None:
    example = (REPO / ".env.example").read_text()
    env = COMPOSE["x-panel"]["environment"]
    required = [name for name, value in env.items() if str(value).startswith(f"${{{name}:?")]
    assert "AUDIT_HMAC_KEYS" in required and "POSTGRES_PASSWORD=" in example
    for name in required:
        assert re.search(rf"^{name}=", example, flags=re.M), name


def test_audit_checkpoints_outlive_the_containers() -> None:
    """The checkpoint directory is a volume every panel service mounts, writable by the user."""
    directory = COMPOSE["x-panel"]["environment"]["AUDIT_CHECKPOINT_DIR"]
    for service in PANEL_SERVICES:
        mounts = dict(v.split(":", 1)[::-1] for v in COMPOSE["services"][service]["volumes"])
        assert mounts.get(directory) in COMPOSE["volumes"], service
    assert re.search(rf"mkdir -p [^\n]*{re.escape(directory)}", DOCKERFILE)
    assert re.search(rf"chown panel [^\n]*{re.escape(directory)}", DOCKERFILE)


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


def copy_sources(dockerfile: str) -> list[str]:
    """Every source of every COPY line: all its words but the destination, flags skipped."""
    sources: list[str] = []
    for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.M):
        words = [word for word in line.split() if not word.startswith("--")]
        sources += words[:-1]
    return sources


def test_copy_sources_reads_every_source_of_a_line() -> None:
    dockerfile = "FROM x\nCOPY a.toml b.md ./\nCOPY --chown=app src src\nRUN cp c d\n"
    assert copy_sources(dockerfile) == ["a.toml", "b.md", "src"]
    assert copy_sources("FROM x\nRUN true\n") == []


def test_dockerfile_copies_what_exists() -> None:
    sources = copy_sources(DOCKERFILE)
    # A Dockerfile the pattern cannot read must fail here, not pass with nothing checked.
    assert {"controlpanel", "dags_api", "manage.py", "templates"} <= set(sources), sources
    missing = [source for source in sources if not (REPO / source).exists()]
    assert missing == []


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
        "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
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


# --- the optional demo Airflow ----------------------------------------------------------------


def demo_serve_arguments() -> Any:
    """The demo service's command, parsed by the harness's own command line."""
    from tests.harness.airflow import build_parser

    command = COMPOSE["services"]["demo-airflow"]["command"]
    assert command[:3] == ["python", "-m", "tests.harness.airflow"]
    return build_parser().parse_args(command[3:])


def test_demo_airflow_runs_the_harness_from_the_panel_image() -> None:
    demo = COMPOSE["services"]["demo-airflow"]
    assert demo["image"] == "airflow-control-panel:latest" and demo["build"] == "."
    args = demo_serve_arguments()
    assert args.command == "serve" and args.host == "0.0.0.0"  # noqa: S104 (in its container)
    from tests.harness.airflow import AIRFLOW_VERSION

    assert args.version == AIRFLOW_VERSION == "2.11.0"
    # The image carries what the command imports and what the harness installs from.
    assert "COPY tests/harness tests/harness" in DOCKERFILE
    assert "COPY tests/__init__.py tests/__init__.py" in DOCKERFILE
    harness = REPO / "tests" / "harness"
    assert (harness / "airflow-2.11.0-constraints.txt").is_file()
    assert list((harness / "dags").glob("cp_*.py"))


def test_demo_airflow_volumes_are_where_the_harness_writes() -> None:
    """Its home and the venv cache outlive the container, owned by the image's user."""
    from tests.harness import airflow as harness

    mounts = dict(reversed(v.split(":", 1)) for v in COMPOSE["services"]["demo-airflow"]["volumes"])
    user = re.search(r"useradd --create-home --uid \d+ (\w+)", DOCKERFILE)
    assert user and re.search(rf"^USER {user.group(1)}$", DOCKERFILE, flags=re.M)
    cache = f"/home/{user.group(1)}/{harness.CACHE_ROOT.relative_to(Path.home())}"
    home = str(demo_serve_arguments().home)
    assert set(mounts) == {home, cache}
    assert "AIRFLOW_HARNESS_CACHE" not in COMPOSE["services"]["demo-airflow"]["environment"]
    for path in (home, cache):
        assert re.search(rf"mkdir -p [^\n]*{re.escape(path)}", DOCKERFILE), path
        assert re.search(
            rf"chown (-R )?{user.group(1)} [^\n]*{re.escape(path.rsplit('/', 1)[0])}", DOCKERFILE
        ), path


def test_demo_airflow_port_and_health_check_match_its_command() -> None:
    demo = COMPOSE["services"]["demo-airflow"]
    port = demo_serve_arguments().port
    (published,) = demo["ports"]
    assert published == f"127.0.0.1:8081:{port}", "the demo's known passwords stay on loopback"
    check = " ".join(demo["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/health" in check and "'healthy'" in check
    assert demo["healthcheck"]["start_period"].endswith("m"), "the first start installs Airflow"


def readme_setup_demo_command() -> list[str]:
    """The setup_demo command line the README gives for the compose demo."""
    readme = (REPO / "README.md").read_text()
    line = re.search(r"docker compose run --rm web (python manage\.py setup_demo [^`\n]*)", readme)
    assert line, "the README shows how to run setup_demo in compose"
    return line.group(1).split()


def test_readme_setup_demo_command_reaches_the_demo_service() -> None:
    from controlpanel.management.commands.setup_demo import Command
    from tests.harness.airflow import USERS

    argv = readme_setup_demo_command()
    assert argv[:3] == ["python", "manage.py", "setup_demo"]
    options = Command().create_parser("manage.py", "setup_demo").parse_args(argv[3:])
    port = demo_serve_arguments().port
    assert options.airflow_url == f"http://demo-airflow:{port}"
    assert options.airflow_password == USERS[options.airflow_user][0]
