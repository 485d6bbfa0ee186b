"""Browser test of run history at a glance: the DAG page's strip and chart, the overview.

Headless Debian chromium against a live panel; the runs are the panel's own rows (the
pages never ask Airflow for them). Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from controlpanel.models import Dag, Run
from controlpanel.security_headers import CONTENT_SECURITY_POLICY
from tests.factories import RunFactory
from tests.helpers.browser import SHOTS, expect, logged_in
from tests.ui.test_csp_browser import WATCH_VIOLATIONS
from tests.world import World, build_world

pytestmark = pytest.mark.django_db(transaction=True)

# (state, minutes) of the DAG's runs, oldest first; None: still running.
RUNS = [
    ("success", 4.2), ("success", 4.8), ("failed", 1.5), ("success", 5.1), ("success", 4.4),
    ("success", 6.0), ("success", 4.9), ("failed", 9.5), ("success", 5.3), ("success", 4.7),
    ("success", 5.0), ("success", 7.2), ("success", 4.6), ("failed", 2.0), ("success", 5.4),
    ("success", 4.9), ("success", 5.2), ("success", 8.1), ("success", 5.0), ("running", None),
]  # fmt: skip


def make_history(world: World) -> None:
    """Runs of prod/orders_etl, one every eight hours, and other DAGs' runs for the overview."""
    Dag.objects.filter(pk=world.dag("prod/orders_etl").pk).update(
        display_name="Orders ETL", params_synced_at=timezone.now()
    )
    now = timezone.now()
    people = [world.users["operate_user"], None, world.users["superuser"]]
    for index, (state, minutes) in enumerate(RUNS):
        start = now - timedelta(hours=8 * (len(RUNS) - index))
        end = start + timedelta(minutes=minutes) if minutes is not None else None
        run = RunFactory.create(
            profile=world.prod,
            dag_id="orders_etl",
            state=state,
            start_date=start,
            end_date=end,
            triggered_by=people[index % 3],
            source="web" if people[index % 3] else "airflow",
        )
        Run.objects.filter(pk=run.pk).update(created_at=start)
    for day in range(14):
        for n in range(day % 4 + 1):
            run = RunFactory.create(
                profile=world.prod,
                dag_id="finance_daily",
                state="failed" if (day + n) % 5 == 0 else "success",
                triggered_by=world.users["operator"],
            )
            Run.objects.filter(pk=run.pk).update(created_at=now - timedelta(days=day, hours=n))


def test_the_dag_page_draws_its_recent_runs_and_the_overview_its_days(
    browser: Any, live_server: Any, settings: Any
) -> None:
    settings.PANEL_CSP = CONTENT_SECURITY_POLICY  # the production policy: no inline style
    world = build_world()
    make_history(world)
    page = logged_in(browser, live_server.url, "superuser")
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto(f"{live_server.url}/dags/prod/orders_etl/")

    strip = page.get_by_role("list", name="States of the last runs, oldest to newest")
    expect(strip).to_be_visible()
    blocks = strip.get_by_role("link")
    expect(blocks).to_have_count(len(RUNS))
    failed = blocks.nth(2).get_attribute("aria-label") or ""
    assert failed.startswith("Failed, ") and failed.endswith("took 1 min 30 s"), failed
    running = blocks.last.get_attribute("aria-label") or ""
    assert running.startswith("Running, ") and running.endswith("no duration yet"), running
    chart = page.get_by_role("img", name="How long the last runs took")
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(
        "Durations of the last 20 runs, oldest to newest: the longest took 9 min 30 s, "
        "the median of the finished runs is 5 min."
    )
    expect(page.get_by_text("84 %", exact=True)).to_be_visible()  # 16 of 19 finished
    assert chart.bounding_box()["height"] > 100
    page.locator("#run-history").screenshot(path=str(SHOTS / "dag-history.png"))
    assert page.evaluate("window.__csp") == []

    blocks.nth(2).click()
    page.wait_for_url(f"{live_server.url}/runs/*/")

    page.goto(f"{live_server.url}/overview/")
    per_day = page.get_by_role("img", name="Runs per day by state")
    expect(per_day).to_be_visible()
    expect(page.get_by_role("table", name="Runs per day by team")).to_contain_text(
        "Outside the panel"
    )
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    assert page.evaluate("window.__csp") == []
