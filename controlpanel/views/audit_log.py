"""History for audit reviewers: every audit event, filtered, one by one, or as CSV.

Pages go by (created_at, id) (keyset), never OFFSET, so page 20,000 of any filter or date
range costs what page 1 costs; the CSV streams keyset batches of rows, so a million events
never sit in memory.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from controlpanel.models import AuditEvent
from controlpanel.permissions import access_for
from controlpanel.selectors import (
    action_choices,
    audit_csv_lines,
    audit_events,
    event_rows,
    events_before,
)
from controlpanel.selectors.audit import audit_event
from controlpanel.selectors.dates import day_start
from controlpanel.selectors.pages import first_page
from controlpanel.selectors.teams import teams_by_name
from controlpanel.views.listing import parse_date, parse_int, query_without

FILTERS = ("user", "team", "profile", "dag", "run", "action", "outcome", "from", "to")


def _reviewer(request: HttpRequest) -> None:
    """Audit reviewers and superusers only; everyone else is told who may read it (403)."""
    access_for(request.user).require_audit_review()


def _filters(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "").strip() for key in FILTERS}


def filtered_events(params: dict[str, str]) -> QuerySet[AuditEvent]:
    """Audit events matching the page's filters (dates are whole days, inclusive)."""
    start, end = parse_date(params.get("from")), parse_date(params.get("to"))
    return audit_events(
        actor=params.get("user", ""),
        team=params.get("team", ""),
        profile=params.get("profile", ""),
        dag_id=params.get("dag", ""),
        dag_run_id=params.get("run", ""),
        action=params.get("action", ""),
        outcome=params.get("outcome", ""),
        since=day_start(start) if start else None,
        until=day_start(end + timedelta(days=1)) if end else None,
    )


@login_required
@require_safe
def audit_list(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, 50 a page."""
    _reviewer(request)
    params = _filters(request)
    events, before = filtered_events(params), parse_int(request.GET.get("before"))
    page = first_page(events if before is None else events_before(events, before))
    context = {
        "rows": event_rows(page.items, access_for(request.user)),
        "actions": action_choices(params["action"]),
        "params": params,
        "next_query": query_without(request, "before", before=page.next_before)
        if page.next_before
        else "",
        "export_query": query_without(request, "before"),
        "outcomes": AuditEvent.Outcome.choices,
        "teams": teams_by_name(),
        "paged": "before" in request.GET,
    }
    return render(request, "audit/list.html", context)


@login_required
@require_safe
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event with its payload and hashes."""
    _reviewer(request)
    event = audit_event(pk)
    payload = json.dumps(event.payload, indent=2, sort_keys=True, default=str)
    (row,) = event_rows([event], access_for(request.user))
    return render(request, "audit/detail.html", {"event": event, "row": row, "payload": payload})


@login_required
@require_safe
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trail as CSV, oldest first, streamed a thousand rows at a time."""
    _reviewer(request)
    events = filtered_events(_filters(request))
    response = StreamingHttpResponse(
        audit_csv_lines(events), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
