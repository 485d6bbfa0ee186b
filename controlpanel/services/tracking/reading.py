"""Reading one poll cycle's worth from Airflow: batch requests only, no database writes.

The active runs, the runs that ended since the last cycle, and the task instances of the
runs that can have changed; first reads of queued runs share the cycle's request budget.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from controlpanel.models import AirflowProfile, Dag, DagGrant, PollStatus, Run
from controlpanel.permissions import dags_granted_by
from dags_api import AirflowClient, HealthStatus
from dags_api import DagRun as AirflowRun
from dags_api import TaskInstance as AirflowTaskInstance

ACTIVE_STATES = ["queued", "running"]
FINISHED_STATES = ["success", "failed"]
RunKey = tuple[str, str]  # (dag_id, dag_run_id)

# Runs that ended a little before the previous cycle are read again: clocks differ.
FINISHED_MARGIN = timedelta(minutes=2)
DAG_FILTER_LIMIT = 100
# Task instances per page of Airflow's batch list, and the runs of a first, probing chunk.
PAGE_SIZE = 100
PROBE_RUNS = 10


@dataclass
class Observed:
    """What one cycle read from Airflow (no database writes yet)."""

    runs: dict[RunKey, AirflowRun] = field(default_factory=dict)
    task_instances: list[AirflowTaskInstance] = field(default_factory=list)
    # The runs whose task instances were read this cycle (the others did not move).
    task_runs: set[RunKey] = field(default_factory=set)
    # Queued runs never read, oldest first; those past the cycle's budget wait (deferred).
    first_reads: list[RunKey] = field(default_factory=list)
    deferred: set[RunKey] = field(default_factory=set)
    not_found: set[RunKey] = field(default_factory=set)
    health: HealthStatus | None = None
    tracked_since: dict[RunKey, datetime] = field(default_factory=dict)

    def waiting_since(self, key: RunKey) -> datetime | None:
        """When a run started waiting: Airflow's queued_at, which runs of paused DAGs lack,
        else when the panel started tracking it, else its logical date (or run_after)."""
        run = self.runs[key]
        return run.queued_at or self.tracked_since.get(key) or run.logical_date or run.run_after


def read_airflow(
    profile: AirflowProfile, client: AirflowClient, status: PollStatus, now: datetime
) -> Observed:
    """Read, with batch requests only, everything this cycle needs from Airflow."""
    counted_from = client.transport.request_count
    stored = _stored_runs(Run.objects.filter(profile=profile, is_finished=False))
    tracked = {key: row.created_at for key, row in stored.items()}
    adoptable: set[str] = set()
    if profile.track_external_runs:
        adoptable = set(granted_dags(profile).values_list("dag_id", flat=True))
    dag_ids = {dag_id for dag_id, _ in tracked} | adoptable
    observed = Observed(tracked_since=tracked)
    if not dag_ids:
        return observed

    def wanted(run: AirflowRun) -> bool:
        """Ours, or started elsewhere on a DAG some team is granted (when adopting)."""
        return (run.dag_id, run.dag_run_id) in tracked or run.dag_id in adoptable

    for run in client.list_dag_runs(dag_ids=_filter_or_none(dag_ids), states=ACTIVE_STATES):
        if wanted(run):
            observed.runs[(run.dag_id, run.dag_run_id)] = run
    missing = {key: created for key, created in tracked.items() if key not in observed.runs}
    if missing or profile.track_external_runs:
        only = dag_ids if profile.track_external_runs else {d for d, _ in missing}
        _read_finished(client, observed, missing, only, wanted, status, now)
    observed.not_found = set(missing) - set(observed.runs)
    _read_task_instances(profile, client, observed, stored)
    spent = client.transport.request_count - counted_from
    _read_first_task_instances(client, observed, stored, request_budget(len(observed.runs)) - spent)
    if any(waited_too_long(observed, key, now) for key in observed.runs):
        observed.health = client.health()
    return observed


def granted_dags(profile: AirflowProfile) -> QuerySet[Dag]:
    """The profile's catalog DAGs that at least one team holds a grant on.

    The poller adopts runs started outside the panel for these DAGs only: what no team
    may see is not worth tracking. Which DAGs a grant selects is the permissions' rule.
    """
    grants = list(DagGrant.objects.filter(profile=profile))
    if not grants:
        return Dag.objects.none()
    return Dag.objects.filter(dags_granted_by(grants))


@dataclass(frozen=True)
class StoredRun:
    """What the panel last stored of a run: enough to tell whether Airflow's copy moved."""

    created_at: datetime
    state: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    polled: bool
    finished: bool


def _stored_runs(rows: QuerySet[Run]) -> dict[RunKey, StoredRun]:
    fields = ["created_at", "state", "queued_at", "start_date", "end_date", "last_polled_at"]
    return {
        (dag_id, run_id): StoredRun(
            created, state, queued, start, end, polled=polled is not None, finished=finished
        )
        for dag_id, run_id, created, state, queued, start, end, polled, finished in (
            rows.values_list("dag_id", "dag_run_id", *fields, "is_finished")
        )
    }


def _may_have_changed(run: AirflowRun, stored: StoredRun | None) -> bool:
    """Whether a run's task instances can differ from what the panel stored.

    Running runs move all the time; a run new to the panel gets its first read, one that
    ended its last (even when the panel already wrote the end it asked for), and one cleared
    or started since our row was written shows it in its state or dates. A queued run that
    kept its state and dates has task instances without state: nothing to read again.
    """
    if stored is None or not stored.polled or run.state == "running":
        return True
    if run.state in FINISHED_STATES and not stored.finished:
        return True
    return (run.state, run.queued_at, run.start_date, run.end_date) != (
        stored.state,
        stored.queued_at,
        stored.start_date,
        stored.end_date,
    )


def _read_task_instances(
    profile: AirflowProfile,
    client: AirflowClient,
    observed: Observed,
    stored: dict[RunKey, StoredRun],
) -> None:
    """Read the task instances of the observed runs that can have changed, in batches."""
    others = set(observed.runs) - set(stored)
    if others:  # finished in the panel, or new to it: compare with what we have, if anything
        rows = Run.objects.filter(profile=profile, dag_run_id__in={r for _, r in others})
        stored = {**stored, **{k: v for k, v in _stored_runs(rows).items() if k in others}}
    observed.first_reads = sorted(
        (key for key, run in observed.runs.items() if _first_read_of_queued(run, stored.get(key))),
        key=lambda key: observed.tracked_since.get(key) or _queued_since(observed.runs[key]),
    )
    due = {
        key
        for key, run in observed.runs.items()
        if _may_have_changed(run, stored.get(key)) and key not in observed.first_reads
    }
    _read_batch(client, observed, due)


def request_budget(active_runs: int) -> int:
    """Airflow requests one cycle may make for ``active_runs`` runs: 2 x ceil(N / 100) + 1."""
    return 2 * math.ceil(active_runs / 100) + 1


def _first_read_of_queued(run: AirflowRun, stored: StoredRun | None) -> bool:
    """A queued run never read: its task instances have no state yet, so it can wait."""
    return run.state == "queued" and (stored is None or not stored.polled)


def _queued_since(run: AirflowRun) -> datetime:
    """Sort key of a run the panel does not track yet: when Airflow queued or planned it."""
    return run.queued_at or run.logical_date or run.run_after or datetime.max.replace(tzinfo=UTC)


def _read_first_task_instances(
    client: AirflowClient, observed: Observed, stored: dict[RunKey, StoredRun], budget: int
) -> None:
    """First reads of queued runs, oldest first, as far as ``budget`` requests go.

    Chunks are sized from the task instances per run seen so far (a first chunk of
    ``PROBE_RUNS`` when nothing is known), so a chunk costs about one request. One chunk
    is read even when the run list used the whole budget, so first reads never starve.
    """
    pending = list(observed.first_reads)
    budget = max(budget, 1)  # a run list longer than the budget still lets one chunk through
    while pending and budget > 0:
        per_run = _task_instances_per_run(observed)
        size = PROBE_RUNS if per_run is None else max(1, PAGE_SIZE // per_run)
        chunk, pending = pending[:size], pending[size:]
        before = client.transport.request_count
        _read_batch(client, observed, set(chunk))
        budget -= client.transport.request_count - before
    observed.deferred = set(pending)


def _task_instances_per_run(observed: Observed) -> int | None:
    """The most task instances one run had among the runs read this cycle (None: none read)."""
    if not observed.task_runs:
        return None
    counts = Counter((ti.dag_id, ti.dag_run_id) for ti in observed.task_instances)
    return max(counts.values(), default=1)


def _read_batch(client: AirflowClient, observed: Observed, keys: set[RunKey]) -> None:
    """Read the task instances of the runs ``keys`` and note them as read."""
    if not keys:
        return
    observed.task_instances += [
        ti
        for ti in client.list_task_instances_batch(
            dag_ids=_filter_or_none({d for d, _ in keys}),
            dag_run_ids=sorted({r for _, r in keys}),
        )
        if (ti.dag_id, ti.dag_run_id) in keys
    ]
    observed.task_runs |= keys


def _read_finished(
    client: AirflowClient,
    observed: Observed,
    missing: dict[RunKey, datetime],
    dag_ids: set[str],
    wanted: Callable[[AirflowRun], bool],
    status: PollStatus,
    now: datetime,
) -> None:
    """Runs that ended since the last cycle: tracked ones gone from the active list, and
    (when tracking runs started elsewhere) ones that started and ended between cycles."""
    since = (status.last_success_at or now) - FINISHED_MARGIN
    if missing:
        since = min(since, min(missing.values()) - FINISHED_MARGIN)
    for run in client.list_dag_runs(
        dag_ids=_filter_or_none(dag_ids), states=FINISHED_STATES, end_date_gte=since
    ):
        key = (run.dag_id, run.dag_run_id)
        if key not in observed.runs and wanted(run):
            observed.runs[key] = run


def _filter_or_none(values: set[str]) -> list[str] | None:
    """An id filter for Airflow, or None (no filter) when it would be too long."""
    return sorted(values) if len(values) <= DAG_FILTER_LIMIT else None


def waited_too_long(observed: Observed, key: RunKey, now: datetime) -> bool:
    since = observed.waiting_since(key)
    threshold = timedelta(seconds=settings.STALE_RUN_SECONDS)
    return observed.runs[key].state == "queued" and since is not None and now - since > threshold
