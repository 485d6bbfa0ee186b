"""``manage.py prune_history``: forget finished runs older than the retention period.

Run history (runs, task instances, state changes) is pruned; the audit trail never is: it
is append-only and its hash chain would break.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit import Actor
from controlpanel.services import maintenance


class Command(BaseCommand):
    """Delete finished runs that ended more than N days ago, with their history."""

    help = "Delete finished runs (and their task history) older than HISTORY_RETENTION_DAYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="override HISTORY_RETENTION_DAYS"
        )
        parser.add_argument("--dry-run", action="store_true", help="only count")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.HISTORY_RETENTION_DAYS
        if days <= 0:
            raise CommandError("Retention is 0 (keep forever): pass --days N to prune.")
        if options["dry_run"]:
            prune = maintenance.history_to_prune(days)
            self.stdout.write(f"Would delete, ended before {prune.cutoff:%Y-%m-%d}: {prune.counts}")
            return
        prune = maintenance.prune_history(Actor.system(source="cli"), days)
        self.stdout.write(f"Deleted, ended before {prune.cutoff:%Y-%m-%d}: {prune.counts}")
