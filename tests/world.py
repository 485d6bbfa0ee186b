"""The standard world of the permission tests: two profiles, DAGs, teams and personas.

Personas (every one can log in with ``factories.PASSWORD``):
- ``superuser``: panel admin, may do everything.
- ``team_admin``: team admin of *finance-viewers* (so: view on prod finance_* DAGs).
- ``viewer``: member of *finance-viewers*: view on prod DAGs matching ``finance_*``.
- ``operator``: member of *finance-triggerers*: trigger on prod ``finance_daily`` (by id).
- ``operate_user``: member of *etl-ops*: operate on prod DAGs tagged ``etl``.
- ``auditor``: audit reviewer, in no team.
- ``outsider``: logged in, in no team.
- ``anonymous``: not logged in (``None``).
Both profiles carry a DAG called ``finance_daily``: grants on *prod* must not leak *staging*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from controlpanel.models import AUDITORS_GROUP, AirflowProfile, Dag, Team, TeamMembership
from tests.factories import (
    DagFactory,
    GrantFactory,
    MembershipFactory,
    ProfileFactory,
    TeamFactory,
    UserFactory,
)

User = get_user_model()

PERSONAS = (
    "superuser",
    "team_admin",
    "operator",
    "viewer",
    "operate_user",
    "auditor",
    "outsider",
    "anonymous",
)


@dataclass
class World:
    """Everything ``build_world`` made, by name."""

    users: dict[str, Any]
    prod: AirflowProfile
    staging: AirflowProfile
    dags: dict[str, Dag]  # "prod/finance_daily" -> Dag
    teams: dict[str, Any]  # slug -> Team

    def dag(self, key: str) -> Dag:
        """A DAG by "profile/dag_id"."""
        return self.dags[key]

    def reloaded(self) -> World:
        """The same world read afresh from the database (four queries).

        A world shared by the tests of a module is built once; each test gets its own Python
        objects, so what one test changes on them (and rolls back) never reaches the next.
        """
        users = User.objects.in_bulk([u.pk for u in self.users.values() if u is not None])
        profiles = AirflowProfile.objects.in_bulk([self.prod.pk, self.staging.pk])
        dags = Dag.objects.in_bulk([d.pk for d in self.dags.values()])
        teams = Team.objects.in_bulk([t.pk for t in self.teams.values()])
        return World(
            users={n: None if u is None else users[u.pk] for n, u in self.users.items()},
            prod=profiles[self.prod.pk],
            staging=profiles[self.staging.pk],
            dags={key: dags[d.pk] for key, d in self.dags.items()},
            teams={slug: teams[t.pk] for slug, t in self.teams.items()},
        )


def make_auditor(user: Any) -> None:
    """Put ``user`` in the audit reviewers group (with its permission)."""
    group, _ = Group.objects.get_or_create(name=AUDITORS_GROUP)
    group.permissions.add(Permission.objects.get(codename="review_audit"))
    user.groups.add(group)


def build_world() -> World:
    """Create the standard world in the test database."""
    prod = ProfileFactory.create(slug="prod", name="Production")
    staging = ProfileFactory.create(slug="staging", name="Staging")
    dags = {}
    for profile, dag_id, tags in [
        (prod, "finance_daily", ["finance"]),
        (prod, "finance_monthly", ["finance", "reporting"]),
        (prod, "marketing_sync", ["marketing"]),
        (prod, "orders_etl", ["etl"]),
        (staging, "finance_daily", ["finance"]),
        (staging, "orders_etl", ["etl"]),
    ]:
        dags[f"{profile.slug}/{dag_id}"] = DagFactory.create(
            profile=profile, dag_id=dag_id, tags=tags
        )

    users = {name: UserFactory.create(username=name) for name in PERSONAS if name != "anonymous"}
    users["anonymous"] = None
    users["superuser"].is_superuser = users["superuser"].is_staff = True
    users["superuser"].save()
    make_auditor(users["auditor"])

    viewers = TeamFactory.create(slug="finance-viewers", name="Finance viewers")
    triggerers = TeamFactory.create(slug="finance-triggerers", name="Finance triggerers")
    ops = TeamFactory.create(slug="etl-ops", name="ETL operations")
    GrantFactory.create(team=viewers, profile=prod, dag_patterns=["finance_*"], level="view")
    GrantFactory.create(team=triggerers, profile=prod, dag_ids=["finance_daily"], level="trigger")
    GrantFactory.create(team=ops, profile=prod, tags=["etl"], level="operate")
    MembershipFactory.create(team=viewers, user=users["team_admin"], role=TeamMembership.Role.ADMIN)
    MembershipFactory.create(team=viewers, user=users["viewer"])
    MembershipFactory.create(team=triggerers, user=users["operator"])
    MembershipFactory.create(team=ops, user=users["operate_user"])
    return World(
        users=users,
        prod=prod,
        staging=staging,
        dags=dags,
        teams={"finance-viewers": viewers, "finance-triggerers": triggerers, "etl-ops": ops},
    )
