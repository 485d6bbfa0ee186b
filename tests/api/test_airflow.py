"""The API against the real Airflow of the test harness: triggers, idempotency, errors,
logs, retry, and the example script in ``examples/`` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, AuditEvent, Dag, Run
from controlpanel.services import catalog, tokens
from controlpanel.services.tracking import poll_profile
from dags_api import AirflowClient
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Live:
    """The harness profile, an integrator with operate on every cp_* DAG, and their token."""

    profile: AirflowProfile
    user: Any
    token: str

    def client(self) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def post(self, path: str, body: Any) -> Any:
        return self.client().post(path, data=json.dumps(body), content_type="application/json")

    def wait(self, run_id: int, timeout: float = 240) -> Run:
        """Poll Airflow the way the worker would until the run has finished."""
        deadline = time.monotonic() + timeout
        while True:
            poll_profile(self.profile)
            run = Run.objects.get(pk=run_id)
            if run.state in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"run {run.dag_run_id} still {run.state} after {timeout} s")
            time.sleep(1)


@pytest.fixture
def live(panel_airflow: AirflowInstance) -> Live:
    profile = harness_profile(panel_airflow, slug="harness")
    catalog.refresh_catalog(profile)
    user = UserFactory.create(username="integrator")
    team = TeamFactory.create(slug="integrations")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(team=team, profile=profile, dag_patterns=["cp_*"], level="operate")
    _, plaintext = tokens.create_token(Actor(user=user), user, "integration")
    return Live(profile, user, plaintext)


def airflow_runs_with(admin: AirflowClient, dag_id: str, conf: dict[str, Any]) -> list[str]:
    return [r.dag_run_id for r in admin.list_dag_runs(dag_ids=[dag_id]) if r.conf == conf]


def test_trigger_with_conf_answers_201_with_the_run_and_audits_it(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    conf = {"name": f"api-{uuid.uuid4().hex[:8]}"}
    response = live.post("/api/dags/harness/cp_quick/runs/", {"conf": conf, "note": "hello"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["conf"] == conf and body["source"] == "api" and body["triggered_by"] == "integrator"
    assert body["note"] == "hello" and body["state"] == "queued"
    run = Run.objects.get(pk=body["id"])
    assert airflow_runs_with(panel_admin_client, "cp_quick", conf) == [run.dag_run_id]
    event = AuditEvent.objects.get(action="dag.trigger")
    assert (event.outcome, event.source) == ("succeeded", "api")
    assert live.token.startswith(event.token_prefix) and event.token_prefix
    assert live.wait(run.pk).state == "success"


def test_invalid_conf_is_400_naming_the_param_ours_and_airflows(live: Live) -> None:
    ours = live.post("/api/dags/harness/cp_etl/runs/", {"conf": {"rows": "many"}})
    assert ours.status_code == 400
    assert list(ours.json()["errors"]) == ["rows"]
    # Without the params in the catalog, Airflow's own refusal comes back the same way.
    Dag.objects.filter(profile=live.profile, dag_id="cp_etl").update(params={})
    theirs = live.post("/api/dags/harness/cp_etl/runs/", {"conf": {"rows": "many"}})
    assert theirs.status_code == 400, theirs.content
    assert list(theirs.json()["errors"]) == ["rows"]
    assert [e.outcome for e in AuditEvent.objects.filter(action="dag.trigger")] == [
        "failed",
        "failed",
    ]
    assert not Run.objects.exists()


def test_a_duplicate_logical_date_is_409(live: Live) -> None:
    # A date no earlier run of the suite used: cp_paused never runs, its runs stay queued.
    moment = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(seconds=uuid.uuid4().int % 10**8)
    body = {"conf": {}, "logical_date": moment.isoformat()}
    first = live.post("/api/dags/harness/cp_paused/runs/", body)
    assert first.status_code == 201, first.content
    second = live.post("/api/dags/harness/cp_paused/runs/", body)
    assert second.status_code == 409
    assert second.json()["error"] == "conflict" and "logical date" in second.json()["message"]
    assert set(second.json()["detail"]) == {"clash"}  # Airflow's own words: admins only


def test_twenty_concurrent_identical_triggers_with_one_key_make_one_airflow_run(
    live: Live, live_server: Any, panel_admin_client: AirflowClient
) -> None:
    conf = {"name": f"race-{uuid.uuid4().hex[:8]}"}
    url = f"{live_server.url}/api/dags/harness/cp_quick/runs/"
    headers = {"Authorization": f"Bearer {live.token}", "Idempotency-Key": conf["name"]}

    def send(_: int) -> requests.Response:
        return requests.post(url, json={"conf": conf}, headers=headers, timeout=120)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(airflow_runs_with(panel_admin_client, "cp_quick", conf)) == 1
    assert Run.objects.count() == 1

    again = requests.post(url, json={"conf": conf}, headers=headers, timeout=60)
    assert again.status_code == 200 and again.json()["id"] == responses[0].json()["id"]
    other = requests.post(url, json={"conf": {"name": "other"}}, headers=headers, timeout=60)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert len(airflow_runs_with(panel_admin_client, "cp_quick", conf)) == 1


def test_airflow_unreachable_is_503_in_plain_words_and_audited(
    live: Live, panel_airflow: AirflowInstance
) -> None:
    down = harness_profile(panel_airflow, slug="down", base_url=f"http://127.0.0.1:{free_port()}")
    Dag.objects.create(profile=down, dag_id="cp_quick")
    team = TeamFactory.create(slug="down-triggerers")
    GrantFactory.create(team=team, profile=down, dag_ids=["cp_quick"], level="trigger")
    MembershipFactory.create(team=team, user=live.user)
    response = live.post("/api/dags/down/cp_quick/runs/", {"conf": {}})
    assert response.status_code in (502, 503)
    body = response.json()
    assert body["error"] == "airflow_unavailable" and "refused" in body["message"]
    event = AuditEvent.objects.get(action="dag.trigger", profile_slug="down")
    assert event.outcome == "failed" and event.source == "api"


def test_logs_and_retry_of_a_failed_run(live: Live) -> None:
    conf = {"fail_at": "transform", "fail_mode": "first_try"}
    created = live.post("/api/dags/harness/cp_etl/runs/", {"conf": conf})
    assert created.status_code == 201, created.content
    run_id = created.json()["id"]
    assert live.wait(run_id).state == "failed"
    client = live.client()
    detail = client.get(f"/api/runs/{run_id}/").json()
    failed = {t["task_id"] for t in detail["task_instances"] if t["state"] == "failed"}
    assert failed == {"transform"}
    log = client.get(f"/api/runs/{run_id}/tasks/transform/logs/?try=1")
    assert log.status_code == 200 and "Deliberate failure in transform" in log.content.decode()
    history = client.get(f"/api/runs/{run_id}/history/").json()["results"]
    assert ("transform", "failed") in {(h["task_id"], h["to_state"]) for h in history}
    retried = client.post(f"/api/runs/{run_id}/retry/")
    assert retried.status_code == 200
    assert retried.json()["cleared_tasks"] == ["load", "transform"]
    assert live.wait(run_id).state == "success"


def test_the_example_script_pauses_unpauses_triggers_polls_and_lists_failed_tasks(
    live: Live, live_server: Any
) -> None:
    env = {**os.environ, "PANEL_URL": live_server.url, "PANEL_TOKEN": live.token}
    command = [
        sys.executable,
        str(REPO_ROOT / "examples" / "pause_trigger_poll.py"),
        "--profile",
        "harness",
        "--dag",
        "cp_etl",
        "--conf",
        json.dumps({"fail_at": "load", "fail_mode": "always", "rows": 3}),
        "--interval",
        "1",
        "--timeout",
        "240",
    ]
    script = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while script.poll() is None:  # the test is the worker: it polls Airflow meanwhile
        poll_profile(live.profile)
        if time.monotonic() > deadline:
            script.kill()
            pytest.fail("the example script did not finish")
        time.sleep(1)
    out, err = script.communicate()
    assert script.returncode == 1, (out, err)
    assert "paused cp_etl: is_paused=True" in out
    assert "unpaused cp_etl: is_paused=False" in out
    assert "finished: failed" in out
    assert "failed task: load" in out
    pauses = AuditEvent.objects.filter(action__in=["dag.pause", "dag.unpause"]).order_by("id")
    assert [(e.action, e.outcome, e.source) for e in pauses] == [
        ("dag.pause", "succeeded", "api"),
        ("dag.unpause", "succeeded", "api"),
    ]
