"""Run tracking against the real Airflow, one poll cycle at a time (in this process).

The Celery worker, beat, kill -9 and Airflow outages are in test_tracking_worker.py.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from django.utils import timezone

from controlpanel import tasks
from controlpanel.airflow_clients import client_for
from controlpanel.audit import Actor
from controlpanel.locks import held_lock
from controlpanel.models import PollStatus, Run, StateChange, TaskInstance
from controlpanel.services import actions, catalog, tracking
from dags_api import AirflowClient, new_dag_run_id
from tests.factories import GrantFactory, TeamFactory
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.actions import retry_run, start_run
from tests.helpers.polling import finished, poll_until
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def profile(panel_airflow: AirflowInstance) -> Any:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    # A grant on the test DAGs: runs of granted DAGs started elsewhere are tracked too.
    GrantFactory.create(
        team=TeamFactory.create(slug="all"), profile=profile, dag_patterns=["cp_*"], level="operate"
    )
    return profile


def test_runs_are_followed_to_success_and_failure_with_complete_history(
    profile: Any, boss: Actor
) -> None:
    ok = start_run(boss, profile.dags.get(dag_id="cp_quick"), conf={"name": "poll"})
    bad = start_run(boss, profile.dags.get(dag_id="cp_etl"), conf={"fail_at": "transform"})
    poll_until(profile, finished(ok, bad))

    ok.refresh_from_db()
    bad.refresh_from_db()
    assert (ok.state, bad.state) == ("success", "failed")
    assert ok.start_date and ok.end_date and ok.end_date >= ok.start_date
    tis = {t.task_id: t for t in TaskInstance.objects.filter(run=bad)}
    assert {k: t.state for k, t in tis.items()} == {
        "extract": "success",
        "transform": "failed",
        "load": "upstream_failed",
    }
    assert tis["transform"].operator == "PythonOperator" and tis["transform"].try_number == 1
    assert tis["extract"].duration and tis["extract"].duration > 0

    run_changes = [
        (c.from_state, c.to_state) for c in StateChange.objects.filter(run=bad, task_id="")
    ]
    assert run_changes[0] == ("", "queued")  # the trigger starts the timeline
    assert run_changes[-1][1] == "failed"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(run_changes))
    transform = [
        (c.from_state, c.to_state) for c in StateChange.objects.filter(run=bad, task_id="transform")
    ]
    assert transform[-1][1] == "failed"
    observed = [c.observed_at for c in StateChange.objects.filter(run=bad)]
    assert observed == sorted(observed)

    # Finished runs leave the poll set: the next cycle writes nothing about them.
    def snapshot() -> list[Any]:
        runs = Run.objects.filter(pk__in=[ok.pk, bad.pk]).order_by("pk")
        return [
            (
                r.updated_at,
                r.state_changes.count(),
                sorted(r.task_instances.values_list("updated_at", flat=True)),
            )
            for r in runs
        ]

    before = snapshot()
    tracking.poll_profile(profile)
    assert snapshot() == before


def test_a_run_cleared_for_retry_comes_back_and_every_try_is_kept(
    profile: Any, boss: Actor
) -> None:
    run = start_run(
        boss,
        profile.dags.get(dag_id="cp_etl"),
        conf={"fail_at": "transform", "fail_mode": "first_try"},
    )
    poll_until(profile, finished(run))
    assert retry_run(boss, run) == ["load", "transform"]
    assert Run.objects.get(pk=run.pk).is_finished is False
    poll_until(
        profile,
        lambda: (
            Run.objects.get(pk=run.pk).state == "success" and Run.objects.get(pk=run.pk).is_finished
        ),
    )

    transform = TaskInstance.objects.get(run=run, task_id="transform")
    assert (transform.try_number, transform.state) == (2, "success")
    tries = {
        (c.try_number, c.to_state) for c in StateChange.objects.filter(run=run, task_id="transform")
    }
    assert (1, "failed") in tries and (2, "success") in tries


def test_runs_started_in_airflow_are_discovered(
    profile: Any, panel_admin_client: AirflowClient
) -> None:
    run_id = new_dag_run_id("elsewhere")
    panel_admin_client.trigger_dag_run("cp_quick", dag_run_id=run_id, conf={"name": "outside"})
    poll_until(profile, lambda: Run.objects.filter(dag_run_id=run_id, is_finished=True).exists())
    run = Run.objects.get(dag_run_id=run_id)
    assert (run.source, run.triggered_by, run.state) == ("airflow", None, "success")
    assert run.conf == {"name": "outside"}
    assert TaskInstance.objects.filter(run=run, task_id="say_hello", state="success").exists()


def test_ungranted_dags_are_not_tracked_when_started_elsewhere(
    panel_airflow: AirflowInstance, panel_admin_client: AirflowClient
) -> None:
    profile = harness_profile(panel_airflow, slug="nogrants")
    catalog.refresh_catalog(profile)
    panel_admin_client.trigger_dag_run("cp_quick", dag_run_id=new_dag_run_id("unseen"))
    cycle = tracking.poll_profile(profile)
    assert cycle.requests == 0 and not Run.objects.filter(profile=profile).exists()


def test_a_run_queued_too_long_says_why(profile: Any, boss: Actor, settings: Any) -> None:
    settings.STALE_RUN_SECONDS = 1
    run = start_run(boss, profile.dags.get(dag_id="cp_paused"))
    time.sleep(2)
    tracking.poll_profile(profile)
    run.refresh_from_db()
    assert run.state == "queued" and run.stale_reason == tracking.STALE_DAG_PAUSED
    assert PollStatus.objects.get(profile=profile).scheduler_healthy is True
    actions.set_run_state(boss, run, "failed")  # leave no queued run behind for other tests


def test_polling_is_batched_and_writes_only_changes(
    profile: Any, boss: Actor, settings: Any
) -> None:
    settings.STALE_RUN_SECONDS = 3600  # no stale runs, so no /health request this time
    profile.track_external_runs = False  # only our 5 runs, whatever else the Airflow holds
    profile.save()
    paused = profile.dags.get(dag_id="cp_paused")
    runs = [start_run(boss, paused) for _ in range(5)]
    first = tracking.poll_profile(profile)
    # One page of active runs and one of their task instances: never one request per run.
    assert (first.requests, first.runs_seen) == (2, 5), first
    again = tracking.poll_profile(profile)
    # Nothing moved: the run list only, the queued runs' task instances are not read again.
    assert again.requests == 1 and again.rows_written == 0
    for run in runs:
        actions.set_run_state(boss, run, "failed")
    ended = tracking.poll_profile(profile)
    # The runs left the active list: one request reads how they ended, one their tasks.
    assert (ended.requests, ended.runs_seen) == (3, 5), ended
    poll_until(profile, finished(*runs))


def test_queued_runs_cost_no_task_reads_whatever_their_tasks(
    profile: Any, boss: Actor, settings: Any
) -> None:
    """21 queued runs of a five-task DAG: 105 task instances, two pages, read only once."""
    settings.STALE_RUN_SECONDS = 3600
    profile.track_external_runs = False
    profile.save()
    wide = profile.dags.get(dag_id="cp_paused_wide")
    runs = [start_run(boss, wide) for _ in range(21)]
    first = tracking.poll_profile(profile)
    assert first.requests == 1 + 2, first  # the run list, then each new run's tasks once
    assert TaskInstance.objects.filter(run__in=runs).count() == 105
    steady = [tracking.poll_profile(profile) for _ in range(2)]
    assert [c.requests for c in steady] == [1, 1]  # at most 2 x ceil(21 / 100) + 1 = 3
    actions.set_run_state(boss, runs[0], "failed")
    ended = tracking.poll_profile(profile)
    # The ended run's last read: its five tasks; the 20 others keep their rows.
    assert ended.requests == 1 + 1 + 1, ended
    assert TaskInstance.objects.filter(run__in=runs).count() == 105
    assert Run.objects.get(pk=runs[0].pk).is_finished
    for run in runs[1:]:
        actions.set_run_state(boss, run, "failed")


def test_first_reads_past_the_cycles_budget_wait_for_the_next_cycle(
    profile: Any, boss: Actor, settings: Any
) -> None:
    """41 new queued runs of a five-task DAG: 205 task instances, three pages, but a cycle
    for 41 runs may make 3 requests: the oldest runs are read first, the rest next cycle."""
    settings.STALE_RUN_SECONDS = 3600
    profile.track_external_runs = False
    profile.save()
    wide = profile.dags.get(dag_id="cp_paused_wide")
    runs = [start_run(boss, wide) for _ in range(41)]
    first = tracking.poll_profile(profile)
    assert first.requests == tracking.request_budget(41) == 3, first
    read = Run.objects.filter(pk__in=[r.pk for r in runs], last_polled_at__isnull=False)
    # A probing chunk of 10 runs (one page), then 20 (one page of 100 task instances).
    assert sorted(read.values_list("pk", flat=True)) == [r.pk for r in runs[:30]]
    assert TaskInstance.objects.filter(run__in=runs).count() == 150
    second = tracking.poll_profile(profile)
    assert second.requests <= tracking.request_budget(41), second  # the 11 that waited
    assert TaskInstance.objects.filter(run__in=runs).count() == 205
    assert not Run.objects.filter(pk__in=[r.pk for r in runs], last_polled_at__isnull=True)
    assert tracking.poll_profile(profile).requests == 1
    for run in runs:
        actions.set_run_state(boss, run, "failed")


def test_a_run_started_elsewhere_is_adopted_only_on_a_granted_dag(
    panel_airflow: AirflowInstance, panel_admin_client: AirflowClient, boss: Actor
) -> None:
    """A DAG that merely had a panel run is not a grant: its outside runs stay unseen."""
    profile = harness_profile(panel_airflow, slug="onlyquick")
    catalog.refresh_catalog(profile)
    GrantFactory.create(
        team=TeamFactory.create(slug="quick"), profile=profile, dag_ids=["cp_quick"]
    )
    ours = start_run(boss, profile.dags.get(dag_id="cp_paused"))  # not granted
    outside_paused = new_dag_run_id("outside")
    panel_admin_client.trigger_dag_run("cp_paused", dag_run_id=outside_paused)
    outside_quick = new_dag_run_id("outside")
    panel_admin_client.trigger_dag_run("cp_quick", dag_run_id=outside_quick)
    poll_until(profile, lambda: Run.objects.filter(dag_run_id=outside_quick).exists())

    tracked = set(Run.objects.filter(profile=profile).values_list("dag_run_id", flat=True))
    assert ours.dag_run_id in tracked and outside_quick in tracked
    assert outside_paused not in tracked
    actions.set_run_state(boss, ours, "failed")
    panel_admin_client.set_dag_run_state("cp_paused", outside_paused, "failed")


def test_the_poller_logs_in_to_airflow_2_once(airflow: AirflowInstance, boss: Actor) -> None:
    """The profile's client sends a session cookie, not the password, on every request."""
    profile = harness_profile(airflow, slug="session")
    catalog.refresh_catalog(profile)
    run = start_run(boss, profile.dags.get(dag_id="cp_paused"))
    for _ in range(3):
        assert not tracking.poll_profile(profile).error
    logins = client_for(profile).transport.logins
    assert logins is not None and logins.login_count == 1
    actions.set_run_state(boss, run, "failed")


def test_an_unreachable_airflow_backs_off_that_profile_only(
    panel_airflow: AirflowInstance, profile: Any, boss: Actor
) -> None:
    down = harness_profile(panel_airflow, slug="down", base_url=f"http://127.0.0.1:{free_port()}")
    Run.objects.create(profile=down, dag_id="cp_quick", dag_run_id="r1")
    failed = tracking.poll_profile(down)
    assert "refused" in failed.error
    status = PollStatus.objects.get(profile=down)
    assert status.consecutive_failures == 1
    assert status.backoff_until is not None and status.backoff_until > timezone.now()
    assert status.last_success_at is None
    assert "backing off" in tracking.poll_profile(down).skipped

    run = start_run(boss, profile.dags.get(dag_id="cp_quick"))
    poll_until(profile, finished(run))  # the healthy profile keeps polling meanwhile
    assert PollStatus.objects.get(profile=profile).last_success_at is not None


def test_a_poll_while_another_is_running_is_skipped_so_cycles_never_pile_up(
    profile: Any, boss: Actor
) -> None:
    """Beat starts a poll every interval; one that finds the profile busy does nothing."""
    run = start_run(boss, profile.dags.get(dag_id="cp_paused"))
    transport = client_for(profile).transport
    before = transport.request_count
    with held_lock(f"poll:{profile.pk}", 30) as acquired:
        assert acquired
        assert tasks.poll_profile(profile.pk) is None
    assert transport.request_count == before
    assert tasks.poll_profile(profile.pk) is not None  # free again: it polls
    assert transport.request_count > before
    actions.set_run_state(boss, run, "failed")
