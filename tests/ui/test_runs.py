"""The run page (live part, tasks, logs, retry) and the runs lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.audit import Actor, record_event
from controlpanel.models import AuditEvent, Run, StateChange, TaskInstance
from dags_api import AirflowNotFound
from tests.factories import RunFactory
from tests.ui.conftest import FakeAirflow
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]

# Who may see a run of prod/orders_etl: its operators, superusers and audit reviewers.
SEES_ORDERS_ETL = {p: 404 for p in PERSONAS} | {
    "superuser": 200,
    "operate_user": 200,
    "auditor": 200,
    "anonymous": 302,
}


@pytest.fixture
def failed_run(world: World) -> Run:
    """A failed run of prod/orders_etl by operate_user, with tasks and a timeline."""
    run = RunFactory.create(
        profile=world.prod,
        dag_id="orders_etl",
        dag_run_id="panel__failed",
        state="failed",
        conf={"rows": 10},
        triggered_by=world.users["operate_user"],
        is_finished=True,
    )
    start = datetime(2026, 1, 1, 8, tzinfo=UTC)
    for task_id, state, offset in [
        ("extract", "success", 0),
        ("transform", "failed", 5),
        ("load", "upstream_failed", 9),
    ]:
        TaskInstance.objects.create(
            run=run,
            task_id=task_id,
            state=state,
            try_number=0 if state == "upstream_failed" else 1,
            start_date=start + timedelta(seconds=offset) if state != "upstream_failed" else None,
            end_date=start + timedelta(seconds=offset + 2) if state != "upstream_failed" else None,
            duration=2.0 if state != "upstream_failed" else None,
        )
    StateChange.objects.create(run=run, from_state="", to_state="queued", observed_at=start)
    StateChange.objects.create(run=run, from_state="queued", to_state="running", observed_at=start)
    StateChange.objects.create(
        run=run,
        task_id="transform",
        try_number=1,
        from_state="running",
        to_state="failed",
        observed_at=start,
    )
    StateChange.objects.create(run=run, from_state="running", to_state="failed", observed_at=start)
    record_event(
        Actor(user=world.users["operate_user"], ip_address="10.1.2.3"),
        "dag.trigger",
        outcome="succeeded",
        profile=world.prod,
        dag_id="orders_etl",
        dag_run_id="panel__failed",
    )
    return run


@pytest.mark.parametrize("persona", PERSONAS)
def test_run_page_matrix(failed_run: Run, client_as: ClientAs, persona: str) -> None:
    client = client_as(persona)
    assert client.get(f"/runs/{failed_run.pk}/").status_code == SEES_ORDERS_ETL[persona]
    assert client.get(f"/runs/{failed_run.pk}/live/").status_code == SEES_ORDERS_ETL[persona]


def test_run_page_shows_state_tasks_failed_first_timeline_conf_origin_and_airflow_link(
    failed_run: Run, client_as: ClientAs
) -> None:
    html = client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()
    assert '<span class="state state-failed">Failed</span>' in html
    assert "At least one task failed" in html
    table = html[html.index("<h2>Tasks</h2>") :]
    assert table.index("transform") < table.index("extract")  # failed first
    assert "Skipped: an upstream task failed" in html and "2.0 s" in html
    assert "Show log tail" in html and "Retry failed tasks" in html
    assert "operate_user" in html and "from 10.1.2.3" in html
    assert "https://prod.example.invalid/dags/orders_etl/grid?dag_run_id=panel__failed" in html
    assert "&quot;rows&quot;: 10" in html
    assert html.count("<time") >= 4 and "queued" in html
    assert "hx-trigger" not in html  # finished: no polling
    assert "{#" not in html and "{% comment" not in html


def test_auditor_sees_the_run_but_no_retry_button(failed_run: Run, client_as: ClientAs) -> None:
    html = client_as("auditor").get(f"/runs/{failed_run.pk}/").content.decode()
    assert "Failed" in html and "Retry failed tasks" not in html


def test_reviewers_get_a_link_to_the_runs_audit_trail(failed_run: Run, client_as: ClientAs) -> None:
    link = "/audit/?profile=prod&amp;dag=orders_etl&amp;run=panel__failed"
    html = client_as("auditor").get(f"/runs/{failed_run.pk}/").content.decode()
    assert f'href="{link}"' in html
    trail = client_as("auditor").get(link.replace("&amp;", "&")).content.decode()
    assert "dag.trigger" in trail and "operate_user" in trail
    assert link not in client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()


def test_active_run_polls_its_live_part_and_shows_the_stale_reason(
    world: World, client_as: ClientAs
) -> None:
    run = RunFactory.create(
        profile=world.prod,
        dag_id="orders_etl",
        state="queued",
        stale_reason="The Airflow scheduler appears to be down.",
    )
    html = client_as("operate_user").get(f"/runs/{run.pk}/").content.decode()
    assert f'hx-get="/runs/{run.pk}/live/" hx-trigger="every 3s"' in html
    assert "Waiting for the Airflow scheduler to start it." in html
    assert "The Airflow scheduler appears to be down." in html
    Run.objects.filter(pk=run.pk).update(state="success")
    live = client_as("operate_user").get(f"/runs/{run.pk}/live/").content.decode()
    assert "Succeeded" in live and "hx-trigger" not in live and "<html" not in live
    assert "<h2>Timeline</h2>" in live and "<h2>Tasks</h2>" in live


def test_log_tail_and_full_log_come_from_airflow(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    fake_airflow.log_text = "\n".join(f"line {i}" for i in range(100))
    tail = client.get(f"/runs/{failed_run.pk}/log/?task_id=transform&map_index=-1&try=1&tail=1")
    body = tail.content.decode()
    assert (
        tail.status_code == 200
        and "line 99" in body
        and "line 39\n" not in body
        and "<html" not in body
    )
    full = client.get(
        f"/runs/{failed_run.pk}/log/?task_id=transform&map_index=-1&try=1"
    ).content.decode()
    assert "line 0\n" in full and "<html" in full
    assert fake_airflow.calls[-1] == ("log", ("transform", 1, -1))
    assert client.get(f"/runs/{failed_run.pk}/log/?task_id=nope").status_code == 404


def test_log_failure_is_said_in_plain_words(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    fake_airflow.fail_with = AirflowNotFound()
    html = (
        client_as("operate_user")
        .get(f"/runs/{failed_run.pk}/log/?task_id=transform&tail=1")
        .content.decode()
    )
    assert "Could not read the log from Airflow: Airflow could not find what was asked for." in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_log_matrix(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    response = client_as(persona).get(f"/runs/{failed_run.pk}/log/?task_id=transform&tail=1")
    assert response.status_code == SEES_ORDERS_ETL[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_retry_matrix(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    expected = SEES_ORDERS_ETL | {"superuser": 302, "operate_user": 302, "auditor": 403}
    response = client_as(persona).post(f"/runs/{failed_run.pk}/retry/")
    assert response.status_code == expected[persona]
    cleared = [c for c in fake_airflow.calls if c[0] == "clear"]
    assert len(cleared) == (1 if expected[persona] == 302 and persona != "anonymous" else 0)
    if persona == "auditor":
        assert AuditEvent.objects.get(action="run.retry").outcome == "denied"


def test_retry_puts_the_run_back_to_queued_and_says_so(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    TaskInstance.objects.filter(run=failed_run, task_id="load").update(display_name="Load it")
    client = client_as("operate_user")
    client.post(f"/runs/{failed_run.pk}/retry/")
    assert Run.objects.get(pk=failed_run.pk).state == "queued"
    html = client.get(f"/runs/{failed_run.pk}/").content.decode()
    assert "Retrying: Load it." in html
    assert AuditEvent.objects.get(action="run.retry").outcome == "succeeded"
    # The retry is on the timeline at once, with who asked for it.
    assert "Failed → <strong>Queued again (retry by operate_user)</strong>" in html


def test_tasks_show_by_their_display_name_with_the_task_id_beside(
    failed_run: Run, client_as: ClientAs
) -> None:
    TaskInstance.objects.filter(run=failed_run, task_id="transform").update(
        display_name="Transform the orders"
    )
    html = client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()
    row = '<span class="task-name">Transform the orders</span> <code class="task-id muted">'
    assert row + "transform</code>" in html
    assert '<span class="task-name">extract</span></th>' in html  # no display name: the id
    assert "<h3" in html and "Transform the orders: Failed</h3>" in html
    timeline = html[html.index("<h2>Timeline</h2>") :]
    assert "Transform the orders, try 1" in timeline
    assert "Map index" not in html  # no task is mapped: no column for it
    TaskInstance.objects.create(run=failed_run, task_id="fan_out", map_index=3, state="running")
    html = client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()
    assert '<th scope="col">Map index</th>' in html and '<td data-label="Map index">3</td>' in html


def test_tasks_that_never_ran_show_no_times_and_no_duration(
    failed_run: Run, client_as: ClientAs
) -> None:
    # Airflow stamps a task it marks upstream-failed with a start, an end and 0 s: try 0.
    stamp = datetime(2026, 1, 1, 8, 0, 9, tzinfo=UTC)
    TaskInstance.objects.filter(run=failed_run, task_id="load").update(
        start_date=stamp, end_date=stamp, duration=0.0
    )
    TaskInstance.objects.create(run=failed_run, task_id="report", state="")
    html = client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()
    cells = [row.split("</tr>")[0] for row in html.split('<th scope="row">')[1:]]
    rows = {row.split("</span>")[0].rsplit(">", 1)[-1]: row for row in cells}
    for task_id, words in [("load", "did not run"), ("report", "not started yet")]:
        assert words in rows[task_id] and "<time" not in rows[task_id]
        assert " s</td>" not in rows[task_id] and "&mdash;" in rows[task_id]
    assert "2026-01-01 08:00:09" not in html and "0.0 s" not in html
    assert "2.0 s" in rows["extract"] and rows["extract"].count("<time") == 2


def test_the_status_line_says_once_that_the_page_updates_and_is_read_out_on_change_only(
    world: World, client_as: ClientAs
) -> None:
    run = RunFactory.create(profile=world.prod, dag_id="orders_etl", state="running")
    client = client_as("operate_user")
    html = client.get(f"/runs/{run.pk}/").content.decode()
    assert html.count("by itself") == 1 and "This page updates by itself." in html
    assert 'id="run-announcer" class="visually-hidden" role="status" aria-live="polite"' in html
    assert "js/run-live.js" in html
    first = client.get(f"/runs/{run.pk}/live/").content.decode()
    again = client.get(f"/runs/{run.pk}/live/").content.decode()
    said = 'data-announce="Running. Airflow is working on its tasks."'
    assert said in first and said in again  # unchanged: the script says nothing new
    assert "aria-live" not in first and 'role="status"' not in first
    Run.objects.filter(pk=run.pk).update(
        state="queued", stale_reason="The Airflow scheduler appears to be down."
    )
    queued = client.get(f"/runs/{run.pk}/live/").content.decode()
    assert (
        'data-announce="Queued. Waiting for the Airflow scheduler to start it. '
        'The Airflow scheduler appears to be down."' in queued
    )
    assert 'role="status"' not in queued


def test_the_timeline_says_states_in_words_and_shows_a_retry_and_who_asked(
    failed_run: Run, client_as: ClientAs
) -> None:
    later = datetime(2026, 1, 1, 9, tzinfo=UTC)
    StateChange.objects.create(
        run=failed_run, task_id="load", from_state="", to_state="upstream_failed", observed_at=later
    )
    StateChange.objects.create(
        run=failed_run,
        from_state="failed",
        to_state="queued",
        retry=True,
        retry_requested_by=failed_run.triggered_by,
        observed_at=later,
    )
    for task_id, before, after, who in [
        ("transform", "failed", "queued", failed_run.triggered_by),
        ("load", "up_for_retry", "running", None),
    ]:
        StateChange.objects.create(
            run=failed_run,
            task_id=task_id,
            try_number=2,
            from_state=before,
            to_state=after,
            retry=True,
            retry_requested_by=who,
            observed_at=later,
        )
    html = client_as("operate_user").get(f"/runs/{failed_run.pk}/").content.decode()
    timeline = html[html.index("<h2>Timeline</h2>") :]
    assert "Running → " in timeline and "none →" not in timeline
    assert '<span class="state state-failed">Skipped: an upstream task failed</span>' in timeline
    assert timeline.count("Failed → <strong>Queued again (retry by operate_user)</strong>") == 2
    assert "Waiting to retry → <strong>Queued again (automatic retry)</strong>, now" in timeline
    assert "upstream_failed" not in timeline.replace('"upstream_failed"', "")
    assert timeline.count('class="timeline-retry"') == 3


def test_the_run_page_reads_a_fixed_number_of_queries_whatever_its_tasks_and_changes(
    failed_run: Run,
    world: World,
    client_as: ClientAs,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    client = client_as("operate_user")
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/runs/{failed_run.pk}/").status_code == 200
    when = datetime(2026, 1, 1, 10, tzinfo=UTC)
    for n in range(40):
        TaskInstance.objects.create(
            run=failed_run, task_id=f"task_{n}", display_name=f"Task {n}", state="success"
        )
        StateChange.objects.create(
            run=failed_run,
            task_id=f"task_{n}",
            from_state="failed",
            to_state="queued",
            retry=True,
            retry_requested_by=world.users[PERSONAS[n % 5]],
            observed_at=when,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/runs/{failed_run.pk}/").status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/runs/{failed_run.pk}/live/").status_code == 200


# --- runs lists ----------------------------------------------------------------------------


@pytest.fixture
def some_runs(world: World) -> dict[str, Run]:
    users = world.users
    return {
        "mine": RunFactory.create(
            profile=world.prod,
            dag_id="orders_etl",
            dag_run_id="r_mine",
            triggered_by=users["operate_user"],
            state="success",
        ),
        "scheduled": RunFactory.create(
            profile=world.prod,
            dag_id="orders_etl",
            dag_run_id="r_sched",
            source="airflow",
            state="failed",
        ),
        "finance": RunFactory.create(
            profile=world.prod,
            dag_id="finance_daily",
            dag_run_id="r_fin",
            triggered_by=users["operator"],
            state="running",
        ),
        "staging": RunFactory.create(
            profile=world.staging,
            dag_id="orders_etl",
            dag_run_id="r_staging",
            triggered_by=users["superuser"],
        ),
    }


def run_ids(html: str) -> set[str]:
    import re

    return set(re.findall(r'<code class="run-id">(r_\w+)</code>', html))


@pytest.mark.parametrize("persona", PERSONAS)
def test_runs_list_matrix(some_runs: dict[str, Run], client_as: ClientAs, persona: str) -> None:
    response = client_as(persona).get("/runs/?scope=all")
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    expected = {
        "superuser": {"r_mine", "r_sched", "r_fin", "r_staging"},
        "auditor": {"r_mine", "r_sched", "r_fin", "r_staging"},
        "operate_user": {"r_mine", "r_sched"},
        "operator": {"r_fin"},
        "viewer": {"r_fin"},
        "team_admin": {"r_fin"},
        "outsider": set(),
    }[persona]
    assert run_ids(response.content.decode()) == expected


def test_runs_list_scopes_and_filters(
    some_runs: dict[str, Run], world: World, client_as: ClientAs
) -> None:
    assert run_ids(client_as("operate_user").get("/runs/").content.decode()) == {"r_mine"}
    teammate = world.users["viewer"]
    world.teams["finance-triggerers"].memberships.create(user=teammate)
    assert run_ids(client_as("viewer").get("/runs/?scope=team").content.decode()) == {"r_fin"}
    su = client_as("superuser")
    assert run_ids(su.get("/runs/?scope=all&profile=staging").content.decode()) == {"r_staging"}
    assert run_ids(su.get("/runs/?scope=all&state=failed").content.decode()) == {"r_sched"}
    assert run_ids(su.get("/runs/?scope=all&dag=finance_daily").content.decode()) == {"r_fin"}
    today = timezone.localdate().isoformat()
    assert len(run_ids(su.get(f"/runs/?scope=all&from={today}&to={today}").content.decode())) == 4
    assert run_ids(su.get("/runs/?scope=all&to=2000-01-01").content.decode()) == set()


def test_runs_list_pages_by_id_and_query_count_is_flat(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    for i in range(3):
        RunFactory.create(
            profile=world.prod,
            dag_id="orders_etl",
            dag_run_id=f"r_{i}",
            triggered_by=world.users["operate_user"],
        )
    client = client_as("operate_user")
    client.get("/runs/")
    with CaptureQueriesContext(connection) as few:
        client.get("/runs/")
    for i in range(3, 60):
        RunFactory.create(
            profile=world.prod,
            dag_id="orders_etl",
            dag_run_id=f"r_{i}",
            triggered_by=world.users["operate_user"],
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get("/runs/").content.decode()
    assert len(run_ids(first)) == 50 and "r_59" in first and "Older runs" in first
    import re

    older = re.search(r'href="\?([^"]*before=\d+)"', first)
    assert older
    second = client.get("/runs/?" + older.group(1).replace("&amp;", "&")).content.decode()
    assert run_ids(second) == {f"r_{i}" for i in range(10)}


@pytest.mark.parametrize(
    "query",
    [
        "map_index=-99999999999999999999",
        "map_index=2147483648",
        "try=99999999999999999999",
        "try=-1",
        "try=%EF%BC%91",
    ],
)
def test_log_numbers_outside_airflows_range_name_no_log(
    failed_run: Run, client_as: ClientAs, fake_airflow: FakeAirflow, query: str
) -> None:
    client = client_as("operate_user")
    response = client.get(f"/runs/{failed_run.pk}/log/?task_id=transform&{query}")
    assert response.status_code == 404 and fake_airflow.calls == []


@pytest.mark.parametrize("before", ["99999999999999999999", "%C2%B2"])
def test_a_page_cursor_that_is_no_id_is_the_first_page(
    failed_run: Run, client_as: ClientAs, before: str
) -> None:
    response = client_as("operate_user").get(f"/runs/?before={before}")
    assert response.status_code == 200 and "panel__failed" in response.content.decode()
