"""The official ``apache-airflow-client`` (2.10 on /api/v1, 3.1 on /api/v2) and plain
``requests`` pointed at a live panel in front of the real harness Airflow 2.11 and 3.1."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from typing import Any

import pytest
import requests

from controlpanel.models import AuditEvent, Run
from tests.airflow_compat.conftest import Panel
from tests.harness.official_client import CLIENT2_VERSION, CLIENT3_VERSION, run_client

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]

SOURCE = AuditEvent.Source.AIRFLOW_API


@pytest.mark.parametrize("client_major", [2, 3])
def test_the_official_client_goes_through_the_panel_rules(panel: Panel, client_major: int) -> None:
    """Either client (v1 or v2 shapes) in front of either Airflow, whatever it runs."""
    run_id = f"compat_{uuid.uuid4().hex[:10]}"
    answer = run_client(
        CLIENT2_VERSION if client_major == 2 else CLIENT3_VERSION,
        {
            "host": f"{panel.url}/airflow/{panel.profile.slug}",
            "major": client_major,
            "username": panel.user.username,
            "token": panel.token,
            "readonly_token": panel.readonly_token,
            "dag_id": "cp_params_showcase",
            "unseen_dag_id": "cp_mapped",
            "conf": {"customer": "globex", "batch_size": 7},
            "bad_conf": {"batch_size": 5000},
            "run_id": run_id,
        },
        timeout=300,
    )
    assert answer["dag_ids"] == ["cp_etl", "cp_params_showcase", "cp_quick"]
    assert "customer" in answer["param_names"]
    assert answer["unseen"] == 404
    assert answer["triggered"]["id"] == run_id
    assert answer["triggered"]["conf"] == {"customer": "globex", "batch_size": 7}
    assert answer["invalid_conf"] == 400
    assert answer["duplicate"] == 409
    assert answer["readonly_trigger"] == 403
    assert answer["run_state"] == "success"
    assert answer["task_ids"]
    assert "globex" in answer["log"]
    # The run it started is tracked, and every change and refusal is in the audit trail.
    run = Run.objects.get(profile=panel.profile, dag_id="cp_params_showcase", dag_run_id=run_id)
    assert run.triggered_by == panel.user and run.source == Run.Source.API
    events = AuditEvent.objects.filter(source=SOURCE, actor_username="member")
    outcomes = sorted(events.values_list("action", "outcome"))
    assert outcomes == [
        ("api.write", "denied"),
        ("dag.trigger", "failed"),
        ("dag.trigger", "failed"),
        ("dag.trigger", "succeeded"),
    ]


def test_curl_style_requests_with_basic_or_bearer(panel: Panel) -> None:
    base = panel.base()
    assert requests.get(f"{base}/version", timeout=30).json()["version"]
    anonymous = requests.get(f"{base}/dags", timeout=30)
    assert anonymous.status_code == 401
    if panel.api == "v1":
        assert anonymous.json()["title"] == "Unauthorized"
    listed = panel.session().get(f"{base}/dags", params={"limit": 2, "offset": 1}, timeout=30)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total_entries"] == 3
    assert [d["dag_id"] for d in body["dags"]] == ["cp_params_showcase", "cp_quick"]
    # A token of another user, or a wrong username, is refused.
    wrong = requests.get(f"{base}/dags", auth=("someone", panel.token), timeout=30)
    assert wrong.status_code == 401 if panel.major == 2 else wrong.status_code in (200, 401)
    # Operate is needed to pause: a trigger-level member is refused, and it is audited.
    paused = panel.session().patch(
        f"{base}/dags/cp_quick",
        params={"update_mask": "is_paused"},
        json={"is_paused": True},
        timeout=30,
    )
    assert paused.status_code == 403
    assert AuditEvent.objects.filter(source=SOURCE, action="dag.pause", outcome="denied").exists()
    # Anything the panel does not offer is a 404 in Airflow's shape, never passed on.
    other = panel.session().get(f"{base}/variables", timeout=30)
    assert other.status_code == 404
    assert "detail" in other.json()


def test_basic_auth_header_by_hand(panel: Panel) -> None:
    if panel.major != 2:
        pytest.skip("Airflow 2 clients use basic auth")
    credentials = base64.b64encode(f"member:{panel.token}".encode()).decode()
    answer = requests.get(
        f"{panel.base()}/dags/cp_quick",
        headers={"Authorization": f"Basic {credentials}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json()["dag_id"] == "cp_quick"


def test_the_readme_curl_commands(panel: Panel) -> None:
    """The README's curl lines, as written there (basic on v1, bearer on v2)."""
    base = f"{panel.url}/airflow/{panel.profile.slug}/api"
    listed = subprocess.run(
        ["curl", "-sS", "-u", f"member:{panel.token}", f"{base}/v1/dags?limit=10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert [d["dag_id"] for d in json.loads(listed.stdout)["dags"]] == [
        "cp_etl",
        "cp_params_showcase",
        "cp_quick",
    ]
    triggered = subprocess.run(
        [
            "curl",
            "-sS",
            "-H",
            f"Authorization: Bearer {panel.token}",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"logical_date": null, "conf": {"name": "curl"}}',
            f"{base}/v2/dags/cp_quick/dagRuns",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    run = json.loads(triggered.stdout)
    assert run["conf"] == {"name": "curl"} and run["dag_id"] == "cp_quick"
    assert Run.objects.filter(dag_run_id=run["dag_run_id"], triggered_by=panel.user).exists()


def test_an_idempotency_key_makes_a_resubmission_return_the_same_run(panel: Panel) -> None:
    path = f"{panel.base()}/dags/cp_quick/dagRuns"
    body = {"conf": {"name": "once"}, "logical_date": None}
    headers = {"Idempotency-Key": f"job-{uuid.uuid4().hex}"}
    first = panel.session().post(path, json=body, headers=headers, timeout=60)
    again = panel.session().post(path, json=body, headers=headers, timeout=60)
    assert first.status_code == again.status_code == 200
    assert first.json()["dag_run_id"] == again.json()["dag_run_id"]
    assert Run.objects.filter(dag_id="cp_quick", conf={"name": "once"}).count() == 1


def test_a_run_id_used_before_is_409_even_with_the_same_conf(panel: Panel) -> None:
    """Airflow's answer to a duplicate ``dag_run_id``: the panel's own retry-safety (same id,
    same conf: the same run) does not turn a client's duplicate into a success."""
    path = f"{panel.base()}/dags/cp_quick/dagRuns"
    body: dict[str, Any] = {
        "dag_run_id": f"dup_{uuid.uuid4().hex[:8]}",
        "conf": {},
        "logical_date": None,
    }
    assert panel.session().post(path, json=body, timeout=60).status_code == 200
    again = panel.session().post(path, json=body, timeout=60)
    assert again.status_code == 409
    assert "already has a run" in str(again.json()["detail"])
    refused = AuditEvent.objects.get(action="dag.trigger", outcome="failed", source=SOURCE)
    assert refused.dag_run_id == body["dag_run_id"]
