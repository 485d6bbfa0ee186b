"""Every dags_api call against a real Airflow 2.11 and a real Airflow 3.1 from the harness.

Each test runs once per version (``airflow_any``) with the same assertions: the client hides
the differences. Runs take tens of seconds, so the runs the tests inspect are all triggered
up front (``runs`` fixture) and each test waits only for its own.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dags_api import (
    AirflowAuthError,
    AirflowClient,
    AirflowConflict,
    AirflowNotFound,
    AirflowUnavailable,
    AirflowValidationError,
    BasicAuth,
    BearerToken,
    ConnectionSettings,
    new_dag_run_id,
)
from tests.conftest import ClientFactory, wait_for_run
from tests.harness.airflow import TEST_DAG_IDS, AirflowInstance, airflow3_token, free_port

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def admin_client(any_client_for: ClientFactory) -> AirflowClient:
    """The Admin harness user's client of the Airflow under test (each version in turn)."""
    return any_client_for("admin")


@pytest.fixture(scope="module")
def runs(admin_client: AirflowClient) -> dict[str, Any]:
    """Trigger the runs the tests look at, all at once, so the scheduler works in parallel."""
    started: dict[str, Any] = {}
    plans: dict[str, tuple[str, dict[str, Any], str | None]] = {
        "quick": ("cp_quick", {"name": "panel"}, "triggered by the test suite"),
        "etl_fails": ("cp_etl", {"fail_at": "transform", "fail_mode": "first_try"}, None),
        "mapped": ("cp_mapped", {"items": [10, 20, 30, 40]}, None),
    }
    for key, (dag_id, conf, note) in plans.items():
        result = admin_client.trigger_dag_run(
            dag_id, conf=conf, dag_run_id=new_dag_run_id("test"), note=note
        )
        started[key] = result.run
    return started


def test_health_and_version_need_no_credentials(
    airflow_any: AirflowInstance, any_client_for: ClientFactory
) -> None:
    client = any_client_for("nobody", password="wrong")
    assert client.version().version == airflow_any.version
    assert client.version().major == int(airflow_any.version.split(".")[0])
    assert client.api_version == airflow_any.api_version  # detected: settings say "auto"
    health = client.health()
    assert health.metadatabase_healthy and health.scheduler_healthy
    assert health.scheduler_latest_heartbeat is not None
    assert health.scheduler_latest_heartbeat.tzinfo is not None


def test_list_dags_walks_every_dag_and_filters(admin_client: AirflowClient) -> None:
    every = {d.dag_id: d for d in admin_client.list_dags()}
    assert set(TEST_DAG_IDS) <= set(every)
    etl = every["cp_etl"]
    assert etl.display_name == "ETL with chosen failure"
    assert etl.tags == ("etl", "finance")
    assert etl.owners == ("airflow",)

    by_tag = {d.dag_id for d in admin_client.list_dags(tags=["demo"])}
    assert by_tag == {"cp_quick", "cp_paused"}
    by_tags = {d.dag_id for d in admin_client.list_dags(tags=["mapped", "finance"])}
    assert by_tags == {"cp_mapped", "cp_etl"}
    assert {d.dag_id for d in admin_client.list_dags(dag_id_pattern="cp_param")} == {
        "cp_params_showcase"
    }
    paused = {d.dag_id for d in admin_client.list_dags(paused=True)}
    assert "cp_paused" in paused and "cp_quick" not in paused


def test_dag_details_return_params_of_every_type(admin_client: AirflowClient) -> None:
    params = admin_client.get_dag("cp_params_showcase").params
    assert params["customer"].default == "acme"
    assert params["customer"].description == "Lower-case customer code"
    assert params["customer"].schema["title"] == "Customer code"
    assert params["customer"].schema["section"] == "Who"
    assert params["customer"].schema["pattern"] == "^[a-z0-9_]+$"
    assert params["customer"].schema["minLength"] == 2
    assert params["run_date"].schema["format"] == "date"
    assert params["run_at"].schema["format"] == "date-time"
    assert params["cutoff_time"].schema["format"] == "time"
    assert params["region"].schema["enum"] == ["eu", "us", "apac"]
    assert params["region"].schema["values_display"]["apac"] == "Asia-Pacific"
    assert params["dry_run"].default is False and params["dry_run"].schema["type"] == "boolean"
    assert params["batch_size"].schema == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert params["threshold"].default == 0.5 and params["threshold"].schema["type"] == "number"
    assert params["channels"].schema["items"]["enum"] == ["email", "sms", "slack"]
    assert params["channels"].default == ["email"]
    assert params["tables"].schema == {"type": "array"}
    assert params["options"].default == {"retries": 2}
    assert params["comment"].schema["type"] == ["null", "string"]
    assert params["comment"].default is None
    assert "**comment**" in params["comment"].schema["description_md"]
    assert params["schema_version"].schema["const"] == 2
    # No type given: an empty schema, the default tells the type.
    assert params["legacy_limit"].schema == {} and params["legacy_limit"].default == 7


def test_pause_then_unpause(any_client_for: ClientFactory) -> None:
    operator = any_client_for("operator")  # Airflow 2's User role, Airflow 3's op, may pause
    assert operator.pause("cp_params_showcase").is_paused is True
    assert operator.get_dag("cp_params_showcase").is_paused is True
    assert "cp_params_showcase" in {d.dag_id for d in operator.list_dags(paused=True)}
    assert operator.unpause("cp_params_showcase").is_paused is False
    assert operator.get_dag("cp_params_showcase").is_paused is False


def test_trigger_with_conf_reaches_success_and_logs_it(
    admin_client: AirflowClient, runs: dict[str, Any]
) -> None:
    started = runs["quick"]
    assert started.state == "queued"
    assert started.conf == {"name": "panel"}
    assert started.note == "triggered by the test suite"
    assert started.external_trigger is True
    assert started.run_after is not None and started.run_after.tzinfo is not None
    if admin_client.api_version == "v1":
        assert started.logical_date is not None and started.logical_date.tzinfo is not None
    else:  # Airflow 3: a run triggered without a logical date has none
        assert started.logical_date is None
    run = wait_for_run(admin_client, "cp_quick", started.dag_run_id)
    assert run.state == "success"
    assert run.end_date is not None and run.start_date is not None
    [ti] = admin_client.list_task_instances("cp_quick", run.dag_run_id)
    assert (ti.task_id, ti.map_index, ti.state, ti.try_number) == ("say_hello", -1, "success", 1)
    assert ti.operator == "PythonOperator"
    assert ti.duration is not None and ti.duration > 0
    log = admin_client.get_task_log("cp_quick", run.dag_run_id, "say_hello", 1)
    assert "hello panel" in log


def test_failing_task_fails_the_run_and_its_log_has_the_exception(
    admin_client: AirflowClient, runs: dict[str, Any]
) -> None:
    run_id = runs["etl_fails"].dag_run_id
    run = wait_for_run(admin_client, "cp_etl", run_id)
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in admin_client.list_task_instances("cp_etl", run_id)}
    assert states == {"extract": "success", "transform": "failed", "load": "upstream_failed"}
    log = admin_client.get_task_log("cp_etl", run_id, "transform", 1)
    assert "RuntimeError: Deliberate failure in transform" in log


def test_clearing_failed_tasks_makes_them_run_again(
    admin_client: AirflowClient, runs: dict[str, Any]
) -> None:
    run_id = runs["etl_fails"].dag_run_id
    assert wait_for_run(admin_client, "cp_etl", run_id).state == "failed"

    preview = admin_client.clear_failed_task_instances("cp_etl", run_id, dry_run=True)
    assert {c.task_id for c in preview} == {"transform", "load"}
    assert admin_client.get_dag_run("cp_etl", run_id).state == "failed"  # dry run: unchanged

    cleared = admin_client.clear_failed_task_instances("cp_etl", run_id)
    assert {c.task_id for c in cleared} == {"transform", "load"}
    assert admin_client.get_dag_run("cp_etl", run_id).state in ("queued", "running")
    run = wait_for_run(admin_client, "cp_etl", run_id)
    assert run.state == "success"
    tis = {ti.task_id: ti for ti in admin_client.list_task_instances("cp_etl", run_id)}
    assert tis["extract"].try_number == 1  # succeeded before, left alone
    assert tis["transform"].try_number == 2 and tis["transform"].state == "success"
    assert "transform finished" in admin_client.get_task_log("cp_etl", run_id, "transform", 2)
    assert "Deliberate failure" in admin_client.get_task_log("cp_etl", run_id, "transform", 1)


def test_mapped_task_gives_one_instance_per_map_index(
    admin_client: AirflowClient, runs: dict[str, Any]
) -> None:
    run_id = runs["mapped"].dag_run_id
    assert wait_for_run(admin_client, "cp_mapped", run_id).state == "success"
    tis = admin_client.list_task_instances("cp_mapped", run_id)
    mapped = sorted(ti.map_index for ti in tis if ti.task_id == "process")
    assert mapped == [0, 1, 2, 3]
    assert {ti.map_index for ti in tis if ti.task_id != "process"} == {-1}
    log = admin_client.get_task_log("cp_mapped", run_id, "process", 1, map_index=2)
    assert "processing 30" in log


def test_batch_reads_cover_many_runs_in_one_request(
    admin_client: AirflowClient, runs: dict[str, Any]
) -> None:
    wanted = {r.dag_run_id for r in runs.values()}
    listed = admin_client.list_dag_runs(dag_ids=["cp_quick", "cp_etl", "cp_mapped"])
    assert wanted <= {r.dag_run_id for r in listed}
    assert all(r.dag_id in ("cp_quick", "cp_etl", "cp_mapped") for r in listed)

    quick = runs["quick"]
    wait_for_run(admin_client, "cp_quick", quick.dag_run_id)
    mapped = runs["mapped"]
    wait_for_run(admin_client, "cp_mapped", mapped.dag_run_id)
    tis = admin_client.list_task_instances_batch(
        dag_ids=["cp_quick", "cp_mapped"], dag_run_ids=[quick.dag_run_id, mapped.dag_run_id]
    )
    keys = {(ti.dag_run_id, ti.task_id, ti.map_index) for ti in tis}
    assert (quick.dag_run_id, "say_hello", -1) in keys
    assert {(mapped.dag_run_id, "process", i) for i in range(4)} <= keys
    only_success = admin_client.list_task_instances_batch(
        dag_run_ids=[quick.dag_run_id], states=["success"]
    )
    assert [ti.task_id for ti in only_success] == ["say_hello"]
    succeeded = admin_client.list_dag_runs(dag_ids=["cp_quick"], states=["success"])
    assert quick.dag_run_id in {r.dag_run_id for r in succeeded}
    assert {r.state for r in succeeded} == {"success"}
    assert admin_client.list_dag_runs(dag_ids=["cp_quick"], states=["failed"]) == []


def test_duplicate_dag_run_id_is_a_conflict_unless_it_is_the_same_trigger(
    admin_client: AirflowClient,
) -> None:
    run_id = new_dag_run_id("dup")
    first = admin_client.trigger_dag_run("cp_paused", conf={"n": 1}, dag_run_id=run_id)
    assert first.already_existed is False

    again = admin_client.trigger_dag_run("cp_paused", conf={"n": 1}, dag_run_id=run_id)
    assert again.already_existed is True  # a retried trigger: the run is not created twice
    assert again.run.dag_run_id == run_id

    with pytest.raises(AirflowConflict) as err:
        admin_client.trigger_dag_run("cp_paused", conf={"n": 2}, dag_run_id=run_id)
    assert err.value.clash == "dag_run_id"
    assert run_id in err.value.user_message
    # Airflow 2 words it; Airflow 3 names the unique constraint on (dag_id, run_id).
    assert ("already exists" if admin_client.api_version == "v1" else "run_id") in (
        err.value.detail
    )


def test_duplicate_logical_date_is_a_conflict_naming_the_date(
    admin_client: AirflowClient,
) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(seconds=time.time() % 10_000)
    admin_client.trigger_dag_run("cp_paused", dag_run_id=new_dag_run_id("date"), logical_date=when)
    with pytest.raises(AirflowConflict) as err:
        admin_client.trigger_dag_run(
            "cp_paused", dag_run_id=new_dag_run_id("date"), logical_date=when
        )
    assert err.value.clash == "logical_date"
    assert "logical date" in err.value.user_message


def test_run_on_paused_dag_stays_queued_and_its_state_can_be_set(
    admin_client: AirflowClient,
) -> None:
    run = admin_client.trigger_dag_run("cp_paused", dag_run_id=new_dag_run_id("state")).run
    time.sleep(3)  # give the scheduler a chance it must not take
    assert admin_client.get_dag_run("cp_paused", run.dag_run_id).state == "queued"
    assert admin_client.set_dag_run_state("cp_paused", run.dag_run_id, "failed").state == "failed"
    assert admin_client.get_dag_run("cp_paused", run.dag_run_id).state == "failed"
    assert admin_client.set_dag_run_state("cp_paused", run.dag_run_id, "success").state == "success"


def test_invalid_conf_is_a_validation_error_naming_the_param(admin_client: AirflowClient) -> None:
    with pytest.raises(AirflowValidationError) as err:
        admin_client.trigger_dag_run(
            "cp_etl", conf={"rows": "many"}, dag_run_id=new_dag_run_id("bad")
        )
    assert err.value.param == "rows"
    assert "'rows'" in err.value.user_message
    assert "not of type 'integer'" in err.value.user_message
    assert "\n" not in err.value.user_message

    with pytest.raises(AirflowValidationError) as err:
        admin_client.trigger_dag_run("cp_etl", conf={"fail_at": "nowhere"})
    assert err.value.param == "fail_at"


def test_viewer_can_read_but_not_trigger(any_client_for: ClientFactory) -> None:
    viewer = any_client_for("viewer")
    assert "cp_quick" in {d.dag_id for d in viewer.list_dags()}
    with pytest.raises(AirflowAuthError) as err:
        viewer.trigger_dag_run("cp_paused", dag_run_id=new_dag_run_id("viewer"))
    assert "check the credentials or the Airflow role" in err.value.user_message
    assert err.value.status_code == 403
    with pytest.raises(AirflowAuthError):
        viewer.pause("cp_quick")


def test_wrong_password_is_an_auth_error(any_client_for: ClientFactory) -> None:
    with pytest.raises(AirflowAuthError) as err:
        any_client_for("admin", password="not-the-password").list_dags()
    assert "check the credentials or the Airflow role" in err.value.user_message


def test_unknown_dag_is_not_found(admin_client: AirflowClient) -> None:
    with pytest.raises(AirflowNotFound) as err:
        admin_client.get_dag("no_such_dag")
    assert "no_such_dag" in err.value.user_message
    with pytest.raises(AirflowNotFound):
        admin_client.trigger_dag_run("no_such_dag", dag_run_id=new_dag_run_id("nf"))
    with pytest.raises(AirflowNotFound):
        admin_client.get_dag_run("cp_quick", "no_such_run")


def test_port_where_nothing_listens_is_unavailable_within_the_timeout() -> None:
    settings = ConnectionSettings(
        f"http://127.0.0.1:{free_port()}",
        BasicAuth("admin", "x"),
        allow_insecure_http=True,
        connect_timeout=2,
        max_retries=1,
        backoff_seconds=0.1,
    )
    started = time.monotonic()
    with AirflowClient(settings) as client, pytest.raises(AirflowUnavailable) as err:
        client.list_dags()
    assert err.value.reason == "refused"
    assert "refused" in err.value.user_message
    assert time.monotonic() - started < 10  # a refusal is immediate: no waiting out timeouts


# --- Airflow 3 only: its token login ----------------------------------------------------------


def test_airflow3_renews_a_token_it_refuses(airflow3: AirflowInstance) -> None:
    settings = ConnectionSettings(
        airflow3.url, BasicAuth("admin", airflow3.password("admin")), allow_insecure_http=True
    )
    with AirflowClient(settings) as client:
        assert "cp_quick" in {d.dag_id for d in client.list_dags()}
        tokens = client.transport.tokens
        assert tokens is not None and tokens.fetch_count == 1
        tokens._token = "revoked.or.expired"  # what Airflow answers 403 "Invalid JWT token" to
        assert client.get_dag("cp_quick").dag_id == "cp_quick"
        assert tokens.fetch_count == 2


def test_airflow3_accepts_a_static_bearer_token(airflow3: AirflowInstance) -> None:
    token = airflow3_token(airflow3, "viewer")
    settings = ConnectionSettings(airflow3.url, BearerToken(token), allow_insecure_http=True)
    with AirflowClient(settings) as client:
        assert client.api_version == "v2"
        assert "cp_quick" in {d.dag_id for d in client.list_dags()}
        with pytest.raises(AirflowAuthError) as err:
            client.pause("cp_quick")  # the token carries the viewer's role
        assert err.value.status_code == 403
