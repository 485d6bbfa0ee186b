"""Reads shared by the web pages and the API (the writes live in ``services``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from controlpanel.models import AuditEvent

AUDIT_CSV_COLUMNS = [
    "id",
    "created_at",
    "actor_username",
    "token_prefix",
    "source",
    "ip_address",
    "action",
    "profile_slug",
    "dag_id",
    "dag_run_id",
    "outcome",
    "message",
    "payload",
    "request_id",
    "hash",
]


def audit_events(
    *,
    actor: str = "",
    team: str = "",
    profile: str = "",
    dag_id: str = "",
    dag_run_id: str = "",
    action: str = "",
    outcome: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events matching every given filter, newest first; each uses an indexed column.

    ``team`` selects events by the team's members; ``until`` is exclusive.
    """
    events = AuditEvent.objects.order_by("-id")
    exact = {
        "actor_username": actor,
        "profile_slug": profile,
        "dag_id": dag_id,
        "dag_run_id": dag_run_id,
        "action": action,
        "outcome": outcome,
    }
    events = events.filter(**{column: value for column, value in exact.items() if value})
    if team:
        members = get_user_model().objects.filter(team_memberships__team__slug=team)
        events = events.filter(actor_id__in=members.values("pk"))
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events


class _Echo:
    """A file-like object whose ``write`` hands the line back, for csv.writer streaming."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV lines, oldest first, read from the database in chunks.

    A million events stream without ever sitting in memory.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_CSV_COLUMNS)
    for event in events.order_by("id").iterator(chunk_size=2000):
        yield writer.writerow([_csv_cell(event, column) for column in AUDIT_CSV_COLUMNS])


def _csv_cell(event: AuditEvent, column: str) -> Any:
    value = getattr(event, column)
    if column == "payload":
        value = json.dumps(value, sort_keys=True, default=str)
    elif column == "created_at":
        value = value.isoformat()
    if value is None:
        return ""
    # Neutralise spreadsheet formulas (CSV injection): a leading = + - @ gets a quote.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
