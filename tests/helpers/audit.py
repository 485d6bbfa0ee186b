"""Audit trail helpers: events as users leave them, old-style events, and changes made
behind the app's back the way someone with database access could make them."""

from __future__ import annotations

import io
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from controlpanel.audit import Actor, record_event
from controlpanel.models import AuditChainHead, AuditEvent

TABLE = AuditEvent._meta.db_table
HEAD_TABLE = AuditChainHead._meta.db_table


def record_events(count: int) -> list[AuditEvent]:
    """``count`` events as a web user might leave them."""
    return [
        record_event(
            Actor(username=f"user{n}", ip_address="192.0.2.10"),
            "dag.trigger",
            outcome=AuditEvent.Outcome.SUCCEEDED,
            profile="prod",
            dag_id="finance_daily",
            payload={"conf": {"day": f"2026-11-{n + 10}"}},
        )
        for n in range(count)
    ]


def record_legacy_events(count: int) -> list[AuditEvent]:
    """``count`` events as the panel wrote them before the keyed chain: plain SHA-256."""
    events = []
    for n in range(count):
        with transaction.atomic():
            head, _ = AuditChainHead.objects.get_or_create(pk=1)
            event = AuditEvent(
                created_at=timezone.now(),
                actor_username=f"old{n}",
                source=AuditEvent.Source.WEB,
                action="dag.pause",
                dag_id="finance_daily",
                outcome=AuditEvent.Outcome.SUCCEEDED,
                prev_hash=head.last_hash,
                algorithm=AuditEvent.Algorithm.SHA256,
            )
            event.hash = event.compute_hash()
            event.save()
            AuditChainHead.objects.filter(pk=1).update(
                last_hash=event.hash, event_count=head.event_count + 1
            )
        events.append(event)
    return events


def raw_sql(sql: str, params: list[Any] | None = None) -> None:
    """Change the tables behind the app's back, as someone with database access could."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def set_head(count: int, last_hash: str) -> None:
    """Make the chain head row agree with a changed trail (the database writer's last step)."""
    raw_sql(
        f"UPDATE {HEAD_TABLE} SET event_count = %s, last_hash = %s WHERE id = 1",  # noqa: S608
        [count, last_hash],
    )


def verify_audit(*args: str) -> tuple[int, str, str]:
    """Run ``verify_audit``: the exit code manage.py would give, stdout, and the error.

    manage.py turns a CommandError into its ``returncode`` on stderr; in-process keeps the
    test database (run_from_argv would close its connection).
    """
    out = io.StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), ""


def audit_checkpoint(*args: str) -> tuple[int, str, str]:
    """Run ``audit_checkpoint`` the same way."""
    out = io.StringIO()
    try:
        call_command("audit_checkpoint", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), ""
