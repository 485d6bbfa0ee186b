"""History for audit reviewers: access, filters, detail, streamed CSV, keyset pages."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.audit import Actor, record_event
from controlpanel.models import AUDIT_ACTIONS, AuditEvent
from controlpanel.selectors import AUDIT_CSV_COLUMNS
from controlpanel.selectors import audit as audit_selectors
from tests.factories import RunFactory
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
# Signed-in people without the right are told who may read the history (403), not 404.
REVIEWERS = {p: 403 for p in PERSONAS} | {"superuser": 200, "auditor": 200, "anonymous": 302}


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
    if REVIEWERS[persona] == 403:
        page = client.get("/audit/").content.decode()
        assert "ask an admin to give you the auditor role" in page
        assert 'href="/runs/"' in page  # the navigation and a way back


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


# --- the action picker in plain words --------------------------------------------------------


def test_the_action_filter_is_a_choice_list_in_plain_words(
    events: list[AuditEvent], client_as: ClientAs
) -> None:
    html = client_as("auditor").get("/audit/?action=dag.pause").content.decode()
    picker = html.split('<select id="f-action" name="action">')[1].split("</select>")[0]
    assert '<option value="">Any action</option>' in picker
    assert '<option value="dag.trigger">Triggered a run</option>' in picker
    assert '<option value="approval.approve">Approved a request</option>' in picker
    assert '<option value="dag.pause" selected>Paused a DAG</option>' in picker
    assert picker.count("<option") == len(AUDIT_ACTIONS) + 1
    assert shown_ids(html) == [events[2].pk]  # the URL keeps the code: old links still work
    # Rows and the event page say it in words too, with the code beside it.
    assert "Paused a DAG <code" in html
    detail = client_as("auditor").get(f"/audit/{events[2].pk}/").content.decode()
    assert "<h1>Event " in detail and ": Paused a DAG</h1>" in detail


def test_an_unlisted_action_in_an_old_link_still_filters(world: World, client_as: ClientAs) -> None:
    event = record_event(Actor(world.users["operator"]), "legacy.thing", outcome="succeeded")
    html = client_as("auditor").get("/audit/?action=legacy.thing").content.decode()
    assert '<option value="legacy.thing" selected>legacy.thing</option>' in html
    assert shown_ids(html) == [event.pk]


def test_the_api_gives_the_same_words(events: list[AuditEvent], client_as: ClientAs) -> None:
    body = client_as("auditor").get("/api/audit/?action=dag.pause").json()
    assert [(e["action"], e["action_label"]) for e in body["results"]] == [
        ("dag.pause", "Paused a DAG")
    ]


# The calls that name the action they record, and what each takes it as.
_AUDITING_CALLS = {
    "audited",
    "record_event",
    "AuditedAction",
    "_audited_on_run",
    "may_act",
    "_require_manager",
    "_save_checked",
    "ensure_may_manage_teams",
    "ensure_may_manage_users",
    "find_dag",
}
_ACTION_SHAPE = re.compile(r"^[a-z]+\.[a-z_]+$")


def _recorded_actions() -> set[str]:
    """Every action code the panel's code passes to an auditing call, read from its source."""
    codes: set[str] = set()
    for path in (Path(__file__).resolve().parents[2] / "controlpanel").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in _AUDITING_CALLS:
                    values = [*node.args, *(k.value for k in node.keywords if k.arg == "action")]
                    codes |= _constants(values)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and any(
                isinstance(t, ast.Name | ast.Tuple) and "action" in ast.unparse(t).lower()
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            ):
                codes |= _constants(list(ast.walk(node.value))) if node.value else set()
    return codes


def _constants(nodes: Sequence[ast.AST]) -> set[str]:
    return {
        sub.value
        for node in nodes
        for sub in ast.walk(node)
        if isinstance(sub, ast.Constant)
        and isinstance(sub.value, str)
        and _ACTION_SHAPE.match(sub.value)
    }


def test_every_recorded_action_has_plain_words() -> None:
    recorded = _recorded_actions()
    assert {"dag.trigger", "member.remove", "approval.approve", "auth.login"} <= recorded
    assert recorded - set(AUDIT_ACTIONS) == set(), "add these to AUDIT_ACTIONS"


# --- links from events to what they name -------------------------------------------------------


@pytest.fixture
def named(world: World) -> dict[str, Any]:
    """A run of prod finance_daily, its trigger event, a member event, a gone run's event."""
    run = RunFactory.create(profile=world.prod, dag_id="finance_daily", dag_run_id="r1")
    RunFactory.create(profile=world.staging, dag_id="finance_daily", dag_run_id="r1")
    actor = Actor(world.users["operator"])
    trigger = record_event(
        actor,
        "dag.trigger",
        outcome="succeeded",
        profile=world.prod,
        dag_id="finance_daily",
        dag_run_id="r1",
    )
    member = record_event(
        Actor(world.users["team_admin"]),
        "member.add",
        outcome="succeeded",
        payload={"team": "finance-viewers", "user": "outsider"},
    )
    gone = record_event(
        actor,
        "dag.trigger",
        outcome="succeeded",
        profile=world.prod,
        dag_id="no_such_dag",
        dag_run_id="r-gone",
    )
    return {"run": run, "trigger": trigger, "member": member, "gone": gone}


def test_a_panel_admin_follows_an_event_to_its_run_dag_and_team(
    named: dict[str, Any], client_as: ClientAs
) -> None:
    client = client_as("superuser")
    run_link = f'href="/runs/{named["run"].pk}/"'
    for html in (
        client.get("/audit/").content.decode(),
        client.get(f"/audit/{named['trigger'].pk}/").content.decode(),
    ):
        assert run_link in html
        assert 'href="/dags/prod/finance_daily/"' in html
    assert 'href="/manage/teams/finance-viewers/"' in client.get("/audit/").content.decode()
    member = client.get(f"/audit/{named['member'].pk}/").content.decode()
    assert 'href="/manage/teams/finance-viewers/">Finance viewers</a>' in member
    gone = client.get(f"/audit/{named['gone'].pk}/").content.decode()
    assert "<code>r-gone</code>" in gone and not re.search(r'href="/runs/\d+/"', gone)
    assert 'href="/dags/prod/no_such_dag/"' not in gone


def test_an_auditor_gets_run_links_and_only_the_links_they_can_open(
    named: dict[str, Any], client_as: ClientAs
) -> None:
    client = client_as("auditor")
    html = client.get("/audit/").content.decode()
    assert f'href="/runs/{named["run"].pk}/"' in html
    assert client.get(f"/runs/{named['run'].pk}/").status_code == 200
    # The auditor is in no team: DAG and team pages would answer 404, so no links to them.
    assert 'href="/dags/' not in html and 'href="/manage/teams/' not in html
    assert client.get("/dags/prod/finance_daily/").status_code == 404


def test_the_history_with_links_makes_the_same_queries_for_3_or_50_events(
    world: World,
    named: dict[str, Any],
    client_as: ClientAs,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    client = client_as("superuser")
    client.get("/audit/")
    with CaptureQueriesContext(connection) as few:
        client.get("/audit/")
    actor = Actor(world.users["operator"])
    for n in range(25):
        run = RunFactory.create(profile=world.prod, dag_id="finance_monthly")
        record_event(
            actor,
            "dag.trigger",
            outcome="succeeded",
            profile=world.prod,
            dag_id="finance_monthly",
            dag_run_id=run.dag_run_id,
        )
        record_event(actor, "grant.add", outcome="succeeded", payload={"team": f"t{n % 3}"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/audit/").content.decode()
    assert len(re.findall(r'href="/runs/\d+/"', html)) == 25
    assert html.count('href="/dags/prod/finance_monthly/"') == 25
