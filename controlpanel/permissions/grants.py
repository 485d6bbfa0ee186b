"""DAG rights from team grants: the level a user holds on a DAG, and the DAGs and profiles
they may see.

Rights come from team grants (team x profile x DAG selector x level); a user's rights are
the union of their teams' grants, and panel admins hold every level on every DAG. Which
DAGs a grant selects is the one rule in ``matching``. A DAG the user may not see is 404,
the same as one that does not exist; one they may see but not act on is 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404

from controlpanel.models import LEVEL_RANK, AirflowProfile, Dag, DagGrant, Level

from .core import ACTION_LEVEL, LEVELS_BY_RANK, ActionDenied, DagAction
from .matching import dags_granted_by, grant_matches
from .roles import PanelRoles


@dataclass
class DagRights(PanelRoles):
    """What the user may see and do on DAGs, from their teams' grants (loaded once)."""

    _grants: list[DagGrant] | None = field(default=None, repr=False)

    def grants(self) -> list[DagGrant]:
        """Every grant of every team the user belongs to."""
        if self._grants is None:
            if not self.is_authenticated:
                self._grants = []
            else:
                self._grants = list(
                    DagGrant.objects.filter(team__memberships__user=self.user)
                    .select_related("profile")
                    .distinct()
                )
        return self._grants

    def dag_level(
        self, profile: AirflowProfile | int, dag_id: str, tags: Iterable[str] = ()
    ) -> Level | None:
        """The highest level the user holds on one DAG, or None when they may not see it."""
        if self.is_superuser:
            return Level.OPERATE
        profile_id = profile if isinstance(profile, int) else profile.pk
        tag_list = list(tags)
        best: Level | None = None
        for grant in self.grants():
            if grant.profile_id == profile_id and grant_matches(grant, dag_id, tag_list):
                level = Level(grant.level)
                if best is None or LEVEL_RANK[level] > LEVEL_RANK[best]:
                    best = level
        return best

    def dag_permissions(self, dag: Dag) -> list[str]:
        """The levels the user holds on a DAG, lowest first: ["view", "trigger"]."""
        level = self.dag_level(dag.profile_id, dag.dag_id, dag.tags)
        if level is None:
            return []
        return [lv.value for lv in LEVELS_BY_RANK if LEVEL_RANK[lv] <= LEVEL_RANK[level]]

    def can(self, action: DagAction, dag: Dag) -> bool:
        """May the user do ``action`` on this DAG (and its runs)?"""
        level = self.dag_level(dag.profile_id, dag.dag_id, dag.tags)
        return level is not None and LEVEL_RANK[level] >= LEVEL_RANK[ACTION_LEVEL[action]]

    def visible_dags(self, profile: AirflowProfile | None = None) -> QuerySet[Dag]:
        """The catalog DAGs the user may see, as one query however many DAGs there are."""
        dags = Dag.objects.select_related("profile").filter(profile__is_active=True)
        if profile is not None:
            dags = dags.filter(profile=profile)
        if self.is_superuser:
            return dags
        grants = self.grants()
        if not grants:
            return dags.none()
        return dags.filter(dags_granted_by(grants))

    def visible_profiles(self) -> QuerySet[AirflowProfile]:
        """Profiles the user has a grant on (all for superusers)."""
        if self.is_superuser:
            return AirflowProfile.objects.all()
        return AirflowProfile.objects.filter(pk__in={g.profile_id for g in self.grants()})

    def get_dag(self, profile_slug: str, dag_id: str, action: DagAction = DagAction.VIEW) -> Dag:
        """The DAG if the user may see it (else 404) and do ``action`` (else ActionDenied)."""
        dag = (
            Dag.objects.select_related("profile")
            .filter(profile__slug=profile_slug, profile__is_active=True, dag_id=dag_id)
            .first()
        )
        if dag is None or not self.can(DagAction.VIEW, dag):
            raise Http404("No such DAG.")
        if not self.can(action, dag):
            needed = ACTION_LEVEL[action].value
            raise ActionDenied(
                f"You may see {dag.dag_id} but not {action.value.replace('_', ' ')} it: "
                f"that needs the '{needed}' level."
            )
        return dag
