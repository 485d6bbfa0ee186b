"""What each endpoint answers (contents, filters, errors), without a real Airflow."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client

from controlpanel.audit import Actor, record_event
from controlpanel.models import AirflowProfile, AuditEvent, Dag, DagGrant, StateChange
from controlpanel.models import TaskInstance as TaskInstanceRow
from tests.api.conftest import ApiWorld, Caller
from tests.factories import PASSWORD


def logs_in(username: str) -> bool:
    """Whether ``username`` gets in through the login page with the factories' password."""
    response = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})
    return response.status_code == 302


def results(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    return list(body["results"])


def test_me_names_the_teams_and_roles(api_world: ApiWorld, call: Caller) -> None:
    me = call("team_admin", "GET", "/api/me/").json()
    assert me["username"] == "team_admin" and me["is_superuser"] is False
    assert me["teams"] == [{"slug": "finance-viewers", "name": "Finance viewers", "role": "admin"}]
    assert call("auditor", "GET", "/api/me/").json()["is_auditor"] is True


def test_dag_list_shows_only_visible_dags_with_permissions_and_last_run(
    api_world: ApiWorld, call: Caller, django_assert_max_num_queries: object
) -> None:
    rows = results(call("operator", "GET", "/api/dags/", via="token"))
    assert [(r["profile"], r["dag_id"]) for r in rows] == [("prod", "finance_daily")]
    [row] = rows
    assert row["permissions"] == ["view", "trigger"]
    assert row["last_run"]["id"] == api_world.runs["finance"].pk
    assert set(row) == {
        "profile",
        "dag_id",
        "display_name",
        "description",
        "tags",
        "is_paused",
        "permissions",
        "last_run",
    }
    viewer = {r["dag_id"] for r in results(call("viewer", "GET", "/api/dags/"))}
    assert viewer == {"finance_daily", "finance_monthly"}
    assert results(call("outsider", "GET", "/api/dags/")) == []
    assert results(call("auditor", "GET", "/api/dags/")) == []


def test_dag_list_filters(api_world: ApiWorld, call: Caller) -> None:
    Dag.objects.filter(profile=api_world.world.prod, dag_id="marketing_sync").update(is_paused=True)

    def ids(query: str) -> set[tuple[str, str]]:
        rows = results(call("superuser", "GET", f"/api/dags/?{query}"))
        return {(r["profile"], r["dag_id"]) for r in rows}

    assert ids("profile=staging") == {("staging", "finance_daily"), ("staging", "orders_etl")}
    assert ids("tag=reporting") == {("prod", "finance_monthly")}
    assert ids("search=MONTH") == {("prod", "finance_monthly")}
    assert ids("paused=true") == {("prod", "marketing_sync")}
    assert len(ids("paused=false")) == 5
    assert call("superuser", "GET", "/api/dags/?paused=maybe").status_code == 400


def test_dag_list_queries_do_not_grow_with_the_dags(
    api_world: ApiWorld, call: Caller, django_assert_max_num_queries: object
) -> None:
    from tests.factories import DagFactory, RunFactory

    for n in range(30):
        dag = DagFactory.create(profile=api_world.world.prod, dag_id=f"finance_extra_{n}")
        RunFactory.create(profile=dag.profile, dag_id=dag.dag_id)
    client = Client()
    client.force_login(api_world.users["viewer"])
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        response = client.get("/api/dags/")
    assert response.json()["count"] == 32
    with django_assert_max_num_queries(8):  # type: ignore[operator]
        runs = client.get("/api/runs/")
    assert runs.json()["count"] == 31


def test_dag_detail_carries_params(api_world: ApiWorld, call: Caller) -> None:
    params = {"day": {"schema": {"type": "string"}, "default": "today", "description": "Day"}}
    Dag.objects.filter(profile=api_world.world.prod, dag_id="finance_daily").update(params=params)
    body = call("viewer", "GET", "/api/dags/prod/finance_daily/").json()
    assert body["params"] == params and body["permissions"] == ["view"]


def test_dag_detail_lists_params_in_the_authors_order(api_world: ApiWorld, call: Caller) -> None:
    params: dict[str, Any] = {
        name: {"schema": {}, "default": 1, "description": None} for name in "abc"
    }
    Dag.objects.filter(profile=api_world.world.prod, dag_id="finance_daily").update(
        params=params, param_order=["c", "a", "b"]
    )
    response = call("viewer", "GET", "/api/dags/prod/finance_daily/")
    assert list(response.json()["params"]) == ["c", "a", "b"]
    assert response.content.index(b'"c"') < response.content.index(b'"a"')


def test_profiles_never_show_secrets(api_world: ApiWorld, call: Caller) -> None:
    rows = results(call("viewer", "GET", "/api/profiles/"))
    assert [r["slug"] for r in rows] == ["prod"]
    assert rows[0]["has_secret"] is True
    text = str(call("superuser", "GET", "/api/profiles/").json())
    assert "airflow-password" not in text and "secret_encrypted" not in text
    assert results(call("auditor", "GET", "/api/profiles/")) == []


def test_profile_create_keeps_the_secret_encrypted_and_refuses_bad_input(
    api_world: ApiWorld, call: Caller
) -> None:
    body = {
        "name": "Third",
        "slug": "third",
        "base_url": "https://third.example.invalid",
        "auth_type": "basic",
        "username": "panel",
        "password": "s3cret-pass",
        "timeout_seconds": 12,
    }
    made = call("superuser", "POST", "/api/profiles/", body)
    assert made.status_code == 201 and "password" not in made.json()
    profile = AirflowProfile.objects.get(slug="third")
    assert profile.reveal_secret() == "s3cret-pass" and profile.timeout_seconds == 12
    event = AuditEvent.objects.get(action="profile.create", outcome="succeeded")
    assert "s3cret-pass" not in str(event.payload)

    plain = {**body, "slug": "plain", "name": "Plain", "base_url": "http://plain.example.invalid"}
    refused = call("superuser", "POST", "/api/profiles/", plain)
    assert refused.status_code == 400
    assert "allow_insecure_http" in refused.json()["errors"]
    changed = call("superuser", "PATCH", "/api/profiles/third/", {"token": "", "name": "3rd"})
    assert changed.status_code == 200 and changed.json()["name"] == "3rd"
    assert AirflowProfile.objects.get(slug="third").reveal_secret() == "s3cret-pass"


def test_users_are_created_changed_and_deactivated_by_superusers(
    api_world: ApiWorld, call: Caller
) -> None:
    weak = call("superuser", "POST", "/api/users/", {"username": "n", "password": "123"})
    assert weak.status_code == 400 and "password" in weak.json()["errors"]
    made = call(
        "superuser",
        "POST",
        "/api/users/",
        {
            "username": "newbie",
            "email": "n@example.invalid",
            "password": PASSWORD,
            "is_auditor": True,
        },
    )
    assert made.status_code == 201 and made.json()["is_auditor"] is True
    assert "password" not in made.json()
    assert logs_in("newbie")
    taken = call("superuser", "POST", "/api/users/", {"username": "newbie", "password": PASSWORD})
    assert taken.status_code == 400 and "username" in taken.json()["errors"]
    changed = call("superuser", "PATCH", "/api/users/newbie/", {"is_auditor": False})
    assert changed.json()["is_auditor"] is False
    gone = call("superuser", "DELETE", "/api/users/newbie/")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert not logs_in("newbie")
    actions = list(
        AuditEvent.objects.filter(action__startswith="user.").values_list("action", "outcome")
    )
    assert ("user.create", "succeeded") in actions and ("user.deactivate", "succeeded") in actions
    assert ("user.create", "failed") in actions
    assert call("viewer", "POST", "/api/users/", {"username": "x"}).status_code == 403
    assert AuditEvent.objects.filter(action="user.create", outcome="denied").exists()


def test_a_denied_action_answers_403_with_the_services_sentence(
    api_world: ApiWorld, call: Caller
) -> None:
    response = call("viewer", "PATCH", "/api/dags/prod/finance_daily/", {"is_paused": True})
    message = "You may see finance_daily but not pause it: that needs the 'operate' level."
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "message": message, "detail": None}
    event = AuditEvent.objects.get(action="dag.pause")
    assert (event.outcome, event.message) == ("denied", message)


def test_team_members_and_grants_round_trip(api_world: ApiWorld, call: Caller) -> None:
    team = call("superuser", "POST", "/api/teams/", {"name": "Data", "slug": "data"})
    assert team.status_code == 201
    dup = call("superuser", "POST", "/api/teams/", {"name": "Data", "slug": "data"})
    assert dup.status_code == 400 and dup.json()["errors"]
    added = call("superuser", "POST", "/api/teams/data/members/", {"username": "outsider"})
    assert added.status_code == 201 and added.json()["role"] == "member"
    unknown = call("superuser", "POST", "/api/teams/data/members/", {"username": "ghost"})
    assert unknown.status_code == 400 and "username" in unknown.json()["errors"]
    grant = call(
        "superuser",
        "POST",
        "/api/teams/data/grants/",
        {"profile": "staging", "dag_patterns": ["orders_*"], "level": "operate"},
    )
    assert grant.status_code == 201 and isinstance(grant.json()["id"], int)
    assert DagGrant.objects.get(pk=grant.json()["id"]).team.slug == "data"
    rows = results(call("outsider", "GET", "/api/dags/"))
    assert [(r["dag_id"], r["permissions"]) for r in rows] == [
        ("orders_etl", ["view", "trigger", "operate"])
    ]
    empty = call("superuser", "POST", "/api/teams/data/grants/", {"profile": "staging"})
    assert empty.status_code == 400
    removed = call("superuser", "DELETE", f"/api/teams/data/grants/{grant.json()['id']}/")
    assert removed.status_code == 204
    assert results(call("outsider", "GET", "/api/dags/")) == []


def test_runs_list_filters_and_run_detail_shape(api_world: ApiWorld, call: Caller) -> None:
    run = api_world.runs["finance"]
    TaskInstanceRow.objects.create(
        run=run, task_id="say_hello", try_number=1, state="success", duration=1.5
    )
    run.stale_reason = "The DAG is paused."
    run.save()
    StateChange.objects.create(run=run, to_state="queued", observed_at=run.created_at)
    StateChange.objects.create(
        run=run, task_id="say_hello", from_state="", to_state="success", observed_at=run.created_at
    )
    StateChange.objects.create(
        run=run,
        from_state="failed",
        to_state="queued",
        retry=True,
        retry_requested_by=run.triggered_by,
        observed_at=run.created_at,
    )

    def ids(persona: str, query: str = "") -> list[int]:
        return [r["id"] for r in results(call(persona, "GET", f"/api/runs/?{query}"))]

    assert ids("viewer") == [run.pk]
    assert set(ids("auditor")) == {r.pk for r in api_world.runs.values()}
    assert ids("superuser", "triggered_by=operator") == [run.pk]
    assert ids("superuser", "state=failed") == [api_world.runs["etl"].pk]
    assert len(ids("superuser", "profile=prod&dag_id=orders_etl")) == 1
    assert len(ids("superuser", "since=2000-01-01T00:00:00Z")) == 3
    assert ids("superuser", "since=2999-01-01T00:00:00%2B00:00") == []
    assert call("superuser", "GET", "/api/runs/?since=yesterday").status_code == 400

    detail = call("viewer", "GET", f"/api/runs/{run.pk}/").json()
    assert set(detail) == {
        "id",
        "profile",
        "dag_id",
        "dag_run_id",
        "state",
        "conf",
        "note",
        "logical_date",
        "approved_by",
        "approval_request",
        "triggered_by",
        "source",
        "created_at",
        "start_date",
        "end_date",
        "stale",
        "task_instances",
    }
    assert detail["triggered_by"] == "operator" and detail["stale"] == "The DAG is paused."
    assert detail["task_instances"] == [
        {
            "task_id": "say_hello",
            "display_name": "say_hello",
            "map_index": -1,
            "try_number": 1,
            "state": "success",
            "start_date": None,
            "end_date": None,
            "duration": 1.5,
        }
    ]
    history = results(call("viewer", "GET", f"/api/runs/{run.pk}/history/"))
    assert [(h["task_id"], h["to_state"], h["retry_requested_by"]) for h in history] == [
        ("", "queued", None),
        ("say_hello", "success", None),
        ("", "queued", "operator"),
    ]
    assert [h["retry"] for h in history] == [False, False, True]


def test_invalid_conf_is_refused_before_airflow_naming_the_param(
    api_world: ApiWorld, call: Caller
) -> None:
    params = {
        "rows": {"schema": {"type": "integer", "minimum": 0}, "default": 1, "description": None},
        "mode": {
            "schema": {"type": "string", "enum": ["a", "b"]},
            "default": "a",
            "description": None,
        },
    }
    Dag.objects.filter(profile=api_world.world.prod, dag_id="finance_daily").update(params=params)
    response = call(
        "operator",
        "POST",
        "/api/dags/prod/finance_daily/runs/",
        {"conf": {"rows": "many", "mode": "c"}},
    )
    assert response.status_code == 400  # not 503: Airflow (unreachable here) was not asked
    body = response.json()
    assert body["error"] == "invalid_conf" and set(body["errors"]) == {"rows", "mode"}
    # The trigger form's words (one conf check for the form and the API), not jsonschema's.
    assert body["errors"] == {
        "rows": ["The value must be of type integer."],
        "mode": ["Choose one of the listed values."],
    }
    event = AuditEvent.objects.get(action="dag.trigger")
    assert event.outcome == "failed" and event.payload["conf"] == {"rows": "many", "mode": "c"}


def test_trigger_body_is_checked(api_world: ApiWorld, call: Caller) -> None:
    path = "/api/dags/prod/finance_daily/runs/"
    naive = call("operator", "POST", path, {"logical_date": "2026-01-01T00:00:00"})
    assert naive.status_code == 400 and "logical_date" in naive.json()["errors"]
    assert call("operator", "POST", path, {"conf": [1, 2]}).status_code == 400


def test_airflow_unreachable_is_503_in_plain_words_and_audited_as_failed(
    api_world: ApiWorld, call: Caller
) -> None:
    response = call("operator", "POST", "/api/dags/prod/finance_daily/runs/", {"conf": {}})
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "airflow_unavailable" and "Traceback" not in body["message"]
    assert "reached" in body["message"] or "refused" in body["message"]
    event = AuditEvent.objects.get(action="dag.trigger")
    assert (event.outcome, event.source, event.actor_username) == ("failed", "api", "operator")


def test_audit_filters_and_csv_export(api_world: ApiWorld, call: Caller) -> None:
    call("viewer", "PATCH", "/api/dags/prod/finance_daily/", {"is_paused": True})
    rows = results(call("auditor", "GET", "/api/audit/?action=dag.pause&outcome=denied"))
    assert [(r["actor_username"], r["dag_id"], r["source"]) for r in rows] == [
        ("viewer", "finance_daily", "api")
    ]
    assert results(call("auditor", "GET", "/api/audit/?actor=nobody")) == []
    assert results(call("auditor", "GET", "/api/audit/?until=2000-01-01T00:00:00Z")) == []
    by_profile = results(call("auditor", "GET", "/api/audit/?profile=prod&dag_id=finance_daily"))
    assert len(by_profile) == 1
    record_event(Actor.system(), "run.retry", outcome="succeeded", dag_id="d", dag_run_id="r-9")
    by_run = results(call("auditor", "GET", "/api/audit/?dag_run_id=r-9"))
    assert [(r["action"], r["dag_run_id"]) for r in by_run] == [("run.retry", "r-9")]
    response = call("auditor", "GET", "/api/audit/?format=csv&action=token.create")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:3] == ["id", "created_at", "actor_username"]
    assert len(lines) == 1 + AuditEvent.objects.filter(action="token.create").count()


def test_unknown_api_paths_answer_json_404(api_world: ApiWorld, call: Caller) -> None:
    response = call("viewer", "GET", "/api/nothing/here/")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_schema_validates_and_docs_use_vendored_assets(db: None) -> None:
    from drf_spectacular.validation import validate_schema

    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    validate_schema(schema)
    for path in ["/api/dags/{profile}/{dag_id}/runs/", "/api/runs/{run_id}/", "/api/audit/"]:
        assert path in schema["paths"]
    docs = Client().get("/api/docs/").content.decode()
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "panel-init.js"]:
        assert f"/static/vendor/swagger-ui/{asset}" in docs
        assert (Path(settings.BASE_DIR) / "static" / "vendor" / "swagger-ui" / asset).is_file()
    assert "cdn" not in docs.lower()


def test_schema_generation_has_no_warnings(db: None, tmp_path: Path) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text())["paths"]
    listed = paths["/api/runs/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["$ref"].endswith("PaginatedRunBriefList")


@pytest.mark.parametrize("path", ["/api/runs/", "/api/audit/"])
def test_odd_but_valid_time_zones_in_filters_are_not_server_errors(
    api_world: ApiWorld, call: Caller, path: str
) -> None:
    # Found by schemathesis on PostgreSQL, which refuses offsets beyond about 16 hours.
    odd = call("auditor", "GET", f"{path}?since=0233-06-05T15:42:53-21:14")
    assert odd.status_code == 200
    impossible = call("auditor", "GET", f"{path}?since=0001-01-01T00:00:00-23:59")
    assert impossible.status_code in (200, 400)
    assert call("auditor", "GET", f"{path}?since=2026-02-30T00:00:00Z").status_code == 400
