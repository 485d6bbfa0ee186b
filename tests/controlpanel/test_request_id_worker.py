"""A real Celery worker and beat: request ids in their logs, metrics seen by the web.

The worker shares this test's database and Redis (its own queue). A task enqueued inside a
request logs with that request's id; a poll started by beat gets an id of its own; the
Airflow requests and poll cycles the worker makes appear in this process' ``/metrics``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from controlpanel import celery_app
from controlpanel.request_id import RequestIdMiddleware
from controlpanel.services import catalog
from controlpanel.tasks import poll_profile
from tests.factories import RunFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.celery import CeleryProcesses
from tests.helpers.metrics import scrape, value
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def processes(reachable_redis_url: str, tmp_path: Path) -> Iterator[CeleryProcesses]:
    """Worker and beat on a queue of their own; this process publishes to that queue."""
    started = CeleryProcesses(reachable_redis_url, tmp_path)
    conf = celery_app.conf
    saved = (conf.broker_url, conf.result_backend, conf.task_default_queue)
    celery_app.close()
    conf.update(
        broker_url=reachable_redis_url,
        result_backend=reachable_redis_url,
        task_default_queue=started.env["CELERY_QUEUE"],
    )
    yield started
    started.stop_all()
    celery_app.close()
    conf.update(broker_url=saved[0], result_backend=saved[1], task_default_queue=saved[2])


def wait_for_line(processes: CeleryProcesses, pattern: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = (processes.logs / "worker.log").read_text(errors="replace")
        if match := re.search(pattern, log, re.MULTILINE):
            return match.group(0)
        time.sleep(0.5)
    pytest.fail(f"no line matching {pattern!r}\n{processes.log_tail()}")


def test_worker_logs_and_metrics_carry_request_ids_and_reach_the_web(
    panel_airflow: AirflowInstance, processes: CeleryProcesses, reachable_redis_url: str
) -> None:
    redis.Redis.from_url(reachable_redis_url).delete(
        *[f"panel:metrics:{name}" for name in ("panel_airflow_requests", "panel_poll_cycles")]
    )
    profile = harness_profile(panel_airflow, slug="worked")
    catalog.refresh_catalog(profile)
    RunFactory.create(profile=profile, dag_id="cp_quick", state="queued")

    def view(request: HttpRequest) -> HttpResponse:
        poll_profile.delay(profile.pk)
        return HttpResponse()

    processes.start("worker")
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="enqueued-by-request-7")
    RequestIdMiddleware(view)(request)
    wait_for_line(processes, r"^.*\[enqueued-by-request-7\]: poll of worked: .*$")

    processes.start("beat")
    line = wait_for_line(processes, r"^.*\[[0-9a-f]{32}\]: poll of worked: .*$")
    assert "enqueued-by-request-7" not in line

    samples = scrape()
    batch = {"profile": "worked", "endpoint": "POST /dags/~/dagRuns/list", "status": "200"}
    assert (value(samples, "panel_airflow_requests_total", **batch) or 0) >= 2
    polls = value(samples, "panel_poll_cycles_total", profile="worked", outcome="ok")
    assert polls is not None and polls >= 2
