"""Reads shared by the web pages and the API (the writes live in ``services``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from controlpanel.models import AUDIT_ACTIONS, AuditEvent, Dag, Run, Team
from controlpanel.permissions import Access
from controlpanel.selectors.rows import plain_rows

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
    """Audit events matching every given filter, newest first by (created_at, id).

    Each filter has an index ending in (created_at, id), so a page of any filter and date
    range is a short index scan. ``team`` selects events by the team's members; ``until``
    is exclusive.
    """
    events = AuditEvent.objects.order_by("-created_at", "-id")
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


def audit_event(pk: int) -> AuditEvent:
    """One audit event by id, else 404 (the history is whole for those who may read it)."""
    return get_object_or_404(AuditEvent, pk=pk)


def action_choices(selected: str = "") -> list[tuple[str, str]]:
    """(code, plain words) of every audit action, by words; ``selected`` kept if unlisted.

    The History's action picker: the URL keeps the code, so old links still filter.
    """
    choices = sorted(AUDIT_ACTIONS.items(), key=lambda item: item[1])
    if selected and selected not in AUDIT_ACTIONS:
        choices.append((selected, selected))
    return choices


@dataclass(frozen=True)
class EventRow:
    """An audit event with the run, DAG and team it names, where they exist and may be opened."""

    event: AuditEvent
    run: Run | None = None
    dag: Dag | None = None
    team: Team | None = None


def event_rows(events: Sequence[AuditEvent], access: Access) -> list[EventRow]:
    """The events with links to what they name: three queries for any number of events.

    A link appears only when the thing still exists and the viewer may open its page (an
    audit reviewer opens every run, but only the DAGs and teams their own rights allow).
    """
    runs, dags = _runs_named(events, access), _dags_named(events, access)
    teams: dict[str, Team] = {}
    team_slugs = {_team_slug(e) for e in events} - {""}
    if team_slugs:
        found_teams = access.visible_teams().filter(slug__in=team_slugs)
        teams = {t.slug: t for t in found_teams if access.can_manage_members(t)}
    return [
        EventRow(
            event=e,
            run=runs.get((e.profile_slug, e.dag_id, e.dag_run_id)),
            dag=dags.get((e.profile_slug, e.dag_id)),
            team=teams.get(_team_slug(e)),
        )
        for e in events
    ]


def _runs_named(events: Sequence[AuditEvent], access: Access) -> dict[tuple[str, str, str], Run]:
    """(profile slug, DAG id, run id) -> the run, for the runs the events name (one query)."""
    named = [e for e in events if e.dag_run_id and e.dag_id]
    if not named:
        return {}
    runs = access.visible_runs().filter(
        profile__slug__in={e.profile_slug for e in named},
        dag_id__in={e.dag_id for e in named},
        dag_run_id__in={e.dag_run_id for e in named},
    )
    return {(r.profile.slug, r.dag_id, r.dag_run_id): r for r in runs}


def _dags_named(events: Sequence[AuditEvent], access: Access) -> dict[tuple[str, str], Dag]:
    """(profile slug, DAG id) -> the DAG, for the DAGs the events name (one query)."""
    named = [e for e in events if e.dag_id]
    if not named:
        return {}
    dags = access.visible_dags().filter(
        profile__slug__in={e.profile_slug for e in named}, dag_id__in={e.dag_id for e in named}
    )
    return {(d.profile.slug, d.dag_id): d for d in dags}


def _team_slug(event: AuditEvent) -> str:
    """The slug of the team a team, member, grant or notification event is about, or ''."""
    team = event.payload.get("team") if isinstance(event.payload, dict) else None
    return team if isinstance(team, str) else ""


def events_before(events: QuerySet[AuditEvent], before: int) -> QuerySet[AuditEvent]:
    """The events listed after event ``before`` in the newest-first order.

    A keyset on (created_at, id): the pages of a date range or filter continue along the
    same index at any depth. An id no event has (typed by hand) means "ids below it".
    """
    moment = AuditEvent.objects.filter(pk=before).values_list("created_at", flat=True).first()
    if moment is None:
        return events.filter(id__lt=before)
    return events.filter(created_at__lte=moment).exclude(created_at=moment, id__gte=before)


# Rows read per query and written per streamed chunk of the CSV.
CSV_BATCH_ROWS = 5000
CSV_CHUNK_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CREATED_AT = AUDIT_CSV_COLUMNS.index("created_at")
_PAYLOAD = AUDIT_CSV_COLUMNS.index("payload")


class _Lines:
    """A file-like object that collects what csv.writer writes until it is taken."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, value: str) -> None:
        self.parts.append(value)

    def take(self) -> str:
        text, self.parts = "".join(self.parts), []
        return text


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The events as CSV, oldest first: a header, then ~1000 rows per chunk.

    Rows are read in keyset batches by id as plain tuples, so a million events stream
    with flat memory, without a long-held cursor, and without building a model per row.
    """
    lines = _Lines()
    writer = csv.writer(lines)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for rows in _batches_by_id(events, CSV_BATCH_ROWS):
        for start in range(0, len(rows), CSV_CHUNK_ROWS):
            writer.writerows(map(_csv_row, rows[start : start + CSV_CHUNK_ROWS]))
            yield lines.take()
    if lines.parts:  # no events: the header alone
        yield lines.take()


def _batches_by_id(events: QuerySet[AuditEvent], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The export's columns of ``events`` by id, ``size`` rows per query."""
    rows = plain_rows(events.order_by("id").values_list(*AUDIT_CSV_COLUMNS)[:size])
    while rows:
        yield rows
        if len(rows) < size:
            return
        after = events.filter(id__gt=rows[-1][0])
        rows = plain_rows(after.order_by("id").values_list(*AUDIT_CSV_COLUMNS)[:size])


def _csv_row(row: tuple[Any, ...]) -> list[Any]:
    """One event's CSV cells, in the order of ``AUDIT_CSV_COLUMNS``."""
    cells = list(row)
    cells[_CREATED_AT] = cells[_CREATED_AT].isoformat()
    payload = cells[_PAYLOAD]
    cells[_PAYLOAD] = "{}" if payload == {} else _payload_json(payload)
    # Neutralise spreadsheet formulas (CSV injection): a leading = + - @ gets a quote.
    # (csv.writer writes None, an event without an IP address, as an empty cell.)
    return [
        "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
        for value in cells
    ]


# json.dumps(payload, sort_keys=True, default=str), made once for the million rows.
_payload_json = json.JSONEncoder(sort_keys=True, default=str).encode


def trigger_event(run: Run) -> AuditEvent | None:
    """The audit event of a run's trigger: who, through what and from which address."""
    return (
        AuditEvent.objects.filter(
            action="dag.trigger",
            outcome=AuditEvent.Outcome.SUCCEEDED,
            profile_slug=run.profile.slug,
            dag_id=run.dag_id,
            dag_run_id=run.dag_run_id,
        )
        .order_by("id")
        .first()
    )
