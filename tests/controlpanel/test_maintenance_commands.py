"""check_profiles and prune_history."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from controlpanel.models import AuditEvent, Run, StateChange, TaskInstance
from tests.factories import ProfileFactory, RunFactory
from tests.harness.airflow import AirflowInstance, free_port


def run_command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.airflow
@pytest.mark.django_db
def test_check_profiles_reports_each_profile_and_fails_on_a_broken_one(
    airflow: AirflowInstance,
) -> None:
    good = ProfileFactory.create(
        slug="good",
        base_url=airflow.url,
        username="admin",
        allow_insecure_http=True,
        secret=airflow.password("admin"),
    )
    assert "good: ok: Connection test: Airflow 2.11.0" in run_command(
        "check_profiles", "--profile", good.slug
    )
    ProfileFactory.create(
        slug="gone", base_url=f"http://127.0.0.1:{free_port()}", allow_insecure_http=True
    )
    with pytest.raises(CommandError, match="1 profile\\(s\\) cannot be used: gone"):
        run_command("check_profiles")
    with pytest.raises(CommandError, match="No profile called nope"):
        run_command("check_profiles", "--profile", "nope")


@pytest.mark.django_db
def test_prune_history_forgets_old_finished_runs_and_keeps_the_audit_trail(
    settings: Any,
) -> None:
    long_ago = timezone.now() - timedelta(days=40)
    old = RunFactory.create(is_finished=True, state="success", end_date=long_ago)
    TaskInstance.objects.create(run=old, task_id="t", state="success")
    StateChange.objects.create(run=old, to_state="success", observed_at=long_ago)
    recent = RunFactory.create(
        is_finished=True, state="failed", end_date=timezone.now() - timedelta(days=2)
    )
    active = RunFactory.create(is_finished=False, state="running")

    settings.HISTORY_RETENTION_DAYS = 0
    with pytest.raises(CommandError, match="keep forever"):
        run_command("prune_history")
    assert "'runs': 1" in run_command("prune_history", "--days", "30", "--dry-run")
    assert Run.objects.count() == 3

    settings.HISTORY_RETENTION_DAYS = 30
    output = run_command("prune_history")
    assert "'runs': 1, 'task_instances': 1, 'state_changes': 1" in output
    assert set(Run.objects.all()) == {recent, active}
    [event] = AuditEvent.objects.filter(action="history.prune")
    assert event.payload["runs"] == 1 and event.source == "cli"
