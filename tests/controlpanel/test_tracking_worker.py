"""Run tracking with a real Celery worker and beat, a real Redis and the real Airflow.

The worker and beat are separate processes sharing this test's SQLite file and a Redis
queue of their own; the tests only trigger runs and read what the worker wrote.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from controlpanel.audit import Actor
from controlpanel.models import PollStatus, Run, StateChange, TaskInstance
from controlpanel.services import catalog
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import start_run
from tests.helpers.celery import CeleryProcesses, wait_for
from tests.helpers.profiles import harness_profile
from tests.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]


def run_is(run: Run, *states: str) -> Callable[[], bool]:
    def check() -> bool:
        row = Run.objects.get(pk=run.pk)
        return row.is_finished and row.state in states

    return check


def test_worker_and_beat_follow_runs_to_success_and_failure(
    panel_airflow: AirflowInstance, celery_processes: CeleryProcesses, boss: Actor
) -> None:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    ok = start_run(boss, profile.dags.get(dag_id="cp_quick"), conf={"name": "worker"})
    bad = start_run(boss, profile.dags.get(dag_id="cp_etl"), conf={"fail_at": "load"})
    wait_for(run_is(ok, "success"), celery_processes, what="the quick run to succeed")
    wait_for(run_is(bad, "failed"), celery_processes, what="the ETL run to fail")
    states = dict(TaskInstance.objects.filter(run=bad).values_list("task_id", "state"))
    assert states == {"extract": "success", "transform": "success", "load": "failed"}
    assert StateChange.objects.filter(run=bad, task_id="load", to_state="failed").count() == 1
    assert StateChange.objects.filter(run=ok, task_id="", to_state="success").count() == 1
    assert PollStatus.objects.get(profile=profile).last_success_at is not None


def test_killing_the_worker_mid_run_leaves_no_duplicates_and_the_next_one_catches_up(
    panel_airflow: AirflowInstance, celery_processes: CeleryProcesses, boss: Actor
) -> None:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    # Enough mapped tasks that the run is still going when the poller first sees one succeed
    # (with six, Airflow 3 once finished them all between two polls).
    items = list(range(1, 17))
    run = start_run(boss, profile.dags.get(dag_id="cp_mapped"), conf={"items": items})
    wait_for(
        lambda: TaskInstance.objects.filter(run=run, state="success").exists(),
        celery_processes,
        what="the first task to succeed",
    )
    assert not Run.objects.get(pk=run.pk).is_finished
    celery_processes.kill("worker")  # kill -9, whatever it was doing
    time.sleep(2)
    celery_processes.start("worker-2")
    wait_for(run_is(run, "success"), celery_processes, what="the mapped run to succeed")

    assert Run.objects.filter(dag_run_id=run.dag_run_id).count() == 1
    tis = list(TaskInstance.objects.filter(run=run))
    assert sorted((t.task_id, t.map_index) for t in tis) == [
        ("list_items", -1),
        *[("process", i) for i in range(len(items))],
        ("total", -1),
    ]
    assert {t.state for t in tis} == {"success"}
    changes = Counter(
        (c.task_id, c.map_index, c.try_number, c.from_state, c.to_state)
        for c in StateChange.objects.filter(run=run)
    )
    assert max(changes.values()) == 1, changes.most_common(3)


def test_an_airflow_outage_backs_off_one_profile_while_another_keeps_polling(
    panel_airflow: AirflowInstance, celery_processes: CeleryProcesses, boss: Actor
) -> None:
    host, port = panel_airflow.url.removeprefix("http://").split(":")
    proxy = TcpProxy(host, int(port)).start()
    try:
        direct = harness_profile(panel_airflow, slug="direct")
        flaky = harness_profile(panel_airflow, slug="flaky", base_url=proxy.url)
        for profile in (direct, flaky):
            profile.track_external_runs = False  # both reach the same Airflow
            profile.save()
            catalog.refresh_catalog(profile)
        behind_outage = start_run(boss, flaky.dags.get(dag_id="cp_quick"))
        proxy.stop()  # the flaky profile's Airflow is "down" from here

        meanwhile = start_run(boss, direct.dags.get(dag_id="cp_quick"))
        wait_for(run_is(meanwhile, "success"), celery_processes, what="the direct run")
        wait_for(
            lambda: PollStatus.objects.get(profile=flaky).consecutive_failures >= 1,
            celery_processes,
            what="the flaky profile to notice the outage",
        )
        status = PollStatus.objects.get(profile=flaky)
        assert "refused" in status.last_error
        assert not Run.objects.get(pk=behind_outage.pk).is_finished

        proxy.start()  # back up on the same port
        wait_for(
            run_is(behind_outage, "success"), celery_processes, what="the flaky profile to catch up"
        )
        status = PollStatus.objects.get(profile=flaky)
        assert status.consecutive_failures == 0 and status.last_error == ""
        assert TaskInstance.objects.filter(run=behind_outage, state="success").count() == 1
    finally:
        proxy.stop()
