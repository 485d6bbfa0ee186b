"""The DAG catalog as people may see it: filtered, with each DAG's newest run."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Q, QuerySet, Subquery

from controlpanel.models import Dag, Run
from controlpanel.permissions import Access


@dataclass(frozen=True)
class DagFilters:
    """What the catalog page and ``GET /api/dags/`` filter by (empty: no filter).

    ``search`` looks in the DAG id, display name and description; ``tag`` is one exact tag.
    """

    search: str = ""
    tag: str = ""
    profile: str = ""
    paused: bool | None = None


def catalog_dags(access: Access, filters: DagFilters) -> QuerySet[Dag]:
    """The active DAGs ``access`` may see that match ``filters``, by profile and DAG id.

    Each carries ``last_run_id`` (its newest run, or None); ``last_runs`` fetches those
    runs for a page in one query.
    """
    dags = access.visible_dags().filter(is_active=True)
    if filters.search:
        words = filters.search
        dags = dags.filter(
            Q(dag_id__icontains=words)
            | Q(display_name__icontains=words)
            | Q(description__icontains=words)
        )
    if filters.tag:
        dags = dags.filter(tag_index__contains=f"|{filters.tag}|")
    if filters.profile:
        dags = dags.filter(profile__slug=filters.profile)
    if filters.paused is not None:
        dags = dags.filter(is_paused=filters.paused)
    newest = Run.objects.filter(profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id"))
    newest = newest.order_by("-created_at", "-id")
    return dags.annotate(last_run_id=Subquery(newest.values("id")[:1])).order_by(
        "profile__name", "dag_id"
    )


def last_runs(dags: list[Dag]) -> dict[int, Run]:
    """run id -> run, for the ``last_run_id`` of each DAG of one page (one query)."""
    ids = [run_id for d in dags if (run_id := getattr(d, "last_run_id", None))]
    return {run.pk: run for run in Run.objects.filter(pk__in=ids)}


def catalog_tags(access: Access) -> list[str]:
    """Every tag of the active DAGs ``access`` may see, sorted (the tag filter's choices)."""
    tag_lists = access.visible_dags().filter(is_active=True).values_list("tags", flat=True)
    return sorted({tag for tags in tag_lists for tag in tags})


def dag_of(run: Run) -> Dag:
    """The catalog entry of a run's DAG (an unsaved stand-in when the catalog lacks it)."""
    dag = Dag.objects.filter(profile=run.profile, dag_id=run.dag_id).first()
    return dag or Dag(profile=run.profile, dag_id=run.dag_id, tags=[])


def newest_run(dag: Dag) -> Run | None:
    """The DAG's most recent run the panel knows of."""
    runs = Run.objects.filter(profile=dag.profile, dag_id=dag.dag_id)
    return runs.order_by("-created_at", "-id").first()
