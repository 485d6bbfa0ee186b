"""Run history on the pages: the DAG page's strip and chart, the catalog's strips, the runs list."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.models import Dag, Run
from tests.factories import DagFactory, RunFactory
from tests.world import World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]


def finished_run(world: World, dag_id: str, state: str, seconds: float, **fields: Any) -> Run:
    """A prod run of ``dag_id`` that ended in ``state`` after ``seconds``."""
    start = timezone.now() - timedelta(hours=2)
    return RunFactory.create(
        profile=world.prod,
        dag_id=dag_id,
        state=state,
        start_date=start,
        end_date=start + timedelta(seconds=seconds),
        **fields,
    )


def strip_links(html: str) -> list[tuple[str, str]]:
    """(run pk, aria-label) of every block of the page's state strips, in order."""
    return re.findall(
        r'class="strip__run strip--\w+" href="/runs/(\d+)/" title="[^"]*" '
        r'aria-label="([^"]*)"',
        html,
    )


def test_dag_page_shows_the_last_runs_rate_median_strip_and_chart(
    world: World, client_as: ClientAs
) -> None:
    Dag.objects.filter(pk=world.dag("prod/orders_etl").pk).update(params_synced_at=timezone.now())
    runs = [
        finished_run(world, "orders_etl", "success", 60),
        finished_run(world, "orders_etl", "failed", 600),
        finished_run(world, "orders_etl", "success", 120),
    ]
    runs.append(RunFactory.create(profile=world.prod, dag_id="orders_etl", state="running"))
    html = client_as("operate_user").get("/dags/prod/orders_etl/").content.decode()
    assert "<strong>67 %</strong> succeeded (2 of 3 finished)" in html
    assert "median duration of the finished runs <strong>2 min</strong>" in html
    blocks = strip_links(html)
    assert [int(pk) for pk, _label in blocks] == [r.pk for r in runs]  # oldest to newest
    assert blocks[1][1].startswith("Failed, ") and blocks[1][1].endswith("took 10 min")
    assert blocks[3][1].endswith("no duration yet")
    assert 'aria-label="States of the last runs, oldest to newest"' in html
    svg = html[html.index('<svg class="chart__svg"') : html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert svg.count('class="chart__bar') == 4
    assert "the longest took 10 min" in svg and "median 2 min" in svg
    assert "oldest: " in svg and "newest: " in svg
    assert "<caption>The last runs, oldest first</caption>" in html  # the text alternative


def test_dag_page_without_runs_says_so(world: World, client_as: ClientAs) -> None:
    Dag.objects.filter(pk=world.dag("prod/orders_etl").pk).update(params_synced_at=timezone.now())
    html = client_as("operate_user").get("/dags/prod/orders_etl/").content.decode()
    assert "No runs yet: once this DAG runs" in html
    assert "<svg" not in html and 'class="strip' not in html


def test_dag_page_history_costs_one_query_whatever_the_runs(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    Dag.objects.filter(pk=world.dag("prod/orders_etl").pk).update(params_synced_at=timezone.now())
    finished_run(world, "orders_etl", "success", 5)
    client = client_as("operate_user")
    client.get("/dags/prod/orders_etl/")
    with CaptureQueriesContext(connection) as few:
        client.get("/dags/prod/orders_etl/")
    for n in range(40):
        finished_run(world, "orders_etl", "failed" if n % 4 else "success", n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/dags/prod/orders_etl/").content.decode()
    assert len(strip_links(html)) == 30


def test_catalog_rows_carry_a_strip_of_the_last_ten_runs(world: World, client_as: ClientAs) -> None:
    runs = [finished_run(world, "orders_etl", "success", n) for n in range(12)]
    html = client_as("operate_user").get("/").content.decode()
    blocks = strip_links(html)
    assert [int(pk) for pk, _ in blocks] == [r.pk for r in runs[2:]]
    label = world.dag("prod/orders_etl").label
    assert f'aria-label="Last runs of {label}, oldest to newest"' in html
    assert f'href="/runs/{runs[-1].pk}/"><span class="state state-success">' in html


def test_runs_list_shows_how_each_run_started_its_dag_name_and_duration(
    world: World, client_as: ClientAs
) -> None:
    DagFactory.create(
        profile=world.prod, dag_id="etl_nightly", tags=["etl"], display_name="Nightly"
    )
    users = world.users
    finished_run(
        world,
        "etl_nightly",
        "success",
        200,
        dag_run_id="manual__a_b",
        source="web",
        triggered_by=users["operate_user"],
    )
    finished_run(
        world, "orders_etl", "failed", 45, dag_run_id="scheduled__2026_x", source="airflow"
    )
    RunFactory.create(
        profile=world.prod,
        dag_id="orders_etl",
        dag_run_id="r_wait",
        state="queued",
        approved_by=users["superuser"],
        triggered_by=users["operate_user"],
    )
    html = client_as("operate_user").get("/runs/?scope=all").content.decode()
    rows = html.split("<tbody>")[1].split("<tr>")[1:]
    assert len(rows) == 3
    waiting, scheduled, nightly = rows
    assert 'class="run-label">Approved, <time' in waiting and "not finished" in waiting
    RunFactory.create(profile=world.prod, dag_id="orders_etl", dag_run_id="r_x", state="failed")
    undated = client_as("operate_user").get("/runs/?scope=all").content.decode()
    undated_row = undated.split("<tbody>")[1].split("<tr>")[1]
    assert "r_x" in undated_row and ">unknown<" in undated_row  # finished, no dates
    assert 'class="run-label">Scheduled, <time' in scheduled and ">45 s<" in scheduled
    assert '<code class="run-id">scheduled__2026_x</code>' in scheduled
    assert ">orders_etl<" in scheduled  # no display name: the DAG id
    assert 'class="run-label">Manual, <time' in nightly and "3 min 20 s" in nightly
    assert 'Nightly<br><code class="run-id">etl_nightly</code>' in nightly
    # the run id is outside the link: no underline over its underscores
    assert re.search(r'<a [^>]*>[^<]*<code class="run-id">manual__a_b', nightly) is None
