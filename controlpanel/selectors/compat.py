"""What the Airflow-compatible API reads from the panel's own database, after the access check."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from controlpanel.models import AirflowProfile, Dag, Run
from controlpanel.permissions import Access, carries_tag


def active_profile(slug: str) -> AirflowProfile:
    """The profile a path names; 404 when it does not exist or is switched off."""
    profile = AirflowProfile.objects.filter(slug=slug, is_active=True).first()
    if profile is None:
        raise Http404("No such Airflow.")
    return profile


def visible_active_dags(access: Access, profile: AirflowProfile) -> QuerySet[Dag]:
    """The profile's DAGs that Airflow still has and the caller may see."""
    return access.visible_dags(profile).filter(is_active=True)


def visible_dag_ids(access: Access, profile: AirflowProfile) -> list[str]:
    """The ids of ``visible_active_dags``, for the batch reads of Airflow."""
    return list(visible_active_dags(access, profile).values_list("dag_id", flat=True))


def dags_matching(
    access: Access,
    profile: AirflowProfile,
    *,
    pattern: str = "",
    paused: bool | None = None,
    tags: list[str] | None = None,
) -> QuerySet[Dag]:
    """``GET /dags`` with Airflow's filters: id containing ``pattern``, paused, every tag."""
    dags = visible_active_dags(access, profile)
    if pattern:
        dags = dags.filter(dag_id__icontains=pattern)
    if paused is not None:
        dags = dags.filter(is_paused=paused)
    for tag in tags or []:
        dags = dags.filter(carries_tag(tag))
    return dags


def panel_run(dag: Dag, run_id: str) -> Run:
    """The panel's record of a run (a stand-in when the poller has not seen it yet)."""
    found = Run.objects.select_related("profile").filter(
        profile=dag.profile, dag_id=dag.dag_id, dag_run_id=run_id
    )
    return found.first() or Run(profile=dag.profile, dag_id=dag.dag_id, dag_run_id=run_id)
