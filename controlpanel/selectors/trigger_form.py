"""What the trigger form reads: the runs whose conf it may load back."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from controlpanel.models import Dag, Run
from controlpanel.permissions import Access

RECENT_CONFS = 10


def runs_to_copy(access: Access, dag: Dag, user_id: int | None) -> list[Run]:
    """The user's and their teammates' recent runs of the DAG, newest first."""
    teams = list(access.memberships())
    mine = Q(triggered_by_id=user_id) | Q(triggered_by__team_memberships__team_id__in=teams)
    runs = access.visible_runs().filter(profile=dag.profile, dag_id=dag.dag_id).filter(mine)
    return list(runs.distinct().order_by("-created_at", "-id")[:RECENT_CONFS])


def conf_of_run(access: Access, dag: Dag, run_pk: int) -> dict[str, Any] | None:
    """The conf of one visible run of the DAG, to fill the form with; None if there is none."""
    run = access.visible_runs().filter(pk=run_pk, profile=dag.profile, dag_id=dag.dag_id).first()
    return run.conf if run is not None and isinstance(run.conf, dict) else None
