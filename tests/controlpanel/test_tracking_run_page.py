"""What tracking stores for the run page, against the real Airflow: tasks' display names and
retries on the timeline (through the panel and in Airflow)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor
from controlpanel.models import Run, StateChange, TaskInstance
from controlpanel.services import catalog
from controlpanel.services.tracking import request_budget
from tests.factories import GrantFactory, TeamFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import retry_run, start_run
from tests.helpers.polling import finished, poll_once, poll_until
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

# Airflow's own example DAG (copied by the harness, paused there) names its tasks.
DISPLAY_NAMED_DAG = "example_params_trigger_ui"


@pytest.fixture
def profile(panel_airflow: AirflowInstance) -> Any:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    return profile


def test_tasks_display_names_come_with_the_batch_read_and_show_on_the_run_page(
    profile: Any, boss: Actor
) -> None:
    # The DAG is paused in the harness: the run waits queued, its tasks listed without state.
    run = start_run(boss, profile.dags.get(dag_id=DISPLAY_NAMED_DAG), conf={})
    try:
        cycle = poll_once(profile)
        names = dict(TaskInstance.objects.filter(run=run).values_list("task_id", "display_name"))
    finally:
        client_for(profile).set_dag_run_state(DISPLAY_NAMED_DAG, run.dag_run_id, "failed")
    assert names["get_names"] == "Get names"
    assert names["generate_german_greeting"] == "Erzeuge Deutsche Begrüßung"
    assert names["print_greetings"] == "Print greetings"
    # Read with the cycle's batch requests: none more per task.
    assert len(names) == 6 and cycle.requests <= request_budget(1)

    client = Client()
    client.force_login(boss.user)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert (
        "Print greetings" in html and '<code class="task-id muted">print_greetings</code>' in html
    )
    assert "not started yet" in html and " s</td>" not in html  # no times, no duration


def test_a_retry_through_the_panel_shows_failed_then_queued_again_by_whom(
    profile: Any, boss: Actor
) -> None:
    run = start_run(
        boss,
        profile.dags.get(dag_id="cp_etl"),
        conf={"fail_at": "transform", "fail_mode": "first_try"},
    )
    poll_until(profile, finished(run))
    assert retry_run(boss, run) == ["load", "transform"]
    poll_until(profile, finished(run))
    assert Run.objects.get(pk=run.pk).state == "success"

    retries = list(StateChange.objects.filter(run=run, retry=True))
    by_task = {c.task_id: c for c in retries}
    assert (by_task[""].from_state, by_task[""].to_state) == ("failed", "queued")
    transform = by_task["transform"]
    assert transform.from_state == "failed"
    assert by_task["load"].from_state == "upstream_failed"
    assert {c.retry_requested_by for c in retries} == {boss.user}
    # Each task's retry is recorded once, between its failed try and its successful one.
    steps = [
        (c.try_number, c.to_state, c.retry)
        for c in StateChange.objects.filter(run=run, task_id="transform")
    ]
    retried_at = [i for i, step in enumerate(steps) if step[2]]
    assert len(retried_at) == 1
    assert steps.index((1, "failed", False)) < retried_at[0] < steps.index((2, "success", False))

    client = Client()
    client.force_login(boss.user)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    timeline = html[html.index("<h2>Timeline</h2>") :]
    assert timeline.count("Queued again (retry by boss)") == 3  # the run, transform, load
    assert "Failed → <strong>Queued again (retry by boss)</strong>" in timeline
    assert "Skipped: an upstream task failed → <strong>Queued again" in timeline


def test_a_retry_made_in_airflow_shows_on_the_timeline_without_a_name(
    panel_airflow: AirflowInstance, boss: Actor
) -> None:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    # Runs of granted DAGs are followed when they come back to life in Airflow.
    GrantFactory.create(team=TeamFactory.create(), profile=profile, dag_ids=["cp_etl"])
    run = start_run(
        boss,
        profile.dags.get(dag_id="cp_etl"),
        conf={"fail_at": "load", "fail_mode": "first_try"},
    )
    poll_until(profile, finished(run))
    # Cleared in Airflow's own UI or API: the panel only sees the run come back.
    client_for(profile).clear_failed_task_instances("cp_etl", run.dag_run_id)
    poll_until(profile, lambda: Run.objects.get(pk=run.pk).state == "success")

    load = [c for c in StateChange.objects.filter(run=run, task_id="load") if c.retry]
    assert len(load) == 1 and load[0].from_state == "failed"
    assert load[0].retry_requested_by is None
    back = StateChange.objects.get(run=run, task_id="", retry=True)
    assert (back.from_state, back.retry_requested_by) == ("failed", None)

    client = Client()
    client.force_login(boss.user)
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert "Queued again (retried in Airflow)" in html
