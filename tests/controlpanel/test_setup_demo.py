"""``manage.py setup_demo`` against the real Airflow: as scripts/run and docker-compose use it."""

from __future__ import annotations

import re
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from controlpanel.models import AirflowProfile, AuditEvent, Dag, DagGrant, Team
from tests.harness.airflow import AirflowInstance
from tests.helpers.celery import CeleryProcesses, wait_for

pytestmark = [pytest.mark.airflow, pytest.mark.django_db]


def setup_demo(airflow: AirflowInstance, *extra: str) -> dict[str, str]:
    """Run the command; return the demo users' passwords it printed."""
    out = StringIO()
    call_command(
        "setup_demo",
        "--airflow-url",
        airflow.url,
        "--airflow-password",
        airflow.password("admin"),
        *extra,
        stdout=out,
    )
    text = out.getvalue()
    assert re.search(rf"Demo profile 'demo' -> {re.escape(airflow.url)}: \d+ DAGs", text), text
    return dict(re.findall(r"^  (\w+) / (\S+)$", text, flags=re.M))


def logs_in(username: str, password: str) -> bool:
    response = Client().post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def admin() -> None:
    get_user_model().objects.create_superuser("admin", "admin@example.invalid", "x-Admin-pass-1")


def test_it_needs_the_superuser_first(airflow: AirflowInstance) -> None:
    with pytest.raises(CommandError, match="No superuser named 'admin': create it first"):
        setup_demo(airflow)


def test_without_a_passwords_file_it_prints_working_passwords_and_renews_them(
    airflow: AirflowInstance, admin: None
) -> None:
    first = setup_demo(airflow)
    assert set(first) == {"teamadmin", "operator", "auditor"}
    assert logs_in("operator", first["operator"])
    profile = AirflowProfile.objects.get(slug="demo")
    assert profile.base_url == airflow.url and profile.dags.filter(dag_id="cp_etl").exists()
    team = Team.objects.get(slug="data-ops")
    assert DagGrant.objects.filter(team=team, profile=profile).count() == 2
    assert AuditEvent.objects.filter(action="profile.create", source="cli").exists()
    second = setup_demo(airflow)
    assert second["operator"] != first["operator"]
    assert not logs_in("operator", first["operator"])
    assert logs_in("operator", second["operator"])
    assert DagGrant.objects.filter(team=team, profile=profile).count() == 2, "not doubled"


def test_a_passwords_file_keeps_the_passwords_across_runs(
    airflow: AirflowInstance, admin: None, tmp_path: Path
) -> None:
    path = tmp_path / "demo_passwords"
    first = setup_demo(airflow, "--passwords-file", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert setup_demo(airflow, "--passwords-file", str(path)) == first
    assert logs_in("auditor", first["auditor"])


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_scripts_run_leaves_the_dag_list_to_the_worker(
    airflow: AirflowInstance, admin: None, celery_processes: CeleryProcesses, monkeypatch: Any
) -> None:
    """``--catalog-in-background`` (scripts/run) returns before the DAGs are read; the worker
    then lists them, on the first start (a new profile) and on the next (it exists)."""
    monkeypatch.setitem(
        current_app.conf, "task_default_queue", celery_processes.env["CELERY_QUEUE"]
    )
    for _start in ("first", "second"):
        Dag.objects.filter(profile__slug="demo").delete()
        out = StringIO()
        call_command(
            "setup_demo",
            "--airflow-url",
            airflow.url,
            "--airflow-password",
            airflow.password("admin"),
            "--catalog-in-background",
            stdout=out,
        )
        assert "its DAG list is being read by the worker" in out.getvalue()
        wait_for(
            lambda: Dag.objects.filter(profile__slug="demo", dag_id="cp_etl").exists(),
            celery_processes,
            timeout=30,
            what="the demo DAGs read by the worker",
        )
