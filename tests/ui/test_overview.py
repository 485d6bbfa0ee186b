"""The overview at /overview/: who may open it, its figures, the nav link, auditors' landing."""

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

from controlpanel.models import Run
from controlpanel.permissions import Access
from controlpanel.selectors import overview as figures
from tests.factories import MembershipFactory, RunFactory
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
SEE_OVERVIEW = {p: 404 for p in PERSONAS} | {"superuser": 200, "auditor": 200, "anonymous": 302}


def run_at(world: World, days_ago: int, state: str, **fields: Any) -> Run:
    """A prod run created ``days_ago`` days ago (noon, panel time zone)."""
    fields.setdefault("dag_id", "orders_etl")
    run = RunFactory.create(profile=world.prod, state=state, **fields)
    when = timezone.localtime().replace(hour=12, minute=0) - timedelta(days=days_ago)
    Run.objects.filter(pk=run.pk).update(created_at=when)
    run.refresh_from_db()
    return run


@pytest.fixture
def history(world: World) -> dict[str, Run]:
    users = world.users
    return {
        "ops_today": run_at(world, 0, "success", triggered_by=users["operate_user"]),
        "ops_failed": run_at(world, 1, "failed", triggered_by=users["operate_user"]),
        "scheduled": run_at(world, 1, "success", source="airflow", dag_run_id="scheduled__x"),
        "admin": run_at(world, 2, "running", triggered_by=users["superuser"]),
        "finance": run_at(
            world, 3, "failed", dag_id="finance_daily", triggered_by=users["operator"]
        ),
        "old_failure": run_at(world, 9, "failed", triggered_by=users["operate_user"]),
        "too_old": run_at(world, 40, "success", triggered_by=users["operate_user"]),
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_overview_matrix(history: dict[str, Run], client_as: ClientAs, persona: str) -> None:
    response = client_as(persona).get("/overview/")
    assert response.status_code == SEE_OVERVIEW[persona]
    if persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_overview_link_only_for_those_who_may_open_it(client_as: ClientAs, persona: str) -> None:
    html = client_as(persona).get("/runs/", follow=True).content.decode()
    assert ('href="/overview/"' in html) == (SEE_OVERVIEW[persona] == 200)


def test_runs_per_day_by_state(history: dict[str, Run], world: World) -> None:
    access = Access(world.users["auditor"])
    days = figures.days_back(figures.DAYS)
    per_day = {d.day: d.counts for d in figures.runs_per_day(access, days)}
    today = timezone.localdate()
    assert len(per_day) == 14
    assert per_day[today] == {"success": 1}
    assert per_day[today - timedelta(days=1)] == {"failed": 1, "success": 1}
    assert per_day[today - timedelta(days=2)] == {"running": 1}
    assert per_day[today - timedelta(days=9)] == {"failed": 1}
    assert sum(sum(c.values()) for c in per_day.values()) == 6  # not the run of 40 days ago


def test_runs_per_team_counts_the_starters_teams_and_says_outside_and_no_team(
    history: dict[str, Run], world: World
) -> None:
    MembershipFactory.create(team=world.teams["finance-viewers"], user=world.users["operator"])
    days = figures.days_back(figures.DAYS)
    rows = {row.name: row for row in figures.runs_per_team(Access(world.users["auditor"]), days)}
    assert list(rows) == [
        "ETL operations",
        "Finance triggerers",
        "Finance viewers",
        figures.NO_TEAM,
        figures.OUTSIDE,
    ]
    assert rows["ETL operations"].total == 3
    assert rows["ETL operations"].per_day[-1] == 1  # today
    assert rows["Finance triggerers"].total == 1 and rows["Finance viewers"].total == 1
    assert rows[figures.NO_TEAM].total == 1  # the superuser's run
    assert rows[figures.OUTSIDE].total == 1  # the scheduled one


def test_busiest_dags_and_failures_of_the_week(history: dict[str, Run], world: World) -> None:
    access = Access(world.users["superuser"])
    busiest = figures.busiest_dags(access)
    assert [(r["dag_id"], r["runs"], r["from_panel"], r["failed"]) for r in busiest] == [
        ("orders_etl", 5, 4, 2),
        ("finance_daily", 1, 1, 1),
    ]
    failures = figures.failures_this_week(access)
    assert [r.pk for r in failures.runs] == [history["ops_failed"].pk, history["finance"].pk]
    assert failures.count == 2


def test_overview_page_shows_the_figures_with_links_and_a_chart_with_words(
    history: dict[str, Run], client_as: ClientAs
) -> None:
    html = client_as("auditor").get("/overview/").content.decode()
    assert '<svg class="chart__svg"' in html and "<title" in html and "<desc" in html
    assert "6 in all" in html  # the chart's sentence
    assert 'id="runs-per-day"' in html and 'id="runs-per-team"' in html
    assert f'href="/runs/{history["ops_failed"].pk}/"' in html
    assert f'href="/runs/{history["old_failure"].pk}/"' not in html  # 9 days ago
    assert "/runs/?scope=all&amp;profile=prod&amp;dag=orders_etl" in html
    assert "Outside the panel" in html and "No team" in html


def test_an_empty_overview_says_so(world: World, client_as: ClientAs) -> None:
    html = client_as("superuser").get("/overview/").content.decode()
    assert "No run in the last 14 days." in html
    assert "No run failed in the last 7 days." in html
    assert "<svg" not in html


def test_overview_query_count_does_not_grow_with_runs(
    history: dict[str, Run],
    world: World,
    client_as: ClientAs,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    client = client_as("auditor")
    client.get("/overview/")
    with CaptureQueriesContext(connection) as few:
        client.get("/overview/")
    for n in range(30):
        run_at(world, n % 14, "failed", dag_id=f"dag_{n}", triggered_by=world.users["operator"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/overview/").content.decode()
    week = Run.objects.filter(state="failed", created_at__gte=timezone.now() - timedelta(days=7))
    assert len(re.findall(r'<li><a href="/runs/\d+/">', html)) == week.count() > 2
    # session, user, perms, memberships (menu and landing), approvals badge, the four
    # figures, the failures' count only past the limit
    assert len(few.captured_queries) <= 11  # 10, and one for the Manage link's check


def test_an_auditor_in_no_team_lands_on_the_overview(world: World, client_as: ClientAs) -> None:
    response = client_as("auditor").get("/")
    assert response.status_code == 302 and response["Location"] == "/overview/"
    assert client_as("auditor").get("/?q=finance").status_code == 200  # a search still works
    MembershipFactory.create(team=world.teams["etl-ops"], user=world.users["auditor"])
    assert client_as("auditor").get("/").status_code == 200  # a team member: their DAGs
    for persona in ("superuser", "operator", "outsider"):
        assert client_as(persona).get("/").status_code == 200
