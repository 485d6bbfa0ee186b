"""Reads shared by the web pages and the API (the writes live in ``services``).

Each list the UI and the API both show is answered here once, so the page and the API
answer the same question the same way: the catalog of DAGs, runs, the audit trail.
"""

from controlpanel.selectors.audit import (
    AUDIT_CSV_COLUMNS,
    EventRow,
    action_choices,
    audit_csv_lines,
    audit_events,
    event_rows,
    events_before,
)
from controlpanel.selectors.catalog import (
    DagFilters,
    catalog_dags,
    catalog_tags,
    dag_of,
    last_runs,
    newest_run,
)
from controlpanel.selectors.runs import (
    RunFilters,
    RunScope,
    run_timeline,
    runs_for,
    visible_run,
)

__all__ = [
    "AUDIT_CSV_COLUMNS",
    "DagFilters",
    "EventRow",
    "RunFilters",
    "RunScope",
    "action_choices",
    "audit_csv_lines",
    "audit_events",
    "catalog_dags",
    "catalog_tags",
    "dag_of",
    "event_rows",
    "events_before",
    "last_runs",
    "newest_run",
    "run_timeline",
    "runs_for",
    "visible_run",
]
