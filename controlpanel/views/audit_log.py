"""History for audit reviewers: every audit event, filtered, one by one, or as CSV.

Pages go by id (keyset), never OFFSET, so page 20,000 costs what page 1 costs; the CSV
streams rows from a server-side iterator, so a million events never sit in memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from controlpanel.models import AuditEvent, Team
from controlpanel.permissions import access_for
from controlpanel.views.listing import (
    filter_dates,
    keyset_page,
    parse_date,
    parse_int,
    query_without,
)

FILTERS = ("user", "team", "profile", "dag", "action", "outcome", "from", "to")
CSV_COLUMNS = [
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
    "hash",
]


def _reviewer(request: HttpRequest) -> None:
    """Audit reviewers and superusers only; to everyone else the page does not exist."""
    if not access_for(request.user).can_review_audit:
        raise Http404("No such page.")


def _filters(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "").strip() for key in FILTERS}


def filtered_events(params: dict[str, str]) -> QuerySet[AuditEvent]:
    """Audit events matching the filters; each filter uses an indexed column."""
    events = AuditEvent.objects.all()
    exact = {
        "user": "actor_username",
        "profile": "profile_slug",
        "dag": "dag_id",
        "action": "action",
        "outcome": "outcome",
    }
    for key, column in exact.items():
        if params.get(key):
            events = events.filter(**{column: params[key]})
    if params.get("team"):
        members = get_user_model().objects.filter(team_memberships__team__slug=params["team"])
        events = events.filter(actor_id__in=members.values("pk"))
    return filter_dates(
        events, "created_at", parse_date(params.get("from")), parse_date(params.get("to"))
    )


@login_required
@require_safe
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, 50 a page."""
    _reviewer(request)
    params = _filters(request)
    page = keyset_page(filtered_events(params), parse_int(request.GET.get("before")))
    context = {
        "events": page.items,
        "params": params,
        "next_query": query_without(request, "before", before=page.next_before)
        if page.next_before
        else "",
        "export_query": query_without(request, "before"),
        "outcomes": AuditEvent.Outcome.choices,
        "teams": Team.objects.order_by("name"),
        "paged": "before" in request.GET,
    }
    return render(request, "audit/list.html", context)


@login_required
@require_safe
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event with its payload and hashes."""
    _reviewer(request)
    event = get_object_or_404(AuditEvent, pk=pk)
    payload = json.dumps(event.payload, indent=2, sort_keys=True, default=str)
    return render(request, "audit/detail.html", {"event": event, "payload": payload})


class _Echo:
    """A file-like object whose write returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in events.order_by("id").iterator(chunk_size=2000):
        yield writer.writerow(_csv_values(event))


def _csv_values(event: AuditEvent) -> list[Any]:
    values: list[Any] = []
    for column in CSV_COLUMNS:
        value = getattr(event, column)
        if column == "payload":
            value = json.dumps(value, sort_keys=True, default=str)
        elif column == "created_at":
            value = value.isoformat()
        values.append(_safe_cell("" if value is None else value))
    return values


def _safe_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas (CSV injection): a leading = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@login_required
@require_safe
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trail as CSV, oldest first, streamed row by row."""
    _reviewer(request)
    events = filtered_events(_filters(request))
    response = StreamingHttpResponse(_csv_rows(events), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
