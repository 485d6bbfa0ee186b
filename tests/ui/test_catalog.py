"""The catalog at /: who sees which DAGs, last runs, filters, query count, pause toggle."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import factory
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.models import AuditEvent, Dag
from controlpanel.views.listing import PAGE_SIZE
from tests.factories import DagFactory, GrantFactory, ProfileFactory, RunFactory
from tests.ui.conftest import FakeAirflow
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]

VISIBLE = {
    "superuser": {
        "prod/finance_daily",
        "prod/finance_monthly",
        "prod/marketing_sync",
        "prod/orders_etl",
        "staging/finance_daily",
        "staging/orders_etl",
    },
    "team_admin": {"prod/finance_daily", "prod/finance_monthly"},
    "viewer": {"prod/finance_daily", "prod/finance_monthly"},
    "operator": {"prod/finance_daily"},
    "operate_user": {"prod/orders_etl"},
    "auditor": set(),
    "outsider": set(),
}


def dag_links(html: str) -> set[str]:
    """The DAG pages the catalog links to, as "profile/dag_id"."""
    return {f"{p}/{d}" for p, d in re.findall(r'href="/dags/([\w-]+)/([\w.-]+)/"', html)}


@pytest.mark.parametrize("persona", PERSONAS)
def test_catalog_lists_exactly_the_visible_dags(client_as: ClientAs, persona: str) -> None:
    response = client_as(persona).get("/")
    if persona == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/")
        return
    if persona == "auditor":  # in no team: lands on the overview (tests/ui/test_overview.py)
        assert response.status_code == 302 and response["Location"] == "/overview/"
        response = client_as(persona).get("/?q=")
    assert response.status_code == 200
    assert dag_links(response.content.decode()) == VISIBLE[persona]


def test_catalog_shows_last_run_tags_profile_and_rights(world: World, client_as: ClientAs) -> None:
    prod = world.prod
    RunFactory.create(profile=prod, dag_id="orders_etl", state="success")
    latest = RunFactory.create(profile=prod, dag_id="orders_etl", state="failed")
    html = client_as("operate_user").get("/").content.decode()
    assert f'href="/runs/{latest.pk}/"' in html
    assert '<span class="state state-failed">Failed</span>' in html
    assert '<span class="tag">etl</span>' in html and "Production" in html
    assert "Operate" in html and "Pause…" in html and "Trigger a run" in html
    viewer = client_as("viewer").get("/").content.decode()
    assert "No runs yet" in viewer and "Pause…" not in viewer and "Trigger a run" not in viewer


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=monthly", {"prod/finance_monthly"}),
        ("tag=etl", {"prod/orders_etl", "staging/orders_etl"}),
        ("profile=staging", {"staging/finance_daily", "staging/orders_etl"}),
        ("paused=yes", {"prod/marketing_sync"}),
        ("tag=fin", set()),
    ],
)
def test_search_and_filters(
    world: World, client_as: ClientAs, query: str, expected: set[str]
) -> None:
    Dag.objects.filter(dag_id="marketing_sync").update(is_paused=True)
    html = client_as("superuser").get(f"/?{query}").content.decode()
    assert dag_links(html) == expected


def test_catalog_query_count_does_not_grow_with_dags_or_runs(
    world: World, client_as: ClientAs, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    client = client_as("operate_user")
    for dag in world.dags.values():  # the newest runs are read in one query once any exist
        RunFactory.create(profile=dag.profile, dag_id=dag.dag_id, state="success")
    client.get("/")  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    GrantFactory.create(team=world.teams["etl-ops"], profile=world.prod, dag_patterns=["bulk_*"])
    for i in range(30):
        DagFactory.create(profile=world.prod, dag_id=f"bulk_{i}", tags=["etl"])
        RunFactory.create(profile=world.prod, dag_id=f"bulk_{i}", state="success")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/")
    assert len(dag_links(response.content.decode())) == 31
    # session, user, grants, profiles, count, page, its newest run ids, those runs, tags,
    # the user's permissions (two) for the menu, the count of approvals to decide, and the
    # user's team roles (whether the menu shows "Manage")
    assert len(few.captured_queries) <= 13


def many_dags_with_runs(world: World, count: int) -> dict[str, int]:
    """``count`` more prod DAGs, each with two runs; dag id -> its newest run's pk."""
    DagFactory.create_batch(
        count,
        profile=world.prod,
        dag_id=factory.Sequence(lambda n: f"zz_bulk_{n:03d}"),
        params={"big": {"default": "x" * 2000}},
    )
    newest = {}
    for dag in Dag.objects.filter(dag_id__startswith="zz_bulk_"):
        RunFactory.create(profile=world.prod, dag_id=dag.dag_id, state="failed")
        newest[dag.dag_id] = RunFactory.create(
            profile=world.prod, dag_id=dag.dag_id, state="success"
        ).pk
    return newest


def test_every_page_shows_each_dags_newest_run(world: World, client_as: ClientAs) -> None:
    newest = many_dags_with_runs(world, 60)
    client = client_as("superuser")
    html = client.get("/?page=2").content.decode()  # 66 DAGs: the last 16 of them
    shown = {dag for _profile, dag in re.findall(r'href="/dags/([\w-]+)/([\w.-]+)/"', html)}
    assert len(shown) == 16
    for dag_id in shown - {"finance_daily", "orders_etl"}:
        assert f'href="/runs/{newest[dag_id]}/"' in html
    assert html.count("No runs yet") == 2  # the staging DAGs have none


def test_the_catalog_never_loads_params_or_docs(world: World, client_as: ClientAs) -> None:
    many_dags_with_runs(world, 5)
    with CaptureQueriesContext(connection) as queries:
        client_as("superuser").get("/")
    dag_queries = [q["sql"] for q in queries if '"controlpanel_dag"."dag_id"' in q["sql"]]
    assert dag_queries
    for sql in dag_queries:
        assert '"controlpanel_dag"."params"' not in sql and "doc_md" not in sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN ANALYZE of PostgreSQL")
@pytest.mark.parametrize("persona", ["superuser", "operate_user"])
def test_newest_runs_are_looked_up_for_the_page_shown_only(
    world: World, client_as: ClientAs, persona: str
) -> None:
    many_dags_with_runs(world, 120)
    Dag.objects.filter(dag_id__startswith="zz_bulk_").update(tags=["etl"], tag_index="|etl|")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE controlpanel_dag, controlpanel_run")
    with CaptureQueriesContext(connection) as queries:
        response = client_as(persona).get("/?page=3")
    assert response.status_code == 200
    run_queries = [q["sql"] for q in queries if '"controlpanel_run"' in q["sql"]]
    assert run_queries
    with connection.cursor() as cursor:
        for sql in run_queries:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            assert max_loops(plan[0]["Plan"]) <= PAGE_SIZE, json.dumps(plan, indent=1)


def max_loops(node: dict[str, Any]) -> int:
    """The most times any node of a PostgreSQL plan ran."""
    children = node.get("Plans", [])
    return max([node.get("Actual Loops", 1), *(max_loops(child) for child in children)])


def test_a_profile_whose_dags_were_never_read_says_so(world: World, client_as: ClientAs) -> None:
    fresh = ProfileFactory.create(slug="fresh", name="Fresh Airflow", catalog_synced_at=None)
    GrantFactory.create(team=world.teams["finance-viewers"], profile=fresh, dag_patterns=["*"])
    reading = "The DAG list of Fresh Airflow is being read from Airflow…"
    for persona in ("superuser", "viewer"):
        html = client_as(persona).get("/").content.decode()
        assert reading in html
    assert reading not in client_as("operator").get("/").content.decode()  # no grant on it
    Dag.objects.all().delete()
    html = client_as("superuser").get("/").content.decode()
    assert reading in html and "You may not see any DAG yet" not in html
    fresh.catalog_synced_at = timezone.now()
    fresh.save()
    assert reading not in client_as("superuser").get("/").content.decode()


# --- pause and unpause ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_pause_confirmation_page_matrix(client_as: ClientAs, persona: str) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 200,
        "operate_user": 200,
        "anonymous": 302,
    }
    response = client_as(persona).get("/dags/prod/orders_etl/pause/")
    assert response.status_code == expected[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_pausing_a_dag_one_may_see_but_not_operate_is_403(
    client_as: ClientAs, fake_airflow: FakeAirflow, persona: str
) -> None:
    expected = {p: 404 for p in PERSONAS} | {
        "superuser": 302,
        "team_admin": 403,
        "viewer": 403,
        "operator": 403,
        "anonymous": 302,
    }
    response = client_as(persona).post("/dags/prod/finance_daily/pause/", {"paused": "1"})
    assert response.status_code == expected[persona]
    if persona in ("team_admin", "viewer", "operator"):
        assert AuditEvent.objects.filter(action="dag.pause", outcome="denied").count() == 1
    if persona == "superuser":
        assert fake_airflow.calls == [("pause", ("finance_daily", True))]
    else:
        assert fake_airflow.calls == []


def test_operate_user_pauses_after_confirming_and_it_is_audited(
    world: World, client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    client = client_as("operate_user")
    page = client.get("/dags/prod/orders_etl/pause/?next=/%3Ftag%3Detl").content.decode()
    assert "Pause Orders Etl?" in page and 'name="csrfmiddlewaretoken"' in page
    response = client.post("/dags/prod/orders_etl/pause/", {"paused": "1", "next": "/?tag=etl"})
    assert response.status_code == 302 and response["Location"] == "/?tag=etl"
    assert Dag.objects.get(pk=world.dag("prod/orders_etl").pk).is_paused is True
    event = AuditEvent.objects.get(action="dag.pause")
    assert (event.outcome, event.actor_username) == ("succeeded", "operate_user")
    followed = client.get("/").content.decode()
    assert "Orders Etl is paused" in followed and "Unpause…" in followed


def test_pause_refuses_an_offsite_next_and_says_airflow_errors_in_words(
    client_as: ClientAs, fake_airflow: FakeAirflow
) -> None:
    from dags_api import AirflowAuthError

    fake_airflow.fail_with = AirflowAuthError()
    client = client_as("operate_user")
    response = client.post(
        "/dags/prod/orders_etl/pause/", {"paused": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    assert "check the credentials or the Airflow role" in client.get("/").content.decode()
    assert AuditEvent.objects.get(action="dag.pause").outcome == "failed"


def test_pause_needs_csrf(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["operate_user"])
    assert client.post("/dags/prod/orders_etl/pause/", {"paused": "1"}).status_code == 403
