"""The catalog sync asks Airflow only what changed (real Airflow 2.11 and 3.1.8).

A sync reads the DAG list; details (params, doc_md) only for DAGs whose details were read
before, whose file Airflow parsed again since, and whose file's source changed. A DAG is
"parsed again" here by moving the stored parse time back, and "changed" by altering the
stored source digest: the same thing Airflow's next parse of an edited file shows.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag
from controlpanel.services import catalog
from tests.harness.airflow import AirflowInstance
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db]
SHOWCASE = "cp_params_showcase"


def sync_counting_requests(profile: AirflowProfile) -> tuple[catalog.CatalogSync, int]:
    """One catalog sync, and the Airflow requests it made."""
    transport = client_for(profile).transport
    before = transport.request_count
    result = catalog.refresh_catalog(profile)
    return result, transport.request_count - before


def list_pages(profile: AirflowProfile) -> int:
    """Requests for the DAG list alone (one per page)."""
    listed = Dag.objects.filter(profile=profile, is_active=True).count()
    return max(1, math.ceil(listed / client_for(profile).api.page_limit))


@pytest.fixture
def profile(panel_airflow: AirflowInstance) -> AirflowProfile:
    """The harness profile, logged in and its API version known (neither is counted)."""
    profile = harness_profile(panel_airflow)
    client = client_for(profile)
    client.detect_api_version()
    client.list_import_errors()  # Airflow 3: fetches the JWT
    return profile


def test_a_first_sync_lists_the_dags_without_reading_any_details(profile: AirflowProfile) -> None:
    assert profile.catalog_synced_at is None
    result, requests_made = sync_counting_requests(profile)
    assert result.created >= 5 and Dag.objects.filter(dag_id=SHOWCASE).exists()
    assert requests_made == list_pages(profile)
    assert not Dag.objects.filter(profile=profile, params_synced_at__isnull=False).exists()
    profile.refresh_from_db()
    assert profile.catalog_synced_at is not None


def test_a_dag_whose_file_was_not_parsed_again_costs_nothing(profile: AirflowProfile) -> None:
    catalog.refresh_catalog(profile)
    read = catalog.refresh_dag(profile, SHOWCASE)
    assert read.last_parsed_at is not None
    Dag.objects.filter(pk=read.pk).update(last_parsed_at=read.last_parsed_at + timedelta(days=1))
    _result, requests_made = sync_counting_requests(profile)
    assert requests_made == list_pages(profile)
    assert Dag.objects.get(pk=read.pk).params_synced_at == read.params_synced_at


def test_a_reparsed_unchanged_file_costs_one_source_request_and_no_details(
    profile: AirflowProfile,
) -> None:
    catalog.refresh_catalog(profile)
    read = catalog.refresh_dag(profile, SHOWCASE)
    if not read.source_digest:  # Airflow 3 keeps the param order: no source read yet
        read = catalog.refresh_dag(profile, SHOWCASE, source=_source(profile))
    assert read.last_parsed_at is not None
    earlier = read.last_parsed_at - timedelta(minutes=5)
    Dag.objects.filter(pk=read.pk).update(last_parsed_at=earlier)
    _result, requests_made = sync_counting_requests(profile)
    assert requests_made == list_pages(profile) + 1  # the file's source, no details
    after = Dag.objects.get(pk=read.pk)
    assert after.params_synced_at == read.params_synced_at
    assert after.last_parsed_at is not None and after.last_parsed_at > earlier


def test_a_changed_file_has_its_dags_details_read_again(profile: AirflowProfile) -> None:
    catalog.refresh_catalog(profile)
    read = catalog.refresh_dag(profile, SHOWCASE)
    params, order, doc_md = read.params, read.param_order, read.doc_md
    assert read.last_parsed_at is not None and read.params_synced_at is not None
    Dag.objects.filter(pk=read.pk).update(
        last_parsed_at=read.last_parsed_at - timedelta(minutes=5),
        source_digest="a digest of what the file said before",
        params={},
        param_order=[],
        doc_md="stale",
    )
    _result, requests_made = sync_counting_requests(profile)
    # The file's source once (reused for the param order on Airflow 2), then the details.
    assert requests_made == list_pages(profile) + 2
    after = Dag.objects.get(pk=read.pk)
    assert (after.params, after.param_order, after.doc_md) == (params, order, doc_md)
    assert after.params_synced_at is not None and after.params_synced_at > read.params_synced_at
    assert after.source_digest == catalog.source_digest(_source(profile))


def test_dags_never_opened_are_not_read_however_often_their_file_is_parsed(
    profile: AirflowProfile,
) -> None:
    catalog.refresh_catalog(profile)
    Dag.objects.filter(profile=profile).update(last_parsed_at=None, source_digest="")
    _result, requests_made = sync_counting_requests(profile)
    assert requests_made == list_pages(profile)


def _source(profile: AirflowProfile) -> str:
    client = client_for(profile)
    listed = {d.dag_id: d for d in client.list_dags()}
    return client.get_dag_source(SHOWCASE, file_token=listed[SHOWCASE].file_token)
