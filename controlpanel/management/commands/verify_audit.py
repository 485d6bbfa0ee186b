"""``manage.py verify_audit``: check that no audit event was edited, removed or reordered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit import verify_chain


class Command(BaseCommand):
    """Recompute the audit trail's hash chain; exit 1 at the first broken link."""

    help = (
        "Check the audit trail's hash chain: report the first event that was changed or "
        "removed, and exit with status 1 if there is one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--quiet``: print nothing when the trail is intact (for cron and monitoring)."""
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="Print nothing when the trail is intact; problems are still reported.",
        )

    def handle(self, *args: Any, quiet: bool = False, **options: Any) -> None:
        """Verify the chain; a broken one becomes a CommandError, which exits with 1."""
        report = verify_chain()
        if report.ok:
            if not quiet:
                self.stdout.write(f"Audit trail intact: {report.checked} events")
            return
        if report.broken_event_id is None:
            # Every event is gone, yet the chain head remembers some.
            raise CommandError(f"Audit trail broken: {report.problem}.")
        raise CommandError(
            f"Audit trail broken at event {report.broken_event_id}: {report.problem}. "
            f"The {report.checked} events before it are intact."
        )
