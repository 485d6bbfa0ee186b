"""Connection profiles for tests: on the real Airflow harness, or on a mocked Airflow."""

from __future__ import annotations

import responses

from controlpanel.models import AirflowProfile
from controlpanel.services import catalog
from controlpanel.services import profiles as services
from tests.harness.airflow import AirflowInstance


def harness_profile(
    airflow: AirflowInstance, slug: str = "harness", base_url: str | None = None
) -> AirflowProfile:
    """A profile logged in as the harness Admin user."""
    profile = AirflowProfile(
        name=slug.title(),
        slug=slug,
        base_url=base_url or airflow.url,
        username="admin",
        allow_insecure_http=True,
        timeout_seconds=10,
    )
    profile.set_secret(airflow.password("admin"))
    profile.full_clean()
    profile.save()
    return profile


def harness_with_catalog(instance: AirflowInstance) -> AirflowProfile:
    """The harness profile with its catalog read, and the browser tests' DAGs in detail."""
    profile = harness_profile(instance)
    catalog.refresh_catalog(profile)
    for dag_id in ("cp_params_showcase", "cp_etl", "cp_quick"):
        catalog.refresh_dag(profile, dag_id)
    return profile


def mock_airflow(
    rsps: responses.RequestsMock,
    base_url: str,
    *,
    scheduler: str = "healthy",
    dags_status: int = 200,
    trigger_status: int = 404,
) -> None:
    """Register the answers of an Airflow 2.11 with two DAGs on ``base_url``."""
    api = f"{base_url}/api/v1"
    rsps.add(responses.GET, f"{base_url}/api/v2/version", status=404)  # not an Airflow 3
    rsps.add(responses.GET, f"{api}/version", json={"version": "2.11.0", "git_version": None})
    health = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": scheduler}}
    rsps.add(responses.GET, f"{api}/health", json=health)
    dags = [{"dag_id": "a", "tags": []}, {"dag_id": "b", "tags": []}]
    body = {"dags": dags, "total_entries": 2} if dags_status == 200 else {"status": dags_status}
    rsps.add(responses.GET, f"{api}/dags", json=body, status=dags_status)
    rsps.add(
        responses.POST,
        f"{api}/dags/{services.PERMISSION_PROBE_DAG_ID}/dagRuns",
        json={"status": trigger_status, "title": "probe"},
        status=trigger_status,
    )
