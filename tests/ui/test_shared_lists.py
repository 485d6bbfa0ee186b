"""The catalog and runs lists answer the same question on the page and in the API.

Both ask ``controlpanel.selectors``: for each persona and each filter, the DAGs and runs a
page lists are exactly those ``GET /api/dags/`` and ``GET /api/runs/`` return.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from controlpanel.models import Dag
from tests.factories import RunFactory
from tests.world import PERSONAS, World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]
PEOPLE = [p for p in PERSONAS if p != "anonymous"]


def page_dags(client: Client, query: str) -> set[str]:
    html = client.get(f"/?{query}").content.decode()
    return {f"{p}/{d}" for p, d in re.findall(r'href="/dags/([\w-]+)/([\w.-]+)/"', html)}


def api_dags(client: Client, query: str) -> set[str]:
    body: dict[str, Any] = client.get(f"/api/dags/?{query}&page_size=200").json()
    return {f"{d['profile']}/{d['dag_id']}" for d in body["results"]}


@pytest.mark.parametrize("persona", PEOPLE)
@pytest.mark.parametrize(
    ("page_query", "api_query"),
    [
        ("", ""),
        ("q=daily", "search=daily"),
        ("q=Nightly", "search=Nightly"),  # the description is searched on both
        ("tag=finance", "tag=finance"),
        ("profile=staging", "profile=staging"),
        ("paused=yes", "paused=true"),
        ("paused=no", "paused=false"),
    ],
)
def test_catalog_page_and_api_list_the_same_dags(
    world: World, client_as: ClientAs, persona: str, page_query: str, api_query: str
) -> None:
    Dag.objects.filter(dag_id="finance_daily").update(description="Nightly finance load")
    Dag.objects.filter(profile=world.staging).update(is_paused=True)
    client = client_as(persona)
    listed = page_dags(client, page_query)
    assert listed == api_dags(client, api_query)
    if persona == "superuser":
        assert listed  # every filter above matches something for someone who sees all


def page_runs(client: Client, query: str) -> set[str]:
    html = client.get(f"/runs/?scope=all&{query}").content.decode()
    return set(re.findall(r'href="/runs/(\d+)/"', html))


def api_runs(client: Client, query: str) -> set[str]:
    body: dict[str, Any] = client.get(f"/api/runs/?{query}&page_size=200").json()
    return {str(r["id"]) for r in body["results"]}


@pytest.mark.parametrize("persona", PEOPLE)
@pytest.mark.parametrize(
    ("page_query", "api_query"),
    [
        ("", ""),
        ("dag=finance_daily", "dag_id=finance_daily"),
        ("profile=staging", "profile=staging"),
        ("state=failed", "state=failed"),
    ],
)
def test_runs_page_and_api_list_the_same_runs(
    world: World, client_as: ClientAs, persona: str, page_query: str, api_query: str
) -> None:
    for dag in world.dags.values():
        for state in ("success", "failed"):
            RunFactory.create(profile=dag.profile, dag_id=dag.dag_id, state=state)
    client = client_as(persona)
    listed = page_runs(client, page_query)
    assert listed == api_runs(client, api_query)
    if persona == "superuser":
        assert listed
