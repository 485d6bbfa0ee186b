"""Request ids: in the response header, in every log record and in the audit events."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery.signals import task_success
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from controlpanel.audit import Actor, record_event, verify_chain
from controlpanel.logs import JsonFormatter, RequestIdFilter
from controlpanel.models import AuditEvent
from controlpanel.request_id import RequestIdMiddleware, current_request_id
from controlpanel.tasks import ping

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, object]]]]:
    """The panel's JSON formatter and request id filter on a handler of the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(), logging.getLogger("django")]  # django does not propagate
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.mark.django_db
def test_every_response_gets_a_new_id() -> None:
    client = Client()
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second) and first != second
    assert GENERATED.fullmatch(client.get("/no/such/page/")["X-Request-ID"])
    assert GENERATED.fullmatch(client.get("/runs/")["X-Request-ID"])  # redirect to the login


@pytest.mark.django_db
def test_a_sane_incoming_id_is_kept() -> None:
    for incoming in ("abc", "7f2b9c1e-5d1a-4c8e-9b1f-0a2b3c4d5e6f", "lb:req.42_x", "a" * 64):
        response = Client().get("/healthz", HTTP_X_REQUEST_ID=incoming)
        assert response["X-Request-ID"] == incoming


@pytest.mark.django_db
def test_an_insane_incoming_id_is_replaced() -> None:
    for incoming in ("", "has space", "a" * 65, "<script>", "line\nbreak", "-leading", "ünï"):
        response = Client().get("/healthz", HTTP_X_REQUEST_ID=incoming)
        assert GENERATED.fullmatch(response["X-Request-ID"]), incoming


@pytest.mark.django_db
def test_no_id_lingers_after_a_request() -> None:
    Client().get("/healthz", HTTP_X_REQUEST_ID="finished-request")
    assert current_request_id() == ""
    event = record_event(Actor.system(), "secrets.rotate", outcome="succeeded")
    assert event.request_id == ""


@pytest.mark.django_db
def test_an_audit_event_written_by_a_view_carries_the_request_id() -> None:
    response = Client().post(
        "/accounts/login/",
        {"username": "nobody", "password": "wrong"},
        HTTP_X_REQUEST_ID="login-attempt-1",
    )
    assert response["X-Request-ID"] == "login-attempt-1"
    event = AuditEvent.objects.get(action="auth.login")
    assert event.outcome == "failed" and event.request_id == "login-attempt-1"
    assert verify_chain().ok  # the id is covered by the hash


def test_an_api_audit_event_carries_the_request_id(
    client_as: Callable[[str], Client],
) -> None:
    response = client_as("viewer").post(
        "/api/dags/prod/finance_daily/runs/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "denied" and event.request_id == response["X-Request-ID"]
    assert GENERATED.fullmatch(event.request_id)


def test_the_audit_detail_page_and_exports_show_the_request_id(
    client_as: Callable[[str], Client],
) -> None:
    client_as("viewer").post(
        "/api/dags/prod/finance_daily/runs/",
        {},
        content_type="application/json",
        HTTP_X_REQUEST_ID="shown-everywhere",
    )
    event = AuditEvent.objects.get(request_id="shown-everywhere")
    auditor = client_as("auditor")
    assert "shown-everywhere" in auditor.get(f"/audit/{event.pk}/").content.decode()
    csv_text = b"".join(auditor.get("/audit/export.csv").streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [row["request_id"] for row in rows if row["id"] == str(event.pk)] == ["shown-everywhere"]
    body = auditor.get("/api/audit/?action=dag.trigger").json()
    assert body["results"][0]["request_id"] == "shown-everywhere"


@pytest.mark.django_db
def test_a_json_log_line_of_a_request_has_its_id(
    json_log: Callable[[], list[dict[str, object]]],
) -> None:
    Client().get("/no/such/page/", HTTP_X_REQUEST_ID="json-log-1")
    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert lines, json_log()
    line = lines[-1]
    assert line["request_id"] == "json-log-1"
    assert line["level"] == "WARNING" and "Not Found" in str(line["message"])
    assert {"time", "level", "logger", "message", "request_id"} <= set(line)


def test_a_json_log_line_carries_the_exception(
    json_log: Callable[[], list[dict[str, object]]],
) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        logging.getLogger("controlpanel.test").exception("it failed")
    (line,) = [line for line in json_log() if line["logger"] == "controlpanel.test"]
    assert line["message"] == "it failed" and line["request_id"] is None
    assert "ValueError: bad value" in str(line["exception"])


def test_log_format_json_writes_json_lines_to_stderr(
    subprocess_env: Callable[..., dict[str, str]],
) -> None:
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('controlpanel.demo').warning('hello %s', 'world')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=subprocess_env(DEBUG="1", LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world" and line["logger"] == "controlpanel.demo"
    assert line["level"] == "WARNING" and line["request_id"] is None


def test_plain_logs_show_the_request_id(subprocess_env: Callable[..., dict[str, str]]) -> None:
    script = "import django, logging; django.setup(); logging.getLogger('x').warning('plain')"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=subprocess_env(DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert re.search(r" WARNING x \[-\]: plain$", done.stderr.strip())


def test_an_unknown_log_format_stops_the_start(
    subprocess_env: Callable[..., dict[str, str]],
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env=subprocess_env(DEBUG="1", LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "LOG_FORMAT must be plain or json" in done.stderr


def test_an_eager_task_keeps_the_id_of_the_request_that_ran_it() -> None:
    seen: list[str] = []

    def remember(**_: object) -> None:
        seen.append(current_request_id())

    def view(request: HttpRequest) -> HttpResponse:
        assert ping.apply().get() == "pong"
        return HttpResponse()

    task_success.connect(remember)
    try:
        RequestIdMiddleware(view)(RequestFactory().get("/", HTTP_X_REQUEST_ID="eager-request"))
        assert ping.apply().get() == "pong"  # outside a request: an id of its own
    finally:
        task_success.disconnect(remember)
    assert seen[0] == "eager-request"
    assert GENERATED.fullmatch(seen[1])
