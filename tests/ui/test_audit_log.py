"""History for audit reviewers: access, filters, detail, streamed CSV, keyset pages."""

from __future__ import annotations

import csv
import io
import json
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
from controlpanel.selectors import AUDIT_CSV_COLUMNS
from controlpanel.selectors import audit as audit_selectors
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
    assert 'href="/audit/"' in client_as("auditor").get("/runs/").content.decode()
    assert 'href="/audit/"' not in client_as("operator").get("/runs/").content.decode()


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


def _csv_as_it_was(events: list[AuditEvent]) -> str:
    """The export as the panel wrote it before it streamed chunks: one model, one line."""

    def cell(event: AuditEvent, column: str) -> Any:
        value = getattr(event, column)
        if column == "payload":
            value = json.dumps(value, sort_keys=True, default=str)
        elif column == "created_at":
            value = value.isoformat()
        if value is None:
            return ""
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
        return value

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for event in sorted(events, key=lambda e: e.pk):
        writer.writerow([cell(AuditEvent.objects.get(pk=event.pk), c) for c in AUDIT_CSV_COLUMNS])
    return out.getvalue()


def test_csv_export_is_what_it_was_row_for_row(
    events: list[AuditEvent], client_as: ClientAs
) -> None:
    awkward = [
        record_event(
            Actor(username="@admin", ip_address="2001:db8::1", token_prefix="+tok"),
            "dag.trigger",
            outcome="failed",
            profile="-prod",
            dag_id="d",
            dag_run_id="\trun",
            payload={"conf": {"z": [1, 2.5, None, "é"], "a": {"=b": "-1"}}, "password": "p"},
            message='Line one, "quoted"\nline two\r\n=SUM(A1)',
        ),
        record_event(Actor.system(), "notification.send", outcome="succeeded", payload={}),
    ]
    response = client_as("auditor").get("/audit/export.csv")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    expected = _csv_as_it_was(list(AuditEvent.objects.all()))
    assert body == expected
    ids = [row[0] for row in csv.reader(io.StringIO(body))]
    assert {str(e.pk) for e in events + awkward} < set(ids)  # the sign-in event too


def test_csv_export_streams_many_rows_per_chunk_in_keyset_batches(
    world: World, client_as: ClientAs, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = Actor(world.users["operator"])
    for n in range(7):
        record_event(operator, "dag.trigger", outcome="succeeded", dag_id=f"d{n}")
    record_event(operator, "dag.pause", outcome="succeeded")
    monkeypatch.setattr(audit_selectors, "CSV_BATCH_ROWS", 4)
    monkeypatch.setattr(audit_selectors, "CSV_CHUNK_ROWS", 3)
    client = client_as("auditor")
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/audit/export.csv?action=dag.trigger")
        chunks = [c.decode() for c in response.streaming_content]  # type: ignore[attr-defined]
    # Rows 1-4 from the first query in chunks of 3 and 1, rows 5-7 from the second.
    assert [len(c.splitlines()) for c in chunks] == [1 + 3, 1, 3]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [r["dag_id"] for r in rows] == [f"d{n}" for n in range(7)]
    reads = [q["sql"] for q in queries.captured_queries if '"controlpanel_auditevent"' in q["sql"]]
    assert len(reads) == 2 and all("LIMIT 4" in sql for sql in reads)


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
    # The keyset goes on after any event shown; an id no event has, typed by hand, means
    # "below it".
    beyond = shown_ids(
        client.get(f"/audit/?action=dag.trigger&before={ids[0] + 1000}").content.decode()
    )
    assert beyond == ids
    assert (
        shown_ids(client.get(f"/audit/?action=dag.trigger&before={ids[3]}").content.decode())
        == (ids + second)[4:54]
    )
