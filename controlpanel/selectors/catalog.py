"""The DAG catalog as people may see it: filtered, with each DAG's newest run."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Q, QuerySet, Subquery

from controlpanel.models import Dag, Run
from controlpanel.permissions import Access, carries_tag


@dataclass(frozen=True)
class DagFilters:
    """What the catalog page and ``GET /api/dags/`` filter by (empty: no filter).

    ``search`` looks in the DAG id, display name and description; ``tag`` is one exact tag.
    """

    search: str = ""
    tag: str = ""
    profile: str = ""
    paused: bool | None = None


# What a catalog row shows (page and API): the sort then carries narrow rows, never the
# params JSON, doc_md or import errors of thousands of DAGs.
CATALOG_COLUMNS = (
    "profile_id",
    "dag_id",
    "display_name",
    "description",
    "tags",
    "is_paused",
    "has_import_errors",
    "profile__name",
    "profile__slug",
)


def catalog_dags(access: Access, filters: DagFilters) -> QuerySet[Dag]:
    """The active DAGs ``access`` may see that match ``filters``, by profile and DAG id.

    Only the columns a catalog row shows are loaded (``CATALOG_COLUMNS``); take a page of
    it first, then ``last_runs`` for that page's DAGs only.
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
        dags = dags.filter(carries_tag(filters.tag))
    if filters.profile:
        dags = dags.filter(profile__slug=filters.profile)
    if filters.paused is not None:
        dags = dags.filter(is_paused=filters.paused)
    return dags.only(*CATALOG_COLUMNS).order_by("profile__name", "dag_id")


def last_runs(dags: list[Dag]) -> dict[int, Run]:
    """DAG pk -> its newest run, for the DAGs of one page (two queries).

    The newest run is looked up for these DAGs alone (one index probe each), never for
    every DAG the filter matches.
    """
    if not dags:
        return {}
    runs_of_dag = Run.objects.filter(
        profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id")
    ).order_by("-created_at", "-id")
    page_dags = Dag.objects.filter(pk__in=[d.pk for d in dags]).order_by()
    newest = Subquery(runs_of_dag.values("id")[:1])
    run_ids = page_dags.annotate(run_id=newest).values_list("pk", "run_id")
    dag_of_run = {run_id: dag_pk for dag_pk, run_id in run_ids if run_id is not None}
    return {dag_of_run[run.pk]: run for run in Run.objects.filter(pk__in=list(dag_of_run))}


def catalog_tags(access: Access) -> list[str]:
    """Every tag of the active DAGs ``access`` may see, sorted (the tag filter's choices).

    Reads the distinct tag lists only: a few rows even for thousands of DAGs.
    """
    visible = access.visible_dags().filter(is_active=True).order_by()
    tag_lists = visible.values_list("tags", flat=True).distinct()
    return sorted({tag for tags in tag_lists for tag in tags})


def dag_of(run: Run) -> Dag:
    """The catalog entry of a run's DAG (an unsaved stand-in when the catalog lacks it)."""
    dag = Dag.objects.filter(profile=run.profile, dag_id=run.dag_id).first()
    return dag or Dag(profile=run.profile, dag_id=run.dag_id, tags=[])


def newest_run(dag: Dag) -> Run | None:
    """The DAG's most recent run the panel knows of."""
    runs = Run.objects.filter(profile=dag.profile, dag_id=dag.dag_id)
    return runs.order_by("-created_at", "-id").first()
