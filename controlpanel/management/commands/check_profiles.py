"""``manage.py check_profiles``: test every active connection profile, for cron and deploys."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.models import AirflowProfile
from controlpanel.services.profiles import check_connection


class Command(BaseCommand):
    """Print one line per profile; exit 1 when any profile cannot be used."""

    help = "Test the connection of every active profile (or --profile SLUG); exit 1 on problems."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--profile", action="append", help="only this profile (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        profiles = AirflowProfile.objects.filter(is_active=True)
        if options["profile"]:
            profiles = AirflowProfile.objects.filter(slug__in=options["profile"])
            missing = set(options["profile"]) - {p.slug for p in profiles}
            if missing:
                raise CommandError(f"No profile called {', '.join(sorted(missing))}.")
        failed = []
        for profile in profiles:
            report = check_connection(profile)
            status = "ok" if report.ok else "PROBLEM"
            self.stdout.write(f"{profile.slug}: {status}: {report.summary()}")
            for warning in report.warnings:
                self.stdout.write(f"  - {warning}")
            if not report.ok:
                failed.append(profile.slug)
        if failed:
            raise CommandError(f"{len(failed)} profile(s) cannot be used: {', '.join(failed)}")
