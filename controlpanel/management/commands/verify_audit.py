"""``manage.py verify_audit``: check that no audit event was edited, removed or reordered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit_chain import ChainReport, verify_chain


class Command(BaseCommand):
    """Recompute the audit trail's chain and compare it with the checkpoints; exit 1 if broken."""

    help = (
        "Check the audit trail's HMAC chain and compare it with every signed checkpoint in "
        "AUDIT_CHECKPOINT_DIR: report the first event that was changed or removed, or the "
        "newest checkpoint a wiped or shortened trail contradicts, and exit with status 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--quiet`` for cron and monitoring; ``--checkpoint-dir`` to read another copy."""
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="Print nothing when the trail is intact; problems are still reported.",
        )
        parser.add_argument(
            "--checkpoint-dir",
            default=None,
            help="Read checkpoints from this directory instead of AUDIT_CHECKPOINT_DIR.",
        )

    def handle(
        self, *args: Any, quiet: bool = False, checkpoint_dir: str | None = None, **options: Any
    ) -> None:
        """Verify the chain; a broken one becomes a CommandError, which exits with 1."""
        report = verify_chain(checkpoint_dir)
        if report.ok:
            if not quiet:
                self.stdout.write(f"Audit trail intact: {report.checked} events{_agreed(report)}")
            return
        if report.broken_event_id is None:
            # Every event is gone (or a checkpoint file is bad), yet something remembers them.
            raise CommandError(f"Audit trail broken: {report.problem}.")
        raise CommandError(
            f"Audit trail broken at event {report.broken_event_id}: {report.problem}. "
            f"The {report.checked} events before it are intact."
            + (
                f" The newest checkpoint it contradicts: {report.contradicted.name}."
                if report.contradicted and report.contradicted.name not in report.problem
                else ""
            )
        )


def _agreed(report: ChainReport) -> str:
    """How many checkpoints the trail agrees with, when there are any."""
    if not report.checkpoints:
        return ""
    newest = report.checkpoints[-1]
    return f" (agrees with {len(report.checkpoints)} checkpoints, the newest {newest.name})"
