"""How the panel looks on a phone and in dark mode, in headless chromium (Playwright).

No Airflow needed: the pages read the database (the world of tests/world.py, a run with
tasks and a long run id), which is what decides their width.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controlpanel.models import Run, TaskInstance
from tests.factories import RunFactory
from tests.helpers.browser import SHOTS, logged_in
from tests.ui.conftest import SHOWCASE_PARAMS
from tests.world import World, build_world

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
LONG_RUN_ID = "manual__2026-11-30T01:23:45.678901+00:00__nightly_backfill_of_every_region"


@pytest.fixture
def looks_world() -> tuple[World, Run]:
    """The standard world, a DAG with the showcase params and a failed run with tasks."""
    world = build_world()
    dag = world.dag("prod/finance_daily")
    dag.params, dag.params_synced_at = SHOWCASE_PARAMS, datetime.now(UTC)
    dag.save()
    start = datetime.now(UTC) - timedelta(minutes=5)
    run = RunFactory.create(
        profile=world.prod,
        dag_id="finance_daily",
        dag_run_id=LONG_RUN_ID,
        state="failed",
        triggered_by=world.users["operator"],
        conf={"region": "eu", "tables": ["orders", "refunds", "customers_with_a_long_name"]},
    )
    for i, (task_id, state) in enumerate(
        [
            ("extract_every_order_from_the_warehouse", "success"),
            ("transform_and_validate_the_orders", "failed"),
            ("load_into_the_reporting_database", "upstream_failed"),
        ]
    ):
        TaskInstance.objects.create(
            run=run,
            task_id=task_id,
            state=state,
            try_number=1,
            start_date=start + timedelta(seconds=30 * i),
            end_date=start + timedelta(seconds=30 * i + 20),
            duration=20.0,
        )
    return world, run


def page_urls(run: Run) -> list[str]:
    """The pages a phone user opens, superuser's view (so every page is there)."""
    return [
        "/",
        "/dags/prod/finance_daily/",
        "/runs/",
        f"/runs/{run.pk}/",
        "/approvals/",
        "/audit/",
        "/manage/",
        "/manage/profiles/",
        "/manage/profiles/prod/edit/",
        "/manage/teams/",
        "/manage/teams/finance-viewers/",
        "/no/such/page/",
    ]


def too_wide(page: Any) -> list[str]:
    """The elements reaching past the window's right edge, outside any scrolling box."""
    return list(
        page.evaluate(
            """() => {
              const clipped = e => {
                for (let a = e.parentElement; a; a = a.parentElement) {
                  if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)
                      && a !== document.documentElement && a !== document.body) return true;
                }
                return false;
              };
              return [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .filter(e => !clipped(e) || getComputedStyle(e).position === 'absolute')
                .map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40))
                .slice(0, 8);
            }"""
        )
    )


def test_no_page_scrolls_sideways_at_390_px(
    browser: Any, live_server: Any, looks_world: tuple[World, Run]
) -> None:
    _world, run = looks_world
    page = logged_in(browser, live_server.url, "superuser")
    page.set_viewport_size(PHONE)
    widths, culprits = {}, {}
    for url in page_urls(run):
        page.goto(f"{live_server.url}{url}")
        widths[url] = page.evaluate("document.documentElement.scrollWidth")
        culprits[url] = too_wide(page)
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.screenshot(path=str(SHOTS / "mobile-run.png"), full_page=True)
    login = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    login.goto(f"{live_server.url}/accounts/login/")
    widths["/accounts/login/"] = login.evaluate("document.documentElement.scrollWidth")
    login.context.close()
    page.context.close()
    wide = {url: w for url, w in widths.items() if w > PHONE["width"]}
    assert wide == {}, {url: culprits.get(url) for url in wide}


def background_luminance(page: Any) -> float:
    """The WCAG luminance of the body's computed background colour."""
    rgb = page.evaluate(
        "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_dark_mode_follows_the_browsers_preference(
    browser: Any, live_server: Any, looks_world: tuple[World, Run]
) -> None:
    _world, run = looks_world
    light = logged_in(browser, live_server.url, "operator", color_scheme="light")
    assert background_luminance(light) > 0.8
    light.context.close()

    dark = logged_in(browser, live_server.url, "operator", color_scheme="dark")
    assert background_luminance(dark) < 0.05
    text = dark.evaluate("getComputedStyle(document.body).color")
    assert text != "rgb(31, 41, 55)"  # the light scheme's text colour would be unreadable
    dark.goto(f"{live_server.url}/runs/{run.pk}/")
    assert background_luminance(dark) < 0.05
    dark.screenshot(path=str(SHOTS / "dark-mode.png"), full_page=True)
    dark.context.close()
