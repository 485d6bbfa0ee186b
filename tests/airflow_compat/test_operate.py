"""Operating through the Airflow-compatible API against the real Airflow: pause, the batch
reads, a failed run's log, clear (re-run failed tasks) and setting a run's state."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from controlpanel.models import AuditEvent, Team
from tests.airflow_compat.conftest import Panel
from tests.factories import GrantFactory

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


def wait_for(panel: Panel, path: str, states: tuple[str, ...], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run = panel.session().get(path, timeout=30).json()
        if run["state"] in states or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


def test_operate_a_failed_run_through_the_airflow_api(panel: Panel) -> None:
    team = Team.objects.get(slug="quick-team")
    GrantFactory.create(team=team, profile=panel.profile, dag_patterns=["cp_etl"], level="operate")
    base, http = panel.base(), panel.session()
    paused = http.patch(
        f"{base}/dags/cp_etl", params={"update_mask": "is_paused"}, json={"is_paused": True}
    )
    assert paused.status_code == 200 and paused.json()["is_paused"] is True
    unpaused = http.patch(f"{base}/dags/cp_etl", json={"is_paused": False})
    assert unpaused.json()["is_paused"] is False

    run_id = f"etl_{uuid.uuid4().hex[:8]}"
    conf = {"fail_at": "extract", "fail_mode": "first_try"}
    body = {"dag_run_id": run_id, "conf": conf, "logical_date": None, "note": "from a script"}
    triggered = http.post(f"{base}/dags/cp_etl/dagRuns", json=body)
    assert triggered.status_code == 200, triggered.text
    assert triggered.json()["note"] == "from a script"
    run_path = f"{base}/dags/cp_etl/dagRuns/{run_id}"
    assert wait_for(panel, run_path, ("failed", "success"))["state"] == "failed"

    every = http.get(f"{base}/dags/~/dagRuns").json()
    assert run_id in [r["dag_run_id"] for r in every["dag_runs"]]
    batch = http.post(f"{base}/dags/~/dagRuns/list", json={"dag_ids": ["cp_etl", "cp_mapped"]})
    assert {r["dag_id"] for r in batch.json()["dag_runs"]} == {"cp_etl"}  # cp_mapped unseen
    tis = http.post(
        f"{base}/dags/~/dagRuns/~/taskInstances/list", json={"dag_run_ids": [run_id]}
    ).json()["task_instances"]
    assert {ti["task_id"]: ti["state"] for ti in tis}["extract"] == "failed"
    log = http.get(f"{run_path}/taskInstances/extract/logs/1", headers={"Accept": "text/plain"})
    assert "Deliberate failure in extract" in log.text

    dry = http.post(f"{run_path}/clear", json={"dry_run": True}).json()
    assert "extract" in [ti["task_id"] for ti in dry["task_instances"]]
    cleared = http.post(f"{run_path}/clear", json={"dry_run": False})
    assert cleared.status_code == 200, cleared.text
    assert wait_for(panel, run_path, ("success", "failed"))["state"] == "success"
    marked = http.patch(run_path, json={"state": "failed"})
    assert marked.status_code == 200 and marked.json()["state"] == "failed"

    actions = set(
        AuditEvent.objects.filter(
            source=AuditEvent.Source.AIRFLOW_API, outcome="succeeded"
        ).values_list("action", flat=True)
    )
    assert actions >= {"dag.pause", "dag.unpause", "dag.trigger", "run.retry", "run.set_state"}


def test_a_trigger_that_needs_approval_is_refused_with_a_pointer_to_the_panel(
    panel: Panel,
) -> None:
    """Airflow's API has no "pending" answer: 403, saying where to ask, audited as denied."""
    team = Team.objects.get(slug="quick-team")
    approvers = Team.objects.create(name="Approvers", slug="approvers")
    GrantFactory.create(
        team=team,
        profile=panel.profile,
        dag_ids=["cp_etl"],
        level="trigger",
        requires_approval=True,
        approver_team=approvers,
    )
    body: dict[str, object] = {"conf": {}, "logical_date": None}
    refused = panel.session().post(f"{panel.base()}/dags/cp_etl/dagRuns", json=body)
    assert refused.status_code == 403, refused.text
    assert "approval" in refused.json()["detail"]
    assert f"/dags/{panel.profile.slug}/cp_etl/" in refused.json()["detail"]
    event = AuditEvent.objects.filter(action="dag.trigger", dag_id="cp_etl").latest("pk")
    assert (event.outcome, event.source) == ("denied", AuditEvent.Source.AIRFLOW_API)
