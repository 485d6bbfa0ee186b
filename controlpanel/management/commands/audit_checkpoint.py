"""``manage.py audit_checkpoint``: sign the audit trail's count and head into a file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from controlpanel.audit_chain import write_checkpoint


class Command(BaseCommand):
    """Write a signed checkpoint of the audit trail, after verifying it; exit 1 if broken."""

    help = (
        "Verify the audit trail from the newest checkpoint on (--full: from the first event), "
        "then write a signed checkpoint (event count, last event id, head hash, time) to "
        "AUDIT_CHECKPOINT_DIR. A broken trail gets no checkpoint and exits with status 1. "
        "The Celery beat does this every AUDIT_CHECKPOINT_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``--full`` to verify from the first event; ``--checkpoint-dir`` to write elsewhere."""
        parser.add_argument(
            "--full",
            action="store_true",
            help="Verify every link from the first event before writing.",
        )
        parser.add_argument(
            "--checkpoint-dir",
            default=None,
            help="Write the checkpoint here instead of AUDIT_CHECKPOINT_DIR.",
        )

    def handle(
        self, *args: Any, full: bool = False, checkpoint_dir: str | None = None, **options: Any
    ) -> None:
        """Write the checkpoint, or say the trail has not changed since the newest one."""
        result = write_checkpoint(checkpoint_dir, full=full)
        report = result.report
        if result.checkpoint is None:
            raise CommandError(
                f"Audit trail broken, no checkpoint written: {report.problem}"
                + (f" (at event {report.broken_event_id})." if report.broken_event_id else ".")
            )
        if not result.written:
            self.stdout.write(
                f"Audit trail unchanged since checkpoint {result.checkpoint.name}: "
                f"{report.checked} events."
            )
            return
        self.stdout.write(
            f"Checkpoint written: {result.checkpoint.path} ({report.checked} events, "
            f"last event {report.last_id})."
        )
