"""Prometheus metrics: recorded in the real Redis, read back through ``/metrics``.

Airflow calls and polls go to the real Airflow; the scrape is parsed with prometheus_client's
own text parser, as Prometheus would read it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
import redis
from django.db import transaction
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from controlpanel.airflow_clients import client_for, forget_client
from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import Run
from controlpanel.permissions import ActionDenied
from controlpanel.services import catalog, dags, tracking
from dags_api import AirflowNotFound, AirflowUnavailable
from tests.controlpanel.conftest import SettingsLoader
from tests.factories import DagFactory, ProfileFactory, RunFactory, UserFactory
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.actions import start_run
from tests.helpers.metrics import scrape, value
from tests.helpers.profiles import harness_profile

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def metrics_redis(settings: Settings, reachable_redis_url: str) -> Iterator[redis.Redis]:
    """The test Redis, without metrics left by earlier tests."""
    settings.REDIS_URL = reachable_redis_url
    client = redis.Redis.from_url(reachable_redis_url)
    for key in client.scan_iter(match="panel:metrics:*"):
        client.delete(key)
    yield client
    client.close()


# --- what is recorded ----------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_to_the_panel_are_counted_by_view_and_status_class(
    metrics_redis: redis.Redis,
) -> None:
    client = Client()
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no/such/page/")
    client.get("/static/no-such-file.css")
    samples = scrape(client)
    requests = "panel_http_requests_total"
    assert value(samples, requests, method="GET", view="healthz", status="2xx") == 2
    assert value(samples, requests, method="GET", view="unmatched", status="4xx") == 1
    assert value(samples, requests, method="GET", view="static", status="4xx") == 1
    healthz = {"method": "GET", "view": "healthz"}
    assert value(samples, "panel_http_request_duration_seconds_count", **healthz) == 2
    assert value(samples, "panel_http_request_duration_seconds_bucket", **healthz, le="+Inf") == 2


@pytest.mark.airflow
@pytest.mark.django_db
def test_airflow_calls_are_counted_per_profile_endpoint_and_status(
    metrics_redis: redis.Redis, airflow: AirflowInstance
) -> None:
    profile = harness_profile(airflow, slug="metered")
    client = client_for(profile)
    client.get_dag("cp_quick")
    client.get_dag("cp_etl")
    with pytest.raises(AirflowNotFound):
        client.get_dag_run("cp_quick", "no-such-run")
    samples = scrape()
    details = {"profile": "metered", "endpoint": "GET /dags/{dag_id}/details"}
    assert value(samples, "panel_airflow_requests_total", **details, status="200") == 2
    run = {"profile": "metered", "endpoint": "GET /dags/{dag_id}/dagRuns/{dag_run_id}"}
    assert value(samples, "panel_airflow_requests_total", **run, status="404") == 1
    assert value(samples, "panel_airflow_request_duration_seconds_count", **details) == 2
    seconds = value(samples, "panel_airflow_request_duration_seconds_sum", **details)
    assert seconds is not None and 0 < seconds < 20
    assert not any("cp_quick" in str(labels) for _, labels in samples)


@pytest.mark.django_db
def test_unreachable_airflow_is_counted_with_the_reason(metrics_redis: redis.Redis) -> None:
    profile = ProfileFactory.create(
        slug="gone", base_url=f"http://127.0.0.1:{free_port()}", allow_insecure_http=True
    )
    with pytest.raises(AirflowUnavailable):
        client_for(profile).list_dags()
    samples = scrape()
    dags_list = {"profile": "gone", "endpoint": "GET /dags"}
    assert value(samples, "panel_airflow_requests_total", **dags_list, status="refused") == 4


@pytest.mark.airflow
@pytest.mark.django_db
def test_a_poll_cycle_records_its_duration_and_outcome(
    metrics_redis: redis.Redis, airflow: AirflowInstance
) -> None:
    profile = harness_profile(airflow, slug="polled")
    catalog.refresh_catalog(profile)
    RunFactory.create(profile=profile, dag_id="cp_quick", state="queued")
    cycle = tracking.poll_profile(profile)
    assert not cycle.error and not cycle.skipped
    samples = scrape()
    assert value(samples, "panel_poll_cycle_duration_seconds_count", profile="polled") == 1
    seconds = value(samples, "panel_poll_cycle_duration_seconds_sum", profile="polled")
    assert seconds is not None and 0 < seconds < 60
    assert value(samples, "panel_poll_cycles_total", profile="polled", outcome="ok") == 1
    last_poll = value(samples, "panel_poll_last_success_timestamp_seconds", profile="polled")
    assert last_poll is not None and abs(last_poll - time.time()) < 120
    batch = {"profile": "polled", "endpoint": "POST /dags/~/dagRuns/list", "status": "200"}
    assert value(samples, "panel_airflow_requests_total", **batch)


@pytest.mark.django_db
def test_a_failed_poll_is_counted_as_failed(metrics_redis: redis.Redis) -> None:
    profile = ProfileFactory.create(
        slug="down", base_url=f"http://127.0.0.1:{free_port()}", allow_insecure_http=True
    )
    RunFactory.create(profile=profile, dag_id="etl", state="running")
    assert tracking.poll_profile(profile).error
    assert tracking.poll_profile(profile).skipped  # backing off
    samples = scrape()
    assert value(samples, "panel_poll_cycles_total", profile="down", outcome="failed") == 1
    assert value(samples, "panel_poll_cycles_total", profile="down", outcome="skipped") == 1
    assert value(samples, "panel_poll_cycle_duration_seconds_count", profile="down") == 1


@pytest.mark.airflow
@pytest.mark.django_db
def test_triggers_are_counted_by_outcome_once_committed(
    metrics_redis: redis.Redis,
    airflow: AirflowInstance,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    profile = harness_profile(airflow, slug="triggered")
    catalog.refresh_catalog(profile)
    superuser = UserFactory.create(is_superuser=True)
    quick = DagFactory.create(profile=profile, dag_id="cp_quick")
    missing = DagFactory.create(profile=profile, dag_id="cp_not_in_airflow")
    with django_capture_on_commit_callbacks(execute=True):
        start_run(Actor(user=superuser), quick, conf={"name": "metrics"})
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(AirflowNotFound):
        start_run(Actor(user=superuser), missing)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ActionDenied):
        start_run(Actor(user=UserFactory.create()), quick)
    with (
        django_capture_on_commit_callbacks(execute=True),
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        record_event(Actor.system(), "dag.trigger", outcome=Outcome.SUCCEEDED, profile=profile)
        raise RuntimeError("the change failed: its event and the count are rolled back")
    samples = scrape()
    for outcome in ("succeeded", "failed", "denied"):
        assert value(samples, "panel_dag_triggers_total", profile="triggered", outcome=outcome) == 1


@pytest.mark.django_db
def test_a_trigger_denied_on_a_made_up_profile_is_counted_as_unknown(
    metrics_redis: redis.Redis,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    actor = Actor(user=UserFactory.create())
    for slug in ("made-up-1", "made-up-2"):
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
            dags.find_dag(actor, slug, "etl", "dag.trigger")
    samples = scrape()
    assert value(samples, "panel_dag_triggers_total", profile="unknown", outcome="denied") == 2
    assert not any("made-up" in str(labels) for _, labels in samples)


@pytest.mark.django_db
def test_active_runs_are_counted_from_the_database_per_profile(
    metrics_redis: redis.Redis,
) -> None:
    busy = ProfileFactory.create(slug="busy")
    ProfileFactory.create(slug="idle")
    RunFactory.create_batch(3, profile=busy, state="running")
    RunFactory.create(profile=busy, state="success", is_finished=True)
    samples = scrape()
    assert value(samples, "panel_active_runs", profile="busy") == 3
    assert value(samples, "panel_active_runs", profile="idle") == 0
    assert value(samples, "panel_metrics_store_up") == 1


# --- who may read them ---------------------------------------------------------------------


@pytest.mark.django_db
def test_other_addresses_get_404_and_no_data(metrics_redis: redis.Redis) -> None:
    response = Client().get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 404
    assert b"panel_" not in response.content


@pytest.mark.django_db
def test_allowed_networks_may_read(metrics_redis: redis.Redis, settings: Settings) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::ffff:10.1.1.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


@pytest.mark.django_db
def test_a_bearer_token_works_from_anywhere_and_a_wrong_one_does_not(
    metrics_redis: redis.Redis, settings: Settings
) -> None:
    settings.METRICS_TOKEN = TOKEN
    outside = "203.0.113.9"
    assert scrape(remote_addr=outside, authorization=f"Bearer {TOKEN}")
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN):
        response = Client().get("/metrics", REMOTE_ADDR=outside, HTTP_AUTHORIZATION=wrong)
        assert response.status_code == 404, wrong
        assert b"panel_" not in response.content


@pytest.mark.django_db
def test_without_a_configured_token_no_token_opens_it(
    metrics_redis: redis.Redis, settings: Settings
) -> None:
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


@pytest.mark.django_db
def test_metrics_are_read_only(metrics_redis: redis.Redis) -> None:
    assert Client().post("/metrics").status_code == 405


# --- Redis down ----------------------------------------------------------------------------


@pytest.mark.airflow
@pytest.mark.django_db
def test_redis_down_breaks_nothing(settings: Settings, airflow: AirflowInstance) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    profile = harness_profile(airflow, slug="no-redis")
    forget_client(profile.pk)
    started = time.monotonic()
    client = Client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert client_for(profile).get_dag("cp_quick").dag_id == "cp_quick"
    catalog.refresh_catalog(profile)
    RunFactory.create(profile=profile, dag_id="cp_quick", state="queued")
    assert not tracking.poll_profile(profile).error
    assert time.monotonic() - started < 30
    samples = scrape(client)
    assert value(samples, "panel_metrics_store_up") == 0
    active = Run.objects.filter(profile=profile, is_finished=False).count()
    assert active >= 1
    assert value(samples, "panel_active_runs", profile="no-redis") == active


# --- settings ------------------------------------------------------------------------------


def test_bad_metrics_settings_stop_the_start(load_settings: SettingsLoader) -> None:
    bad_network = load_settings(DEBUG="1", METRICS_ALLOWED_IPS="10.0.0.0/8,not-an-address")
    assert bad_network.returncode != 0 and "METRICS_ALLOWED_IPS" in bad_network.stderr
    short_token = load_settings(DEBUG="1", METRICS_TOKEN="short")
    assert short_token.returncode != 0 and "METRICS_TOKEN is too short" in short_token.stderr
    assert "short" not in short_token.stderr.replace("too short", "")
    assert load_settings(DEBUG="1", METRICS_ALLOWED_IPS="10.0.0.1, fd00::/8").returncode == 0
