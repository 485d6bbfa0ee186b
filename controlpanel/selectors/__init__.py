"""Reads shared by the web pages and the API (the writes live in ``services``).

Each list the UI and the API both show is answered here once, so the page and the API
answer the same question the same way: the catalog of DAGs, runs, the audit trail.
"""

from controlpanel.selectors.audit import (
    AUDIT_CSV_COLUMNS,
    audit_csv_lines,
    audit_events,
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
    "RunFilters",
    "RunScope",
    "audit_csv_lines",
    "audit_events",
    "catalog_dags",
    "catalog_tags",
    "dag_of",
    "events_before",
    "last_runs",
    "newest_run",
    "run_timeline",
    "runs_for",
    "visible_run",
]
