"""``manage.py prune_history``: forget finished runs older than the retention period.

Run history (runs, task instances, state changes) is pruned; the audit trail never is: it
is append-only and its hash chain would break.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from controlpanel.audit import Actor, Outcome, record_event
from controlpanel.models import Run, StateChange, TaskInstance


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
        cutoff = timezone.now() - timedelta(days=days)
        runs = Run.objects.filter(is_finished=True, end_date__lt=cutoff)
        counts = {
            "runs": runs.count(),
            "task_instances": TaskInstance.objects.filter(run__in=runs).count(),
            "state_changes": StateChange.objects.filter(run__in=runs).count(),
        }
        if options["dry_run"]:
            self.stdout.write(f"Would delete, ended before {cutoff:%Y-%m-%d}: {counts}")
            return
        with transaction.atomic():
            runs.delete()
            record_event(
                Actor.system(source="cli"),
                "history.prune",
                outcome=Outcome.SUCCEEDED,
                payload={"days": days, "cutoff": cutoff.isoformat(), **counts},
            )
        self.stdout.write(f"Deleted, ended before {cutoff:%Y-%m-%d}: {counts}")
