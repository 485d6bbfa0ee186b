"""``manage.py setup_demo``: connect the panel to the local demo Airflow, with demo people.

Used by ``scripts/run`` and, in docker-compose's ``demo`` profile, by hand (README). Safe to
run again: what exists is kept, the profile's URL and password are brought up to date. The
demo users' passwords are kept in ``--passwords-file``; without one (a throwaway container)
they are only printed, and each run gives the demo users new ones. Everything goes through
the services, so the audit trail shows the setup like any admin's work.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, DagGrant, Team, TeamMembership
from controlpanel.services import catalog, profiles, teams
from dags_api import AirflowError

DEMO_PEOPLE = ("teamadmin", "operator", "auditor")


class Command(BaseCommand):
    """Create (or refresh) the demo profile, team, grants and users."""

    help = "Connect the panel to the demo Airflow and create demo users, a team and grants."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--airflow-url", required=True)
        parser.add_argument("--airflow-user", default="admin")
        parser.add_argument("--airflow-password", required=True)
        parser.add_argument("--admin", default="admin", help="the panel superuser acting")
        parser.add_argument(
            "--catalog-in-background",
            action="store_true",
            help="leave reading the DAG list to the Celery worker instead of waiting for it",
        )
        parser.add_argument(
            "--passwords-file",
            type=Path,
            default=None,
            help="where the demo users' passwords are kept (made once); default: print only",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        admin = (
            get_user_model().objects.filter(username=options["admin"], is_superuser=True).first()
        )
        if admin is None:
            raise CommandError(f"No superuser named {options['admin']!r}: create it first.")
        actor = Actor(user=admin, source="cli")
        with transaction.atomic():
            existed = AirflowProfile.objects.filter(slug="demo").exists()
            profile = self._profile(actor, options)
            if options["catalog_in_background"] and existed:
                # A new profile queues its own sync. At a first start Airflow's web server has
                # just come up: reading the DAGs here as well, beside the worker, doubles the wait.
                catalog.sync_catalog_after_commit(profile)
        if options["catalog_in_background"]:
            dags = "its DAG list is being read by the worker"
        else:
            dags = f"{self._read_catalog(profile)} DAGs"
        passwords = self._people(options["passwords_file"])
        self._team(actor, profile, passwords)
        self.stdout.write(f"Demo profile '{profile.slug}' -> {profile.base_url}: {dags}")
        for name, password in passwords.items():
            self.stdout.write(f"  {name} / {password}")

    def _read_catalog(self, profile: AirflowProfile) -> int:
        """Read the demo Airflow's DAGs now; how many there are."""
        try:
            synced = catalog.refresh_catalog(profile)
        except AirflowError as exc:
            raise CommandError(f"The demo Airflow did not answer: {exc.user_message}") from exc
        return synced.created + synced.updated + synced.unchanged

    def _profile(self, actor: Actor, options: dict[str, Any]) -> AirflowProfile:
        existing = AirflowProfile.objects.filter(slug="demo").first()
        fields = {
            "base_url": options["airflow_url"],
            "username": options["airflow_user"],
            "allow_insecure_http": True,
            "is_active": True,
        }
        if existing:
            password = options["airflow_password"]
            changed_secret = password if existing.reveal_secret() != password else None
            return profiles.update_profile(actor, existing, new_secret=changed_secret, **fields)
        return profiles.create_profile(
            actor,
            name="Demo Airflow",
            slug="demo",
            auth_type="basic",
            secret=options["airflow_password"],
            timeout_seconds=15,
            **fields,
        )

    def _people(self, path: Path | None) -> dict[str, str]:
        """The demo users, with passwords made once and kept in ``path`` (mode 600) if given."""
        known = (
            dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
            if path and path.exists()
            else {}
        )
        users = get_user_model().objects
        for name in DEMO_PEOPLE:
            password = known.get(name) or secrets.token_urlsafe(9)
            user, created = users.get_or_create(
                username=name, defaults={"email": f"{name}@example.invalid"}
            )
            if created or name not in known:
                user.set_password(password)
                user.save()
            known[name] = password
        if path is None:
            return {name: known[name] for name in DEMO_PEOPLE}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{n} {p}\n" for n, p in known.items()))
        path.chmod(0o600)
        return {name: known[name] for name in DEMO_PEOPLE}

    def _team(self, actor: Actor, profile: AirflowProfile, passwords: dict[str, str]) -> None:
        users = {u.username: u for u in get_user_model().objects.filter(username__in=passwords)}
        team = Team.objects.filter(slug="data-ops").first() or teams.create_team(
            actor,
            name="Data operations",
            slug="data-ops",
            description="Runs the demo pipelines.",
        )
        for name, role in (("teamadmin", "admin"), ("operator", "member")):
            if not TeamMembership.objects.filter(team=team, user=users[name]).exists():
                teams.add_member(actor, team, users[name], role)
        if not DagGrant.objects.filter(team=team, profile=profile).exists():
            teams.add_grant(
                actor,
                team,
                profile=profile,
                dag_ids=[],
                dag_patterns=["cp_*"],
                tags=[],
                level="trigger",
            )
            teams.add_grant(
                actor,
                team,
                profile=profile,
                dag_ids=[],
                dag_patterns=[],
                tags=["etl"],
                level="operate",
            )
        teams.set_auditor(actor, users["auditor"], True)
