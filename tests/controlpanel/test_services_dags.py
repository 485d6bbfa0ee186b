"""DAG and run actions against the real Airflow: access checks, Airflow calls and audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.http import Http404
from django.utils import timezone

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, AuditEvent, Dag, Run
from controlpanel.permissions import ActionDenied
from controlpanel.services import actions, catalog, dags, triggers
from dags_api import AirflowClient, AirflowUnavailable, AirflowValidationError, new_dag_run_id
from tests.conftest import wait_for_run
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.actions import retry_run, start_run
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


@dataclass
class Live:
    """A profile on the harness Airflow, its synced catalog, and people with grants on it."""

    profile: AirflowProfile
    users: dict[str, Any]

    def actor(self, name: str) -> Actor:
        return Actor(user=self.users[name], ip_address="127.0.0.1")

    def dag(self, dag_id: str) -> Dag:
        return Dag.objects.select_related("profile").get(profile=self.profile, dag_id=dag_id)


@pytest.fixture
def live(panel_airflow: AirflowInstance) -> Live:
    profile = harness_profile(panel_airflow)
    catalog.refresh_catalog(profile)
    users = {
        name: UserFactory.create(username=name)
        for name in ("operator", "operate_user", "viewer", "outsider", "superuser")
    }
    users["superuser"].is_superuser = True
    users["superuser"].save()
    for slug, member, grant in [
        ("triggerers", "operator", {"dag_ids": ["cp_quick", "cp_etl"], "level": "trigger"}),
        ("ops", "operate_user", {"tags": ["etl"], "level": "operate"}),
        ("viewers", "viewer", {"dag_patterns": ["cp_*"], "level": "view"}),
    ]:
        team = TeamFactory.create(slug=slug)
        MembershipFactory.create(team=team, user=users[member])
        GrantFactory.create(team=team, profile=profile, **grant)
    return Live(profile, users)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_catalog_refresh_reads_every_dag_and_writes_only_changes(live: Live) -> None:
    rows = {d.dag_id: d for d in Dag.objects.filter(profile=live.profile)}
    assert {"cp_etl", "cp_quick", "cp_mapped", "cp_paused", "cp_params_showcase"} <= set(rows)
    assert rows["cp_etl"].tags == ["etl", "finance"]
    assert rows["cp_etl"].display_name == "ETL with chosen failure"
    assert rows["cp_paused"].is_paused is True
    again = catalog.refresh_catalog(live.profile)
    assert again.created == 0 and again.updated == 0 and again.unchanged >= 5

    showcase = catalog.refresh_dag(live.profile, "cp_params_showcase")
    assert showcase.params["region"]["schema"]["values_display"]["eu"] == "Europe"
    assert showcase.params["batch_size"]["default"] == 100


def test_trigger_writes_the_run_and_an_audit_event_and_a_resubmission_makes_no_second_run(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    run_id = new_dag_run_id()
    dag = live.dag("cp_quick")
    run = start_run(
        live.actor("operator"),
        dag,
        conf={"name": "audit"},
        note="from the panel",
        dag_run_id=run_id,
    )
    assert (run.dag_run_id, run.triggered_by, run.source) == (run_id, live.users["operator"], "web")
    assert run.conf == {"name": "audit"} and run.state == "queued"

    again = start_run(
        live.actor("operator"),
        dag,
        conf={"name": "audit"},
        note="from the panel",
        dag_run_id=run_id,
    )
    assert again.pk == run.pk
    in_airflow = [
        r for r in panel_admin_client.list_dag_runs(dag_ids=["cp_quick"]) if r.dag_run_id == run_id
    ]
    assert len(in_airflow) == 1

    first, second = events("dag.trigger")
    assert first.outcome == second.outcome == "succeeded"
    assert first.actor_username == "operator" and first.ip_address == "127.0.0.1"
    assert first.payload["conf"] == {"name": "audit"} and first.payload["note"] == "from the panel"
    assert first.dag_run_id == run_id and first.profile_slug == "harness"
    assert (first.payload["already_existed"], second.payload["already_existed"]) == (False, True)
    assert wait_for_run(panel_admin_client, "cp_quick", run_id).state == "success"


def test_viewer_may_not_trigger_and_the_attempt_is_audited(live: Live) -> None:
    with pytest.raises(ActionDenied):
        start_run(live.actor("viewer"), live.dag("cp_quick"), conf={"name": "x"})
    [denied] = events("dag.trigger")
    assert denied.outcome == "denied" and denied.actor_username == "viewer"
    assert denied.payload["conf"] == {"name": "x"}
    assert not Run.objects.exists()


def test_outsider_gets_404_and_the_probe_is_audited(live: Live) -> None:
    with pytest.raises(Http404):
        dags.find_dag(live.actor("outsider"), "harness", "cp_quick", "dag.trigger")
    [denied] = events("dag.trigger")
    assert (denied.outcome, denied.dag_id, denied.actor_username) == (
        "denied",
        "cp_quick",
        "outsider",
    )


def test_a_conf_airflow_refuses_fails_with_the_param_named_and_is_audited(live: Live) -> None:
    # The panel's copy of the params is out of date (read before the DAG gained them), so
    # its own check passes the conf and Airflow's refusal is what the user hears.
    dag = live.dag("cp_etl")
    Dag.objects.filter(pk=dag.pk).update(params={}, params_synced_at=timezone.now())
    dag.refresh_from_db()
    with pytest.raises(AirflowValidationError) as err:
        start_run(live.actor("operator"), dag, conf={"rows": "many"})
    assert err.value.param == "rows"
    [failed] = events("dag.trigger")
    assert failed.outcome == "failed"
    assert "'rows'" in failed.message and failed.payload["conf"] == {"rows": "many"}
    assert failed.payload["error"] == "AirflowValidationError"
    assert not Run.objects.exists()


def test_a_conf_that_breaks_the_params_is_refused_before_airflow_and_audited(
    live: Live,
) -> None:
    with pytest.raises(triggers.ConfRefused) as refused:
        start_run(live.actor("operator"), live.dag("cp_etl"), conf={"rows": "many"})
    assert set(refused.value.errors) == {"rows"}
    [failed] = events("dag.trigger")
    assert (failed.outcome, failed.payload["conf"]) == ("failed", {"rows": "many"})
    assert failed.payload["errors"] == refused.value.errors
    assert not Run.objects.exists()


def test_airflow_down_fails_in_plain_words_and_is_audited(
    live: Live, panel_airflow: AirflowInstance
) -> None:
    down = harness_profile(panel_airflow, slug="down", base_url=f"http://127.0.0.1:{free_port()}")
    dag = Dag.objects.create(profile=down, dag_id="cp_quick")
    with pytest.raises(AirflowUnavailable):
        start_run(live.actor("superuser"), dag, conf={})
    [failed] = events("dag.trigger")
    assert failed.outcome == "failed" and "refused" in failed.message
    assert failed.profile_slug == "down"


def test_operate_user_pauses_and_unpauses_others_may_not(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    dag = live.dag("cp_etl")
    with pytest.raises(ActionDenied):
        actions.set_paused(live.actor("operator"), dag, True)  # trigger level is not enough
    actions.set_paused(live.actor("operate_user"), dag, True)
    assert panel_admin_client.get_dag("cp_etl").is_paused is True
    assert live.dag("cp_etl").is_paused is True
    actions.set_paused(live.actor("operate_user"), dag, False)
    assert panel_admin_client.get_dag("cp_etl").is_paused is False
    outcomes = [
        (e.action, e.outcome, e.actor_username)
        for e in AuditEvent.objects.filter(action__startswith="dag.").order_by("id")
    ]
    assert outcomes == [
        ("dag.pause", "denied", "operator"),
        ("dag.pause", "succeeded", "operate_user"),
        ("dag.unpause", "succeeded", "operate_user"),
    ]


def test_retry_reruns_the_failed_tasks_until_the_run_succeeds(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    run = start_run(
        live.actor("operate_user"),
        live.dag("cp_etl"),
        conf={"fail_at": "transform", "fail_mode": "first_try"},
    )
    assert wait_for_run(panel_admin_client, "cp_etl", run.dag_run_id).state == "failed"
    with pytest.raises(ActionDenied):
        retry_run(live.actor("operator"), run)
    assert retry_run(live.actor("operate_user"), run) == ["load", "transform"]
    assert Run.objects.get(pk=run.pk).state == "queued"
    assert wait_for_run(panel_admin_client, "cp_etl", run.dag_run_id).state == "success"
    retried = events("run.retry")
    assert [e.outcome for e in retried] == ["denied", "succeeded"]
    assert retried[1].payload["cleared_tasks"] == ["load", "transform"]


def test_set_run_state_marks_the_run_in_airflow(
    live: Live, panel_admin_client: AirflowClient
) -> None:
    dag = live.dag("cp_paused")  # paused: the run stays queued until we mark it
    run = start_run(live.actor("superuser"), dag, conf={})
    with pytest.raises(ValueError, match="success or failed"):
        actions.set_run_state(live.actor("superuser"), run, "running")
    actions.set_run_state(live.actor("superuser"), run, "failed")
    assert panel_admin_client.get_dag_run("cp_paused", run.dag_run_id).state == "failed"
    assert Run.objects.get(pk=run.pk).state == "failed"
    assert [e.outcome for e in events("run.set_state")] == ["failed", "succeeded"]


def test_unpause_and_trigger_needs_operate(live: Live, panel_admin_client: AirflowClient) -> None:
    dag = live.dag("cp_etl")
    actions.set_paused(live.actor("operate_user"), dag, True)
    with pytest.raises(ActionDenied):
        start_run(live.actor("operator"), live.dag("cp_etl"), unpause=True)
    run = start_run(live.actor("operate_user"), live.dag("cp_etl"), unpause=True, conf={"rows": 1})
    assert panel_admin_client.get_dag("cp_etl").is_paused is False
    assert wait_for_run(panel_admin_client, "cp_etl", run.dag_run_id).state == "success"
