"""Helpers shared by the list pages: state words, date filters, query strings.

``day_start`` and ``filter_dates`` live with the reads (controlpanel.selectors.dates), and
so do keyset pages (controlpanel.selectors.pages, also named here for the list views).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from controlpanel.models import AuditEvent
from controlpanel.selectors.history import FINISHED_STATES
from controlpanel.selectors.pages import PAGE_SIZE as PAGE_SIZE
from controlpanel.selectors.pages import KeysetPage as KeysetPage
from controlpanel.selectors.pages import first_page as first_page
from controlpanel.selectors.pages import keyset_page as keyset_page

# What a state means, in words: colour only reinforces it. The one list of state words:
# badges, the run page's task table and its timeline all read it.
STATE_WORDS = {
    "queued": "Queued",
    "running": "Running",
    "success": "Succeeded",
    "failed": "Failed",
    "upstream_failed": "Skipped: an upstream task failed",
    "skipped": "Skipped",
    "scheduled": "Scheduled",
    "up_for_retry": "Waiting to retry",
    "up_for_reschedule": "Waiting to be rescheduled",
    "deferred": "Deferred (waiting for a trigger)",
    "restarting": "Restarting",
    "removed": "Removed from the DAG",
    "": "Not started yet",
}
STATE_CSS = {
    "success": "state-success",
    "failed": "state-failed",
    "upstream_failed": "state-failed",
    "up_for_retry": "state-queued",
    "running": "state-running",
    "restarting": "state-running",
    "deferred": "state-running",
    "queued": "state-queued",
    "scheduled": "state-queued",
    "up_for_reschedule": "state-queued",
}
# An audit event's outcome: succeeded, failed, or denied (shown like a waiting state).
OUTCOME_CSS = {"succeeded": "state-success", "failed": "state-failed"}
RUN_STATE_EXPLANATIONS = {
    "queued": "Waiting for the Airflow scheduler to start it.",
    "running": "Airflow is working on its tasks.",
    "success": "Every task finished.",
    "failed": "At least one task failed; the failed tasks are listed first below.",
}
RUN_STATES = ("queued", "running", "success", "failed")
FINISHED_RUN_STATES = FINISHED_STATES  # the one list, kept where run history reads it


@dataclass(frozen=True)
class Badge:
    """A state as the page shows it: words, and a colour class that only reinforces them."""

    state: str
    label: str
    css: str


def badge(state: str | None) -> Badge:
    """The badge of a run or task state (unknown states keep their own name)."""
    value = state or ""
    return Badge(
        value,
        STATE_WORDS.get(value, value.replace("_", " ").capitalize()),
        STATE_CSS.get(value, "state-other"),
    )


def outcome_badge(event: AuditEvent) -> Badge:
    """The badge of an audit event's outcome, in the words of its choices."""
    css = OUTCOME_CSS.get(event.outcome, "state-queued")
    return Badge(event.outcome, event.get_outcome_display(), css)


def parse_date(text: str | None) -> date | None:
    """A YYYY-MM-DD filter value, or None when empty or malformed."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def parse_int(text: str | None) -> int | None:
    """A positive integer query parameter, or None (also past a 64-bit database column)."""
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 19 else None


def query_without(request: HttpRequest, *names: str, **extra: Any) -> str:
    """The current query string without ``names`` and with ``extra``, for links."""
    pairs = [(k, v) for k, values in request.GET.lists() for v in values if k not in names]
    pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
    return urlencode(pairs)
