"""The approvals API on the real Airflow: 202 with the request, decisions, the run's two people."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlpanel.models import AirflowProfile, ApprovalRequest, Run
from controlpanel.services import catalog
from dags_api import AirflowClient
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]
RUNS = "/api/dags/harness/cp_params_showcase/runs/"


@pytest.fixture
def profile(panel_airflow: AirflowInstance) -> AirflowProfile:
    profile = harness_profile(panel_airflow)
    profile.track_external_runs = False
    profile.save()
    catalog.refresh_catalog(profile)
    catalog.refresh_dag(profile, "cp_params_showcase")
    analysts, managers = TeamFactory.create(slug="analysts"), TeamFactory.create(slug="managers")
    MembershipFactory.create(team=analysts, user=UserFactory.create(username="ann"))
    MembershipFactory.create(team=managers, user=UserFactory.create(username="max"))
    GrantFactory.create(
        team=analysts,
        profile=profile,
        dag_ids=["cp_params_showcase"],
        level="trigger",
        requires_approval=True,
        approver_team=managers,
    )
    return profile


def as_user(username: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(username=username))
    return client


def post(client: Client, path: str, body: Any = None, key: str = "") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        path, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def test_request_then_approve_starts_one_run_naming_both_people(
    profile: AirflowProfile, panel_admin_client: AirflowClient
) -> None:
    ann, max_ = as_user("ann"), as_user("max")
    body = {"conf": {"batch_size": 7}, "reason": "month-end close", "note": "by hand"}
    asked = post(ann, RUNS, body, key="k1")
    assert asked.status_code == 202, asked.content
    request = asked.json()["approval_request"]
    assert {k: request[k] for k in ("state", "requested_by", "conf", "reason", "note")} == {
        "state": "pending",
        "requested_by": "ann",
        "conf": {"batch_size": 7},
        "reason": "month-end close",
        "note": "by hand",
    }
    assert request["expires_at"] and request["approver_teams"] == ["managers"]
    again = post(ann, RUNS, body, key="k1")
    assert (again.status_code, again.json()["approval_request"]["id"]) == (202, request["id"])
    url = f"/api/approvals/{request['id']}/"
    assert post(ann, url + "approve/").json()["error"] == "self_approval"
    assert [r["id"] for r in max_.get("/api/approvals/?state=pending").json()["results"]] == [
        request["id"]
    ]
    approved = post(max_, url + "approve/", {"comment": "fine"})
    assert approved.status_code == 200, approved.content
    assert (approved.json()["state"], approved.json()["decided_by"]) == ("approved", "max")
    assert post(max_, url + "approve/").status_code == 409
    run = ann.get(f"/api/runs/{approved.json()['run']}/").json()
    assert (run["triggered_by"], run["approved_by"]) == ("ann", "max")
    assert run["approval_request"] == request["id"]
    assert panel_admin_client.get_dag_run("cp_params_showcase", run["dag_run_id"]).conf == {
        "batch_size": 7
    }
    assert Run.objects.count() == 1


def test_the_conf_is_checked_before_anything_is_asked(profile: AirflowProfile) -> None:
    ann = as_user("ann")
    refused = post(ann, RUNS, {"conf": {"batch_size": 0}, "reason": "x"})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_conf")
    no_reason = post(ann, RUNS, {"conf": {}})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert not ApprovalRequest.objects.exists()
    assert as_user("max").get("/api/approvals/?state=nonsense").status_code == 400


def test_an_expired_request_cannot_be_decided(profile: AirflowProfile) -> None:
    asked = post(as_user("ann"), RUNS, {"conf": {}, "reason": "r"}).json()["approval_request"]
    ApprovalRequest.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    decided = post(as_user("max"), f"/api/approvals/{asked['id']}/reject/", {"comment": "late"})
    assert (decided.status_code, decided.json()["detail"]) == (409, {"state": "expired"})
    assert as_user("outsider").get(f"/api/approvals/{asked['id']}/").status_code == 404


def test_grants_take_and_show_the_approval_fields(profile: AirflowProfile) -> None:
    root = UserFactory.create(username="root", is_superuser=True)
    client = Client()
    client.force_login(root)
    grants = "/api/teams/analysts/grants/"
    body = {"profile": "harness", "dag_ids": ["cp_quick"], "level": "trigger"}
    missing = post(client, grants, {**body, "requires_approval": True})
    assert missing.status_code == 400
    made = post(client, grants, {**body, "requires_approval": True, "approver_team": "managers"})
    assert made.status_code == 201, made.content
    assert (made.json()["requires_approval"], made.json()["approver_team"]) == (True, "managers")


def test_the_list_reads_a_page_in_the_same_queries_however_many_requests(
    profile: AirflowProfile,
) -> None:
    ann, max_ = as_user("ann"), as_user("max")

    def queries_for(path: str) -> int:
        max_.get(path)  # warm the session
        with CaptureQueriesContext(connection) as seen:
            assert max_.get(path).status_code == 200
        return len(seen.captured_queries)

    post(ann, RUNS, {"conf": {}, "reason": "first"})
    one = (queries_for("/api/approvals/"), queries_for("/approvals/"))
    for n in range(5):
        post(ann, RUNS, {"conf": {}, "reason": f"again {n}"})
    assert (queries_for("/api/approvals/"), queries_for("/approvals/")) == one
