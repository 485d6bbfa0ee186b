"""The run history reads: a DAG's recent runs, success rate, median, the catalog's strips."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from controlpanel.models import Run
from controlpanel.permissions import Access
from controlpanel.selectors.history import (
    RunHistory,
    RunPoint,
    dag_history,
    duration_words,
    recent_runs,
)
from controlpanel.selectors.runs import how_started
from tests.factories import DagFactory, RunFactory
from tests.world import World

pytestmark = pytest.mark.django_db


def run_of(world: World, state: str, seconds: float | None, dag_id: str = "orders_etl") -> Run:
    """A prod run in ``state`` that took ``seconds`` (None: no end date)."""
    start = timezone.now() - timedelta(hours=1)
    end = start + timedelta(seconds=seconds) if seconds is not None else None
    return RunFactory.create(
        profile=world.prod, dag_id=dag_id, state=state, start_date=start, end_date=end
    )


def test_success_rate_and_median_count_finished_runs_only(world: World) -> None:
    run_of(world, "success", 60)
    run_of(world, "failed", 300)
    run_of(world, "success", 120)
    run_of(world, "success", 90)
    run_of(world, "running", None)
    run_of(world, "queued", None)
    history = dag_history(Access(world.users["operate_user"]), world.dag("prod/orders_etl"))
    assert [p.state for p in history.points] == [
        "success",
        "failed",
        "success",
        "success",
        "running",
        "queued",
    ]
    assert history.succeeded == 3 and len(history.finished) == 4
    assert history.success_rate == 0.75 and history.success_percent == "75 %"
    assert history.median_seconds == 105  # of 60, 90, 120, 300: not the unfinished runs
    assert history.median == "1 min 45 s"
    assert history.points[-1].seconds is None and history.points[-1].duration == ""


def test_an_empty_history_has_no_rate_and_no_median(world: World) -> None:
    history = dag_history(Access(world.users["superuser"]), world.dag("prod/orders_etl"))
    assert history.points == []
    assert history.success_rate is None and history.success_percent == ""
    assert history.median_seconds is None and history.median == ""
    only_running = RunHistory([RunPoint(1, "r", "running", timezone.now(), None)])
    assert only_running.success_rate is None and only_running.median_seconds is None


def test_history_keeps_the_newest_runs_oldest_first_and_only_what_the_user_may_see(
    world: World,
) -> None:
    runs = [run_of(world, "success", n) for n in range(35)]
    history = dag_history(Access(world.users["operate_user"]), world.dag("prod/orders_etl"))
    assert [p.pk for p in history.points] == [r.pk for r in runs[5:]]
    viewer = dag_history(Access(world.users["viewer"]), world.dag("prod/orders_etl"))
    assert viewer.points == []  # no grant on orders_etl


def test_durations_in_words() -> None:
    assert duration_words(None) == ""
    assert duration_words(4.26) == "4.3 s"
    assert duration_words(45) == "45 s"
    assert duration_words(200) == "3 min 20 s"
    assert duration_words(180) == "3 min"
    assert duration_words(7500) == "2 h 5 min"


def test_recent_runs_of_a_page_are_the_last_ten_of_each_dag_in_two_queries(
    world: World, django_assert_num_queries: object
) -> None:
    many = [run_of(world, "success" if n % 3 else "failed", n) for n in range(14)]
    few = [run_of(world, "running", None, dag_id="finance_daily")]
    empty = DagFactory.create(profile=world.prod, dag_id="never_ran")
    dags = [world.dag("prod/orders_etl"), world.dag("prod/finance_daily"), empty]
    with django_assert_num_queries(2):  # type: ignore[operator]
        found = recent_runs(dags)
    assert [p.pk for p in found[dags[0].pk].points] == [r.pk for r in many[4:]]
    assert [p.pk for p in found[dags[1].pk].points] == [few[0].pk]
    assert found[empty.pk].points == []
    staging = world.dag("staging/orders_etl")  # same DAG id, other profile: not mixed in
    assert recent_runs([staging])[staging.pk].points == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"source": "web"}, "Manual"),
        ({"source": "api"}, "Manual (API)"),
        ({"source": "airflow", "dag_run_id": "scheduled__2026-11-01T00:00:00+00:00"}, "Scheduled"),
        ({"source": "airflow", "dag_run_id": "manual__2026-11-01"}, "Manual (in Airflow)"),
        ({"source": "airflow", "dag_run_id": "backfill__2026-11-01"}, "Backfill"),
        ({"source": "airflow", "dag_run_id": "my_own_id"}, "Started in Airflow"),
    ],
)
def test_how_a_run_started_in_words(world: World, fields: dict[str, str], expected: str) -> None:
    run = RunFactory.create(profile=world.prod, dag_id="orders_etl", **fields)
    assert how_started(run) == expected


def test_a_run_started_by_an_approval_says_so(world: World) -> None:
    run = RunFactory.create(
        profile=world.prod, dag_id="orders_etl", source="web", approved_by=world.users["superuser"]
    )
    assert how_started(run) == "Approved"


def test_a_runs_words_say_when_its_duration_is_not_known() -> None:
    from controlpanel.templatetags.charts import point_text

    now = timezone.now()
    assert point_text(RunPoint(1, "r", "failed", now, 90)).endswith("took 1 min 30 s")
    assert point_text(RunPoint(1, "r", "success", now, None)).endswith("duration unknown")
    assert point_text(RunPoint(1, "r", "running", now, None)).endswith("no duration yet")
