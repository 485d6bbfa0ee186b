"""Permission rules asked about many users or teams at once, as queries.

``Access`` answers for one user; these answer for every user in a list, or every team, so
lists and notifications need no query per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q

from controlpanel.models import AirflowProfile, Dag, DagGrant

from .matching import grant_matches

APP = "controlpanel"


def is_auditor_expression(user_ref: Any = None) -> Exists:
    """True for users who hold the audit-reviewer permission (as ``Access.is_auditor``).

    For lists of users: annotate with it instead of asking each user (one query).
    """
    user_ref = user_ref if user_ref is not None else OuterRef("pk")
    held = Q(group__user=user_ref) | Q(user=user_ref)
    return Exists(
        Permission.objects.filter(held, codename="review_audit", content_type__app_label=APP)
    )


def teams_seeing_dags(profile: AirflowProfile, dag_ids: Iterable[str]) -> dict[str, set[int]]:
    """dag id -> ids of the teams whose grants let them view that DAG of ``profile``.

    The team-wide form of ``Access.can(VIEW)``: any grant selecting a DAG lets its team see
    it. Notifications ask it so a team never hears of a DAG it may not see. Two queries
    however many DAGs: the profile's grants and the DAGs' catalog tags.
    """
    wanted = set(dag_ids)
    grants = list(DagGrant.objects.filter(profile=profile))
    tags = dict(
        Dag.objects.filter(profile=profile, dag_id__in=wanted).values_list("dag_id", "tags")
    )
    return {
        dag_id: {g.team_id for g in grants if grant_matches(g, dag_id, tags.get(dag_id) or [])}
        for dag_id in wanted
    }
