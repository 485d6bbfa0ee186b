"""``manage.py verify_audit``: check that no audit event was edited, removed or reordered.

By default from the newest checkpoint on (seconds at a million events); ``--full`` from the
first event, comparing every checkpoint.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit_chain import ChainReport, verify_chain


class Command(BaseCommand):
    """Check the audit trail's chain (from the newest checkpoint, or in full); exit 1 if broken."""

    help = (
        "Check the audit trail's HMAC chain: from the newest signed checkpoint in "
        "AUDIT_CHECKPOINT_DIR on (its event, count and hash must still hold), or with --full "
        "every link and every checkpoint. Report the first event that was changed or removed, "
        "or the newest checkpoint a wiped or shortened trail contradicts, and exit with 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--full``, ``--quiet`` for cron and monitoring, ``--checkpoint-dir``."""
        parser.add_argument(
            "--full",
            action="store_true",
            help="Recompute every link from the first event and compare every checkpoint.",
        )
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
        self,
        *args: Any,
        full: bool = False,
        quiet: bool = False,
        checkpoint_dir: str | None = None,
        **options: Any,
    ) -> None:
        """Verify the chain; a broken one becomes a CommandError, which exits with 1."""
        report = verify_chain(checkpoint_dir, full=full)
        if report.ok:
            if not quiet:
                self.stdout.write(f"Audit trail intact: {report.checked} events{_how_far(report)}")
            return
        if report.broken_event_id is None:
            # Every event is gone (or a checkpoint file is bad), yet something remembers them.
            raise CommandError(f"Audit trail broken: {report.problem}.{_go_full(report)}")
        raise CommandError(
            f"Audit trail broken at event {report.broken_event_id}: {report.problem}."
            + _intact_before(report)
            + (
                f" The newest checkpoint it contradicts: {report.contradicted.name}."
                if report.contradicted and report.contradicted.name not in report.problem
                else ""
            )
            + _go_full(report)
        )


def _how_far(report: ChainReport) -> str:
    """What was checked: every link and checkpoint, or the links after the newest one."""
    start = report.resumed_from
    if start is not None:
        after = report.recomputed - 1
        return (
            f". Checked from checkpoint {start.name} on: its event {start.last_id} and the "
            f"{after} events after it; the {start.count} events it counts were verified when "
            "it was written (--full checks them all again)."
        )
    if not report.checkpoints:
        return ""
    newest = report.checkpoints[-1]
    return f" (agrees with {len(report.checkpoints)} checkpoints, the newest {newest.name})"


def _intact_before(report: ChainReport) -> str:
    """Which events before the broken one are known to be intact."""
    start = report.resumed_from
    if start is None:
        return f" The {report.checked} events before it are intact."
    if report.broken_event_id == start.last_id:
        return ""
    return f" The events from checkpoint {start.name} (event {start.last_id}) to it are intact."


def _go_full(report: ChainReport) -> str:
    """After an incremental check: how to look at the events before the checkpoint."""
    if report.resumed_from is None:
        return ""
    return " Run verify_audit --full to check every event from the first."
