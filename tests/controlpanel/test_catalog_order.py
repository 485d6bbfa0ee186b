"""The catalog keeps each DAG's doc_md and its params in the order the DAG's author wrote them.

``Dag.ordered_params`` is tested on its own and through the database (PostgreSQL's jsonb
does not keep the keys' order of ``params``). ``catalog.refresh_dag`` is tested against the
real Airflow 2.11 (which sorts params, so the order comes from the DAG's source) and 3.1.8
(which sends the author's order), on Airflow's own ``example_params_ui_tutorial``; the
fallback to Airflow's order when the source cannot be read mocks only that failure.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
import responses

from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag
from controlpanel.services import catalog
from tests.factories import ProfileFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.param_order import example_file, keys_as_written
from tests.helpers.profiles import harness_profile

TUTORIAL = "example_params_ui_tutorial"


def dag_with(params: dict[str, Any], param_order: Any) -> Dag:
    return Dag(dag_id="d", params=params, param_order=param_order)


# --- Dag.ordered_params ---------------------------------------------------------------------


def test_ordered_params_follow_the_stored_order() -> None:
    dag = dag_with({"a": 1, "b": 2, "c": 3}, ["c", "a", "b"])
    assert list(dag.ordered_params) == ["c", "a", "b"]
    assert dag.ordered_params == {"a": 1, "b": 2, "c": 3}


def test_params_missing_from_the_order_come_after_in_their_own_order() -> None:
    dag = dag_with({"z": 1, "a": 2, "m": 3, "b": 4}, ["m", "a"])
    assert list(dag.ordered_params) == ["m", "a", "z", "b"]


def test_names_in_the_order_that_are_no_params_are_skipped() -> None:
    dag = dag_with({"a": 1, "b": 2}, ["gone", "b", "b", 7, None, "a"])
    assert list(dag.ordered_params) == ["b", "a"]


@pytest.mark.parametrize("param_order", [[], None, "ab", {"b": 1}])
def test_without_a_usable_order_the_params_keep_their_own(param_order: Any) -> None:
    assert list(dag_with({"b": 1, "a": 2}, param_order).ordered_params) == ["b", "a"]
    assert dag_with({}, ["a"]).ordered_params == {}


@pytest.mark.django_db
def test_the_order_survives_the_database() -> None:
    profile = ProfileFactory.create()
    # Names PostgreSQL's jsonb would reorder (it sorts keys by length, then bytes).
    params = {name: {"default": i} for i, name in enumerate(["zeta", "b", "alpha", "mu"])}
    Dag.objects.create(profile=profile, dag_id="d", params=params, param_order=list(params))
    stored = Dag.objects.get(profile=profile, dag_id="d")
    assert list(stored.ordered_params) == ["zeta", "b", "alpha", "mu"]
    assert stored.ordered_params["alpha"] == {"default": 2}


# --- refresh_dag against the real Airflows --------------------------------------------------


def refresh_counting_requests(profile: AirflowProfile, dag_id: str) -> tuple[Dag, int]:
    """Refresh one DAG; also return how many requests that cost once the API is known."""
    catalog.refresh_dag(profile, dag_id)  # detects the API version (its probes not counted)
    transport = client_for(profile).transport
    before = transport.request_count
    dag = catalog.refresh_dag(profile, dag_id)
    return Dag.objects.get(pk=dag.pk), transport.request_count - before


@pytest.mark.airflow
@pytest.mark.django_db
def test_airflow_2_params_get_the_order_of_the_dag_file(airflow: AirflowInstance) -> None:
    profile = harness_profile(airflow)
    dag, requests_made = refresh_counting_requests(profile, TUTORIAL)

    written = keys_as_written(example_file(airflow.version, TUTORIAL))
    assert list(dag.ordered_params) == written
    assert dag.param_order == written
    sent = list(client_for(profile).get_dag(TUTORIAL).params)
    assert sent == sorted(sent) != written  # what the catalog would show without the source
    assert dag.ordered_params["most_loved_number"]["schema"]["type"] == "integer"
    assert dag.doc_md.startswith("DAG demonstrating various options for a trigger form")
    assert requests_made == 2  # the details and the source


@pytest.mark.airflow
@pytest.mark.django_db
def test_airflow_3_params_keep_the_order_airflow_sends(airflow3: AirflowInstance) -> None:
    profile = harness_profile(airflow3)
    dag, requests_made = refresh_counting_requests(profile, TUTORIAL)

    details = client_for(profile).get_dag(TUTORIAL)
    assert list(dag.ordered_params) == list(details.params)
    assert list(dag.ordered_params) == keys_as_written(example_file(airflow3.version, TUTORIAL))
    assert list(dag.ordered_params) != sorted(dag.ordered_params)
    assert dag.doc_md == details.doc_md
    assert dag.doc_md.startswith("DAG demonstrating various options for a trigger form")
    assert requests_made == 1  # the details only: Airflow 3 keeps the order


@pytest.mark.airflow
@pytest.mark.django_db
def test_a_dag_without_params_costs_no_source_request(airflow: AirflowInstance) -> None:
    profile = harness_profile(airflow)
    dag, requests_made = refresh_counting_requests(profile, "cp_paused")
    assert (dag.params, dag.param_order, requests_made) == ({}, [], 1)


@pytest.mark.airflow
@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": "<html><title>Internal Server Error</title></html>"},
        {"status": 403, "json": {"title": "Forbidden", "status": 403, "detail": None}},
        {"status": 200, "json": {"content": "with DAG(dag_id='x' as dag:\n"}},  # no Python
        {"status": 200, "json": {"content": "DAG('another_dag', params={'x': 1})\n"}},
        {"body": requests.exceptions.ConnectionError("Connection refused")},
    ],
    ids=["server-error", "forbidden", "syntax-error", "other-dag", "unreachable"],
)
def test_a_failed_source_read_keeps_airflow_s_order(
    airflow: AirflowInstance, failure: dict[str, Any]
) -> None:
    profile = harness_profile(airflow)
    with responses.RequestsMock() as http:
        http.add_passthru(airflow.url)  # everything but the source is the real Airflow
        http.get(re.compile(re.escape(f"{airflow.url}/api/v1/dagSources/") + ".+"), **failure)
        dag = catalog.refresh_dag(profile, TUTORIAL)

    stored = Dag.objects.get(pk=dag.pk)
    assert len(stored.params) > 20
    assert list(stored.ordered_params) == sorted(stored.params)  # as Airflow 2 sent them
    assert stored.param_order == sorted(stored.params)
    assert stored.doc_md.startswith("DAG demonstrating")
