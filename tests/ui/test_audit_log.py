"""History for audit reviewers: access, filters, detail, streamed CSV, keyset pages."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.audit import Actor, record_event
from controlpanel.models import AuditEvent
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
REVIEWERS = {p: 404 for p in PERSONAS} | {"superuser": 200, "auditor": 200, "anonymous": 302}


@pytest.fixture
def events(world: World) -> list[AuditEvent]:
    users = world.users
    return [
        record_event(
            Actor(users["operator"], ip_address="10.0.0.1"),
            "dag.trigger",
            outcome="succeeded",
            profile=world.prod,
            dag_id="finance_daily",
            dag_run_id="r1",
            payload={"conf": {"a": 1}},
        ),
        record_event(
            Actor(users["viewer"]),
            "dag.trigger",
            outcome="denied",
            profile=world.prod,
            dag_id="finance_daily",
            message='=HYPERLINK("x")',
        ),
        record_event(
            Actor(users["operate_user"]),
            "dag.pause",
            outcome="failed",
            profile=world.staging,
            dag_id="orders_etl",
            message="Airflow could not be reached.",
        ),
    ]


def shown_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/audit/(\d+)/"', html)]


@pytest.mark.parametrize("persona", PERSONAS)
def test_history_matrix(events: list[AuditEvent], client_as: ClientAs, persona: str) -> None:
    client = client_as(persona)
    assert client.get("/audit/").status_code == REVIEWERS[persona]
    assert client.get(f"/audit/{events[0].pk}/").status_code == REVIEWERS[persona]
    assert client.get("/audit/export.csv").status_code == REVIEWERS[persona]


def test_history_link_only_for_reviewers(events: list[AuditEvent], client_as: ClientAs) -> None:
    assert 'href="/audit/"' in client_as("auditor").get("/").content.decode()
    assert 'href="/audit/"' not in client_as("operator").get("/").content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user=operator", [0]),
        ("team=etl-ops", [2]),
        ("team=finance-viewers", [1]),
        ("profile=staging", [2]),
        ("dag=finance_daily", [1, 0]),
        ("dag=finance_daily&run=r1", [0]),
        ("action=dag.trigger", [1, 0]),
        ("outcome=denied", [1]),
        ("from=2000-01-01&to=2000-01-02", []),
    ],
)
def test_history_filters(
    events: list[AuditEvent], client_as: ClientAs, query: str, expected: list[int]
) -> None:
    html = client_as("auditor").get(f"/audit/?{query}").content.decode()
    assert shown_ids(html) == [events[i].pk for i in expected]


def test_date_range_includes_the_whole_last_day(
    events: list[AuditEvent], client_as: ClientAs
) -> None:
    today = timezone.localdate()
    html = client_as("auditor").get(f"/audit/?from={today}&to={today}").content.decode()
    assert {e.pk for e in events} <= set(shown_ids(html))
    tomorrow = today + timedelta(days=1)
    assert shown_ids(client_as("auditor").get(f"/audit/?from={tomorrow}").content.decode()) == []


def test_detail_shows_who_what_where_and_payload(
    events: list[AuditEvent], client_as: ClientAs
) -> None:
    html = client_as("auditor").get(f"/audit/{events[0].pk}/").content.decode()
    assert "operator" in html and "10.0.0.1" in html and "finance_daily" in html
    assert "&quot;conf&quot;" in html and events[0].hash in html


def test_csv_export_streams_every_matching_event_and_defuses_formulas(
    events: list[AuditEvent], client_as: ClientAs
) -> None:
    response = client_as("auditor").get("/audit/export.csv?dag=finance_daily")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["id"]) for r in rows] == [events[0].pk, events[1].pk]
    assert rows[0]["actor_username"] == "operator" and rows[0]["ip_address"] == "10.0.0.1"
    assert rows[1]["message"] == '\'=HYPERLINK("x")'


def test_csv_export_reads_with_an_iterator(
    events: list[AuditEvent], client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db.models.query import QuerySet

    used: list[int] = []
    original = QuerySet.iterator

    def spy(self: Any, chunk_size: int | None = None) -> Any:
        used.append(chunk_size or 0)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    response = client_as("auditor").get("/audit/export.csv?action=dag.trigger")
    assert len(b"".join(response.streaming_content).splitlines()) == 3  # type: ignore[attr-defined]
    assert used == [2000]


def test_pages_go_by_id_without_offset_or_count(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    actor = Actor(world.users["operator"])
    for _ in range(3):
        record_event(actor, "dag.trigger", outcome="succeeded")
    client = client_as("auditor")
    client.get("/audit/?action=dag.trigger")
    with CaptureQueriesContext(connection) as few:
        client.get("/audit/?action=dag.trigger")
    for _ in range(57):
        record_event(actor, "dag.trigger", outcome="succeeded")
    with (
        django_assert_max_num_queries(len(few.captured_queries)),
        CaptureQueriesContext(connection) as many,
    ):
        first = client.get("/audit/?action=dag.trigger").content.decode()
    page_sql = [q["sql"] for q in many.captured_queries if "controlpanel_auditevent" in q["sql"]]
    assert page_sql and all(
        "OFFSET" not in s.upper() and "COUNT(" not in s.upper() for s in page_sql
    )
    ids = shown_ids(first)
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="\?([^"]*before=\d+)"', first)
    assert older
    second = shown_ids(
        client.get("/audit/?" + older.group(1).replace("&amp;", "&")).content.decode()
    )
    assert len(second) == 10 and max(second) < min(ids)
