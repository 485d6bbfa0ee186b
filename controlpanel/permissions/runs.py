"""Which runs a user may see: the runs of the DAGs they may see, or every run for audit
reviewers (who read all history without any DAG right)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from controlpanel.models import Run

from .grants import DagRights


class RunRights(DagRights):
    """The runs the user may see, built on the DAGs they may see."""

    def visible_runs(self) -> QuerySet[Run]:
        """Runs the user may see: of visible DAGs, or every run for audit reviewers."""
        runs = Run.objects.select_related("profile", "triggered_by", "approved_by")
        if self.can_review_audit:
            return runs
        same_dag = self.visible_dags().filter(
            profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id")
        )
        return runs.filter(Exists(same_dag))

    def may_see_run(self, run: Run) -> bool:
        """True when the user may open the run's page."""
        return self.visible_runs().filter(pk=run.pk).exists()
