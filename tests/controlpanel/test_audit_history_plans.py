"""On PostgreSQL, the History's pages read an index range in their own order: no walk along
the whole primary key filtering dates, no sort of every matching row (EXPLAIN)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from controlpanel.models import AuditEvent
from controlpanel.selectors import events_before
from controlpanel.views.audit_log import filtered_events
from controlpanel.views.listing import PAGE_SIZE

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans"),
]
EVENTS, DAYS = 10_000, 200
ACTIONS = ["dag.trigger", "auth.login", "run.retry", "dag.pause"]


@pytest.fixture
def trail() -> list[int]:
    """Events over DAYS days, oldest first (the chain is not what this is about); their ids."""
    start = timezone.now() - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / EVENTS
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                created_at=start + n * step,
                actor_username=f"user{n % 50}",
                source="web",
                action=ACTIONS[n % len(ACTIONS)],
                profile_slug=f"p{n % 3}",
                dag_id=f"dag_{n % 400}",
                outcome="denied" if n % 20 == 0 else "succeeded",
                prev_hash="0" * 64,
                hash=uuid.uuid4().hex * 2,
                algorithm="hmac-sha256",
            )
            for n in range(EVENTS)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AuditEvent._meta.db_table}")
    return list(AuditEvent.objects.order_by("id").values_list("id", flat=True))


def plan_of_page(params: dict[str, str], before: int | None = None) -> str:
    """EXPLAIN of the History page's query for these filters (and keyset position)."""
    events = filtered_events(params)
    if before is not None:
        events = events_before(events, before)
    return events[: PAGE_SIZE + 1].explain()


def week_of(day: int) -> dict[str, str]:
    start = (timezone.now() - timedelta(days=DAYS - day)).date()
    return {"from": str(start), "to": str(start + timedelta(days=6))}


def assert_index_range_in_order(plan: str, index: str) -> None:
    assert f"Index Scan Backward using {index} " in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan and "_pkey" not in plan, plan


def test_a_date_range_page_reads_the_time_index_in_page_order(trail: list[int]) -> None:
    for day in (10, 100, 190):
        assert_index_range_in_order(plan_of_page(week_of(day)), "audit_time")
    week = week_of(50)
    first = filtered_events(week).values_list("id", flat=True)[:PAGE_SIZE]
    # The next page goes on along the same index from the last event shown.
    assert_index_range_in_order(plan_of_page(week, before=list(first)[-1]), "audit_time")


def rows_read(params: dict[str, str]) -> int:
    """How many rows the page's query read (EXPLAIN ANALYZE): returned or filtered out."""
    events = filtered_events(params)[: PAGE_SIZE + 1]
    plan = json.loads(events.explain(format="json", analyze=True))[0]["Plan"]
    assert "Seq Scan" not in json.dumps(plan), plan

    def read(node: dict[str, Any]) -> int:
        own = 0
        if "Scan" in node["Node Type"]:
            own = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        return own + sum(read(child) for child in node.get("Plans", []))

    return read(plan)


def test_each_filter_reads_about_a_page_of_rows(trail: list[int]) -> None:
    """An index that fits each filter: the rows read are of the order of a page, not the
    trail, whatever the filter, its dates, and where in the trail they fall."""
    filters: list[dict[str, str]] = [
        {},
        {"user": "user7"},
        {"action": "run.retry"},
        {"profile": "p1"},
        {"dag": "dag_17"},
        {"profile": "p2", "dag": "dag_17"},
        {"outcome": "denied"},
        {"run": "manual__2026-01-01"},
        {"action": "run.retry", **week_of(20)},
        {"user": "user7", **week_of(120)},
        {"outcome": "denied", **week_of(5)},
        {"profile": "p1", **week_of(10)},
    ]
    read = {json.dumps(params): rows_read(params) for params in filters}
    assert max(read.values()) <= 20 * PAGE_SIZE, read
