"""One panel, an Airflow 2.11 and an Airflow 3.1 profile: the same pages, API and history.

A team with a grant on each profile triggers the same DAG on both (through the web form and
through the API), the poller follows both runs to the end, and the catalog, the run lists,
the run pages and the API show both with the same fields; only the link to Airflow's own UI
differs, because Airflow 3's UI has other addresses.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.test import Client

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, AuditEvent, Run, TaskInstance
from controlpanel.paramforms import PREFIX
from controlpanel.services import catalog, profiles, tokens, tracking
from tests.factories import GrantFactory, MembershipFactory, TeamFactory, UserFactory
from tests.harness.airflow import AirflowInstance
from tests.helpers.profiles import harness_profile

pytestmark = [pytest.mark.airflow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_airflows(airflow: AirflowInstance, airflow3: AirflowInstance) -> dict[str, Any]:
    """Profiles "af2" and "af3", both tested (so their API is stored), and an operator."""
    admin = UserFactory.create(username="root")
    admin.is_superuser = True
    admin.save()
    operator = UserFactory.create(username="ops")
    team = TeamFactory.create(slug="ops")
    MembershipFactory.create(team=team, user=operator)
    made = {}
    for slug, instance in (("af2", airflow), ("af3", airflow3)):
        profile = harness_profile(instance, slug=slug)
        profile.track_external_runs = False  # only our runs: the harness Airflow is shared
        profile.save()
        report = profiles.test_profile(Actor(user=admin), profile)
        assert report.ok, report
        catalog.refresh_catalog(profile)
        GrantFactory.create(team=team, profile=profile, dag_ids=["cp_quick"], level="trigger")
        made[slug] = AirflowProfile.objects.get(pk=profile.pk)
    _, token = tokens.create_token(Actor(user=operator), operator, "side-by-side")
    return {"profiles": made, "operator": operator, "token": token}


def poll_until_finished(profiles_: list[AirflowProfile], runs: list[Run]) -> None:
    deadline = time.monotonic() + 240
    while not all(Run.objects.get(pk=r.pk).is_finished for r in runs):
        assert time.monotonic() < deadline, [Run.objects.get(pk=r.pk) for r in runs]
        for profile in profiles_:
            cycle = tracking.poll_profile(profile)
            assert not cycle.error, cycle.error
        time.sleep(1)


def test_both_versions_side_by_side_in_the_pages_and_the_api(two_airflows: dict[str, Any]) -> None:
    af2, af3 = two_airflows["profiles"]["af2"], two_airflows["profiles"]["af3"]
    assert (af2.api_version, af3.api_version) == ("v1", "v2")  # detected by the test
    web = Client()
    web.force_login(two_airflows["operator"])

    # The catalog lists the DAG once per profile.
    home = web.get("/").content.decode()
    assert 'href="/dags/af2/cp_quick/"' in home and 'href="/dags/af3/cp_quick/"' in home

    # The same generated form triggers on both; the API triggers on both.
    runs: list[Run] = []
    for slug in ("af2", "af3"):
        name = f"web-{slug}-{uuid.uuid4().hex[:6]}"
        page = web.get(f"/dags/{slug}/cp_quick/").content.decode()
        assert f'name="{PREFIX}name"' in page
        run_id = page.split('name="dag_run_id" value="')[1].split('"')[0]
        response = web.post(
            f"/dags/{slug}/cp_quick/", {"dag_run_id": run_id, f"{PREFIX}name": name}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        runs.append(Run.objects.get(profile__slug=slug, dag_run_id=run_id))
        assert runs[-1].conf == {"name": name}

        api = Client(HTTP_AUTHORIZATION=f"Bearer {two_airflows['token']}")
        created = api.post(
            f"/api/dags/{slug}/cp_quick/runs/",
            {"conf": {"name": f"api-{slug}"}},
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        runs.append(Run.objects.get(pk=created.json()["id"]))

    poll_until_finished([af2, af3], runs)
    for run in runs:
        run.refresh_from_db()
        assert run.state == "success", run
        assert TaskInstance.objects.get(run=run, task_id="say_hello").state == "success"

    # One list, both profiles; the same fields whatever the version.
    listed = api.get("/api/runs/?dag_id=cp_quick").json()["results"]
    by_profile = {(r["profile"], r["source"]) for r in listed}
    assert by_profile == {("af2", "web"), ("af2", "api"), ("af3", "web"), ("af3", "api")}
    assert len({frozenset(r) for r in listed}) == 1  # identical keys
    run_list = web.get("/runs/").content.decode()
    assert all(f'href="/runs/{run.pk}/"' in run_list for run in runs)

    # Run pages: the same page; the link into Airflow follows the version.
    v2_run = runs[2]
    page2 = web.get(f"/runs/{runs[0].pk}/").content.decode()
    page3 = web.get(f"/runs/{v2_run.pk}/").content.decode()
    assert f"{af2.base_url}/dags/cp_quick/grid?dag_run_id=" in page2
    assert f"{af3.base_url}/dags/cp_quick/runs/" in page3.replace("&amp;", "&")
    assert "Succeeded" in page2 and "Succeeded" in page3

    # The task's log reads the same on both (Airflow 3 sends JSON events, shown as text).
    for run in (runs[0], v2_run):
        log = web.get(f"/runs/{run.pk}/log/?task_id=say_hello").content.decode()
        assert f"hello {run.conf['name']}" in log, log[-2000:]

    # Each trigger is in the audit trail under its profile.
    triggers = AuditEvent.objects.filter(action="dag.trigger", outcome="succeeded")
    assert sorted(triggers.values_list("profile_slug", "source")) == [
        ("af2", "api"),
        ("af2", "web"),
        ("af3", "api"),
        ("af3", "web"),
    ]
