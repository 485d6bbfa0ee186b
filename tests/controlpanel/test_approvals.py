"""Approvals against the real Airflow: who needs one, who decides, one run per approval.

The requester may trigger ``cp_quick`` only through a grant that requires approval by the
*managers* team; ``boss`` is a manager. Five managers approving at once start one run.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, ApprovalRequest, AuditEvent, Dag, Run, Team
from controlpanel.permissions import ActionDenied, DagAction, access_for
from controlpanel.services import actions, approvals, catalog, notifications
from dags_api import AirflowClient
from tests.controlpanel.notify_helpers import LOOPBACK, WebhookReceiver
from tests.factories import (
    GrantFactory,
    MembershipFactory,
    RunFactory,
    TeamFactory,
    UserFactory,
)
from tests.harness.airflow import AirflowInstance
from tests.helpers.actions import start_run
from tests.helpers.celery import CeleryProcesses, wait_for
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]
MANAGERS = ("boss", "boss2", "boss3", "boss4", "boss5")


@dataclass
class Live:
    """A profile on the harness Airflow and the people of the two-person rule."""

    profile: AirflowProfile
    users: dict[str, Any]

    def actor(self, name: str) -> Actor:
        return Actor(user=self.users[name], ip_address="127.0.0.1")

    def dag(self, dag_id: str = "cp_quick") -> Dag:
        return Dag.objects.select_related("profile").get(profile=self.profile, dag_id=dag_id)

    def ask(self, name: str = "requester", **fields: Any) -> ApprovalRequest:
        wish = actions.TriggerInput(
            conf=fields.get("conf", {}),
            note=fields.get("note", ""),
            reason=fields.get("reason", "month-end close"),
            idempotency_key=fields.get("key", ""),
        )
        result = actions.trigger(self.actor(name), self.dag(fields.get("dag_id", "cp_quick")), wish)
        assert isinstance(result, actions.ApprovalRequested)
        return result.approval


@pytest.fixture
def live(panel_airflow: AirflowInstance) -> Live:
    profile = harness_profile(panel_airflow)
    profile.track_external_runs = False
    profile.save()
    catalog.refresh_catalog(profile)
    users = {n: UserFactory.create(username=n) for n in ("requester", "outsider", *MANAGERS)}
    users["root"] = UserFactory.create(username="root", is_superuser=True)
    managers = TeamFactory.create(slug="managers")
    for name in MANAGERS:
        MembershipFactory.create(team=managers, user=users[name])
    analysts = TeamFactory.create(slug="analysts")
    MembershipFactory.create(team=analysts, user=users["requester"])
    GrantFactory.create(
        team=analysts,
        profile=profile,
        dag_ids=["cp_quick", "cp_params_showcase"],
        level="trigger",
        requires_approval=True,
        approver_team=managers,
    )
    return Live(profile, users)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_rights_stay_the_union_of_grants(live: Live) -> None:
    requester = live.users["requester"]
    assert fresh_access(requester).needs_approval(live.dag())
    lookers = TeamFactory.create(slug="lookers")  # a view grant lets nobody trigger directly
    MembershipFactory.create(team=lookers, user=requester)
    GrantFactory.create(team=lookers, profile=live.profile, dag_ids=["cp_quick"], level="view")
    assert fresh_access(requester).needs_approval(live.dag())
    direct = TeamFactory.create(slug="direct")
    MembershipFactory.create(team=direct, user=requester)
    GrantFactory.create(team=direct, profile=live.profile, dag_ids=["cp_quick"], level="trigger")
    assert not fresh_access(requester).needs_approval(live.dag())


def test_admins_need_approval_unless_exempt(live: Live) -> None:
    root = live.users["root"]
    assert fresh_access(root).needs_approval(live.dag())
    with override_settings(APPROVAL_ADMINS_EXEMPT=True):
        assert not fresh_access(root).needs_approval(live.dag())
    assert not fresh_access(root).needs_approval(live.dag("cp_etl"))


def fresh_access(user: Any) -> Any:
    return access_for(type(user).objects.get(pk=user.pk))


def test_a_direct_trigger_is_refused_when_approval_is_needed(live: Live) -> None:
    with pytest.raises(ActionDenied) as refused:
        start_run(live.actor("requester"), live.dag(), can_wait=False)
    assert refused.value.code == "approval_required"
    assert not Run.objects.exists()
    assert [e.outcome for e in events("dag.trigger")] == ["denied"]


def test_a_request_is_audited_and_expires_after_the_ttl(live: Live) -> None:
    with override_settings(APPROVAL_TTL_HOURS=2):
        request = live.ask(note="for the auditors")
    assert request.state == "pending"
    assert (
        timedelta(hours=1, minutes=59) < request.expires_at - timezone.now() <= timedelta(hours=2)
    )
    assert list(request.approver_teams.values_list("slug", flat=True)) == ["managers"]
    [event] = events("approval.request")
    assert event.payload["reason"] == "month-end close"
    assert event.payload["approval_request"] == request.pk


def test_a_request_needs_a_reason_and_a_valid_conf(live: Live) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        live.ask(reason="  ")
    assert not ApprovalRequest.objects.exists()
    assert [e.outcome for e in events("approval.request")] == ["failed"]


def test_the_same_idempotency_key_gives_back_the_same_request(live: Live) -> None:
    first = live.ask(key="k-1")
    again = live.ask(key="k-1")
    assert first.pk == again.pk
    assert ApprovalRequest.objects.count() == 1
    from controlpanel.services.triggers import IdempotencyKeyReused

    with pytest.raises(IdempotencyKeyReused):
        live.ask(key="k-1", reason="something else")


def test_the_requester_may_not_approve_their_own_request(live: Live) -> None:
    request = live.ask()
    with pytest.raises(ActionDenied) as refused:
        actions.approve(live.actor("requester"), request)
    assert refused.value.code == "self_approval"
    with pytest.raises(ActionDenied):
        actions.approve(live.actor("outsider"), request)
    assert ApprovalRequest.objects.get(pk=request.pk).state == "pending"
    assert [e.outcome for e in events("approval.approve")] == ["denied", "denied"]
    assert not Run.objects.exists()


def race(actions: Sequence[Callable[[], Any]]) -> list[str]:
    """Run the actions in threads released together; what each came to, sorted."""
    start = threading.Barrier(len(actions))
    results: list[str] = []

    def one(action: Callable[[], Any]) -> None:
        start.wait()
        try:
            action()
            results.append("done")
        except approvals.ApprovalConflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return sorted(results)


def test_five_approvals_at_once_start_one_run(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    request = live.ask(conf={"who": "approvals"}, note="approved run")
    copies = [ApprovalRequest.objects.get(pk=request.pk) for _ in MANAGERS]
    attempts = [
        functools.partial(actions.approve, live.actor(name), copy, "fine")
        for name, copy in zip(MANAGERS, copies, strict=True)
    ]
    assert race(attempts) == ["conflict"] * 4 + ["done"]
    request.refresh_from_db()
    assert request.state == "approved" and request.trigger_error == ""
    [run] = Run.objects.all()
    assert run.triggered_by == live.users["requester"]
    assert run.approved_by is not None and run.approved_by == request.decided_by
    assert run.approved_by.username in MANAGERS
    assert run.approval_request_id == request.pk
    assert run.conf == {"who": "approvals"}
    airflow_run = panel_admin_client.get_dag_run("cp_quick", run.dag_run_id)
    assert airflow_run.conf == {"who": "approvals"}
    assert [e.outcome for e in events("approval.approve")].count("succeeded") == 1
    [trigger] = events("dag.trigger")
    assert trigger.actor_username == "requester"
    assert trigger.payload["approval_request"] == request.pk
    assert trigger.payload["approved_by"] == run.approved_by.username


def test_reject_and_cancel_end_a_request_once(live: Live) -> None:
    rejected = live.ask()
    approvals.reject(live.actor("boss"), rejected, "not this month")
    with pytest.raises(approvals.ApprovalConflict):
        actions.approve(live.actor("boss2"), rejected)
    cancelled = live.ask(reason="second try")
    with pytest.raises(ActionDenied):
        approvals.cancel(live.actor("boss"), cancelled)
    approvals.cancel(live.actor("requester"), cancelled)
    states = dict(ApprovalRequest.objects.values_list("pk", "state"))
    assert states == {rejected.pk: "rejected", cancelled.pk: "cancelled"}
    assert ApprovalRequest.objects.get(pk=rejected.pk).comment == "not this month"
    assert not Run.objects.exists()


def test_deciding_an_expired_request_is_a_conflict(live: Live) -> None:
    request = live.ask()
    ApprovalRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    request.refresh_from_db()
    with pytest.raises(approvals.ApprovalConflict):
        actions.approve(live.actor("boss"), request)
    assert ApprovalRequest.objects.get(pk=request.pk).state == "expired"
    assert [e.outcome for e in events("approval.expire")] == ["succeeded"]
    assert not Run.objects.exists()


def test_params_are_checked_again_at_approval_time(live: Live) -> None:
    catalog.refresh_dag(live.profile, "cp_params_showcase")
    request = live.ask(dag_id="cp_params_showcase")
    # Valid when asked; as if the DAG's params changed since, it now refuses the conf.
    ApprovalRequest.objects.filter(pk=request.pk).update(conf={"batch_size": 0})
    request.refresh_from_db()
    actions.approve(live.actor("boss"), request)
    request.refresh_from_db()
    assert request.state == "approved"
    assert "batch_size" in request.trigger_error
    assert not Run.objects.exists()
    assert [e.outcome for e in events("dag.trigger")] == ["failed"]


@pytest.mark.celery
def test_the_worker_expires_pending_requests(
    live: Live, tmp_path: Path, reachable_redis_url: str
) -> None:
    request = live.ask()
    ApprovalRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    processes = CeleryProcesses(reachable_redis_url, tmp_path)
    processes.env["APPROVAL_EXPIRY_CHECK_SECONDS"] = "1"
    processes.start("worker")
    processes.start("beat")
    try:
        wait_for(
            lambda: ApprovalRequest.objects.get(pk=request.pk).state == "expired",
            processes,
            timeout=120,
            what="the worker to expire the request",
        )
    finally:
        processes.stop_all()
    assert [(e.outcome, e.source) for e in events("approval.expire")] == [("succeeded", "worker")]


@pytest.mark.celery
def test_approvers_hear_of_requests_and_requesters_of_decisions(
    live: Live,
    tmp_path: Path,
    reachable_redis_url: str,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processes = CeleryProcesses(reachable_redis_url, tmp_path)
    processes.env["NOTIFY_WEBHOOK_ALLOWED_NETWORKS"] = LOOPBACK
    monkeypatch.setitem(current_app.conf, "task_default_queue", processes.env["CELERY_QUEUE"])
    root = live.actor("root")
    for team in ("managers", "analysts"):
        notifications.subscribe(
            root, Team.objects.get(slug=team), channel="webhook", url=receiver.url, secret="s"
        )
    processes.start("worker")
    try:
        request = live.ask(conf={"name": "approvals"})
        wait_for(lambda: len(receiver.requests) == 1, processes, what="the request notification")
        actions.approve(live.actor("boss"), request, "fine")
        wait_for(lambda: len(receiver.requests) == 2, processes, what="the decision notification")
    finally:
        processes.stop_all()
    asked, decided = (json.loads(r.body) for r in receiver.requests)
    assert (asked["event"], asked["team"], asked["requested_by"]) == (
        "approval.requested",
        "managers",
        "requester",
    )
    assert (decided["event"], decided["team"], decided["state"], decided["decided_by"]) == (
        "approval.decided",
        "analysts",
        "approved",
        "boss",
    )
    sent = AuditEvent.objects.filter(action="notification.send", outcome="succeeded")
    assert sorted(e.payload["event"] for e in sent) == ["approval.decided", "approval.requested"]


def test_with_approval_for_operate_a_pause_waits_for_an_approver(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    ops = TeamFactory.create(slug="ops")
    MembershipFactory.create(team=ops, user=live.users["outsider"])
    grant = GrantFactory.create(
        team=ops,
        profile=live.profile,
        dag_ids=["cp_mapped"],
        level="operate",
        requires_approval=True,
        approver_team=Team.objects.get(slug="managers"),
    )
    dag = live.dag("cp_mapped")
    assert not fresh_access(live.users["outsider"]).needs_approval(dag, DagAction.PAUSE)
    grant.approval_for_operate = True
    grant.save()
    assert fresh_access(live.users["outsider"]).needs_approval(dag, DagAction.PAUSE)
    assert fresh_access(live.users["outsider"]).needs_approval(dag, DagAction.RETRY)
    with pytest.raises(ActionDenied) as refused:
        actions.set_paused(live.actor("outsider"), dag, True, can_wait=False)
    assert refused.value.code == "approval_required"

    client = Client()
    client.force_login(live.users["outsider"])
    asked = client.patch(
        "/api/dags/harness/cp_mapped/",
        json.dumps({"is_paused": True, "reason": "maintenance window"}),
        content_type="application/json",
    )
    assert asked.status_code == 202, asked.content
    request = ApprovalRequest.objects.get(pk=asked.json()["approval_request"]["id"])
    assert (request.action, request.reason) == ("pause", "maintenance window")
    try:
        actions.approve(live.actor("boss"), request)
        assert panel_admin_client.get_dag("cp_mapped").is_paused is True
    finally:
        panel_admin_client.set_paused("cp_mapped", False)
    request.refresh_from_db()
    assert request.trigger_error == ""
    [pause] = [e for e in events("dag.pause") if e.outcome == "succeeded"]
    assert (pause.actor_username, pause.payload["approval_request"]) == ("outsider", request.pk)


def test_a_retry_request_is_kept_with_its_run_and_airflows_refusal_is_shown(
    live: Live,
) -> None:
    ops = TeamFactory.create(slug="ops")
    MembershipFactory.create(team=ops, user=live.users["outsider"])
    GrantFactory.create(
        team=ops,
        profile=live.profile,
        dag_ids=["cp_mapped"],
        level="operate",
        requires_approval=True,
        approval_for_operate=True,
        approver_team=Team.objects.get(slug="managers"),
    )
    run = RunFactory.create(
        profile=live.profile, dag_id="cp_mapped", dag_run_id="never_in_airflow", state="failed"
    )
    client = Client()
    client.force_login(live.users["outsider"])
    asked = client.post(
        f"/api/runs/{run.pk}/retry/",
        json.dumps({"reason": "the source is fixed"}),
        content_type="application/json",
    )
    assert asked.status_code == 202, asked.content
    body = asked.json()["approval_request"]
    assert (body["action"], body["target_run"]) == ("retry", run.pk)
    request = ApprovalRequest.objects.get(pk=body["id"])
    actions.approve(live.actor("boss"), request)
    request.refresh_from_db()
    assert request.state == "approved" and request.trigger_error  # Airflow has no such run
    assert [e.outcome for e in events("run.retry")] == ["failed"]


def test_the_pause_page_and_the_retry_button_ask_for_approval(live: Live) -> None:
    ops = TeamFactory.create(slug="ops")
    MembershipFactory.create(team=ops, user=live.users["outsider"])
    GrantFactory.create(
        team=ops,
        profile=live.profile,
        dag_ids=["cp_mapped"],
        level="operate",
        requires_approval=True,
        approval_for_operate=True,
        approver_team=Team.objects.get(slug="managers"),
    )
    client = Client()
    client.force_login(live.users["outsider"])
    pause = "/dags/harness/cp_mapped/pause/"
    assert "Request approval" in client.get(pause).content.decode()
    assert client.post(pause, {"paused": "1"})["Location"] == pause  # a reason is required
    assert not ApprovalRequest.objects.exists()
    asked = client.post(pause, {"paused": "1", "reason": "maintenance"})
    request = ApprovalRequest.objects.get()
    assert asked["Location"] == f"/approvals/{request.pk}/" and request.action == "pause"
    assert live.dag("cp_mapped").is_paused is False  # nothing happened in Airflow yet

    run = RunFactory.create(profile=live.profile, dag_id="cp_mapped", state="failed")
    retried = client.post(f"/runs/{run.pk}/retry/", {"reason": "fixed upstream"})
    retry = ApprovalRequest.objects.get(action="retry")
    assert retried["Location"] == f"/approvals/{retry.pk}/" and retry.target_run_id == run.pk
