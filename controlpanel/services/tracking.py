"""Polling Airflow for the runs the panel tracks, and keeping their history.

One cycle per profile: read every active run with the batch endpoint (one request per 100
runs), the runs that finished since the last cycle (one more), and the task instances of
only the runs that can have changed (one request per 100 task instances): running ones,
ones whose state or dates moved since our stored row, and each run's first and last read.
A queued run that did not move costs nothing more; the first reads of queued runs share
what is left of the cycle's budget (``request_budget``), oldest first, and wait for the
next cycle beyond it, so a thousand runs appearing at once cost no more than a thousand
runs did already. Then write, in one transaction, only
the rows that changed plus one ``StateChange`` per observed change. A worker killed
mid-cycle leaves nothing half-written: the transaction rolls back and the next cycle
catches up.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from controlpanel import metrics
from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag, PollStatus, Run, StateChange, TaskInstance
from controlpanel.permissions import granted_dags
from controlpanel.services import notifications
from dags_api import AirflowClient, AirflowError, HealthStatus
from dags_api import DagRun as AirflowRun
from dags_api import TaskInstance as AirflowTaskInstance

ACTIVE_STATES = ["queued", "running"]
FINISHED_STATES = ["success", "failed"]
RunKey = tuple[str, str]  # (dag_id, dag_run_id)

# Runs that ended a little before the previous cycle are read again: clocks differ.
FINISHED_MARGIN = timedelta(minutes=2)
MISSING_POLLS_BEFORE_GIVING_UP = 3
DAG_FILTER_LIMIT = 100
# Task instances per page of Airflow's batch list, and the runs of a first, probing chunk.
PAGE_SIZE = 100
PROBE_RUNS = 10

STALE_SCHEDULER_DOWN = "The Airflow scheduler appears to be down."
STALE_DAG_PAUSED = "The DAG is paused: the run waits until someone unpauses it."
STALE_WAITING = "Waiting for the Airflow scheduler to start it."
GONE_FROM_AIRFLOW = "Airflow no longer has this run (it was deleted there)."


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


@dataclass
class PollCycle:
    """What one poll of one profile did, for logs, metrics and the benchmark."""

    profile_slug: str
    requests: int = 0
    runs_seen: int = 0
    rows_written: int = 0
    seconds: float = 0.0
    skipped: str = ""
    error: str = ""
    # Notifications of runs that ended, committed with the cycle: the caller queues them.
    deliveries: list[int] = field(default_factory=list)


def poll_profile(profile: AirflowProfile) -> PollCycle:
    """One poll cycle for one profile, respecting its back-off after failures (and metered).

    The notifications of runs that ended are written, not sent: queue ``cycle.deliveries``.
    """
    started = time.monotonic()
    cycle = _poll_cycle(profile)
    outcome = "skipped" if cycle.skipped else "failed" if cycle.error else "ok"
    metrics.record_poll_cycle(profile.slug, outcome, time.monotonic() - started)
    return cycle


def _poll_cycle(profile: AirflowProfile) -> PollCycle:
    started = time.monotonic()
    now = timezone.now()
    status, _ = PollStatus.objects.get_or_create(profile=profile)
    cycle = PollCycle(profile.slug)
    if status.backoff_until and status.backoff_until > now:
        cycle.skipped = f"backing off until {status.backoff_until.isoformat()}"
        return cycle
    client = client_for(profile)
    counted_from = client.transport.request_count
    try:
        observed = read_airflow(profile, client, status, now)
    except AirflowError as exc:
        cycle.requests = client.transport.request_count - counted_from
        cycle.error = exc.user_message
        _record_failure(status, exc, now)
        return cycle
    cycle.requests = client.transport.request_count - counted_from
    cycle.runs_seen = len(observed.runs)
    try:
        with transaction.atomic():
            cycle.rows_written, cycle.deliveries = apply_observed(profile, observed, now)
            _remember_api_version(profile, client)
            cycle.seconds = time.monotonic() - started
            _record_success(status, cycle, observed, now)
    except IntegrityError as exc:
        # A trigger committed the same run between our read and our write: nothing was
        # written, and the next cycle sees the run as ours.
        cycle.rows_written, cycle.deliveries = 0, []
        cycle.error = f"skipped writing this cycle: {exc}"
    return cycle


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
    if any(_waited_too_long(observed, key, now) for key in observed.runs):
        observed.health = client.health()
    return observed


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
        key=lambda key: observed.tracked_since.get(key) or now_or_never(observed.runs[key]),
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


def now_or_never(run: AirflowRun) -> datetime:
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


def _waited_too_long(observed: Observed, key: RunKey, now: datetime) -> bool:
    since = observed.waiting_since(key)
    threshold = timedelta(seconds=settings.STALE_RUN_SECONDS)
    return observed.runs[key].state == "queued" and since is not None and now - since > threshold


def apply_observed(
    profile: AirflowProfile, observed: Observed, now: datetime
) -> tuple[int, list[int]]:
    """Write what changed; returns the rows inserted or updated and the new deliveries' ids.

    Runs that just ended are handed to the notifications in this same transaction; their
    deliveries are sent only after it commits, by whoever called the poll.
    """
    rows = _known_runs(profile, set(observed.runs) | observed.not_found)
    finished_before = {key: row.is_finished for key, row in rows.items()}
    written = _write_runs(profile, observed, rows, now)
    written += _write_task_instances(observed, rows, now)
    written += _write_missing(observed.not_found, rows)
    deliveries = notifications.notify_run_endings(profile, rows, finished_before, now)
    return written, deliveries


def _known_runs(profile: AirflowProfile, keys: set[RunKey]) -> dict[RunKey, Run]:
    if not keys:
        return {}
    candidates = Run.objects.filter(profile=profile, dag_run_id__in={r for _, r in keys})
    return {(r.dag_id, r.dag_run_id): r for r in candidates if (r.dag_id, r.dag_run_id) in keys}


def _run_values(run: AirflowRun) -> dict[str, Any]:
    return {
        "state": run.state,
        "queued_at": run.queued_at,
        "start_date": run.start_date,
        "end_date": run.end_date,
        "logical_date": run.logical_date,
        "is_finished": run.state in FINISHED_STATES,
        "missing_polls": 0,
    }


def _write_runs(
    profile: AirflowProfile, observed: Observed, rows: dict[RunKey, Run], now: datetime
) -> int:
    """Create runs seen for the first time, update changed ones, record state changes."""
    paused = set(
        Dag.objects.filter(profile=profile, is_paused=True).values_list("dag_id", flat=True)
    )
    written, changes = 0, []
    for key, seen in observed.runs.items():
        values = _run_values(seen)
        values["stale_reason"] = _stale_reason(observed, key, key[0] in paused, now)
        row = rows.get(key)
        if row is None:
            row = Run.objects.create(
                profile=profile,
                dag_id=seen.dag_id,
                dag_run_id=seen.dag_run_id,
                conf=seen.conf,
                note=seen.note or "",
                source=Run.Source.AIRFLOW,
                last_polled_at=None if key in observed.deferred else now,
                **values,
            )
            rows[key] = row
            changes.append(StateChange(run=row, to_state=seen.state, observed_at=now))
            written += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if row.last_polled_at is None and key in observed.task_runs:
            changed["last_polled_at"] = now  # its first read: from now on compared, not read
        if not changed:
            continue
        if "state" in changed:
            changes.append(
                StateChange(run=row, from_state=row.state, to_state=seen.state, observed_at=now)
            )
        if key not in observed.deferred:
            changed.setdefault("last_polled_at", now)
        Run.objects.filter(pk=row.pk).update(updated_at=now, **changed)
        for name, value in changed.items():
            setattr(row, name, value)
        written += 1
    StateChange.objects.bulk_create(changes)
    return written + len(changes)


def _stale_reason(observed: Observed, key: RunKey, dag_paused: bool, now: datetime) -> str:
    """Why a run has been queued too long, in plain words ("" when it is not)."""
    if not _waited_too_long(observed, key, now):
        return ""
    if observed.health is not None and not observed.health.scheduler_healthy:
        return STALE_SCHEDULER_DOWN
    if dag_paused:
        return STALE_DAG_PAUSED
    return STALE_WAITING


TASK_INSTANCE_FIELDS = ["try_number", "state", "operator", "start_date", "end_date", "duration"]
UPDATED_TASK_INSTANCE_FIELDS = [*TASK_INSTANCE_FIELDS, "updated_at"]


def _ti_values(ti: AirflowTaskInstance) -> dict[str, Any]:
    return {
        "try_number": ti.try_number,
        "state": ti.state or "",
        "operator": ti.operator or "",
        "start_date": ti.start_date,
        "end_date": ti.end_date,
        "duration": ti.duration,
    }


def _write_task_instances(observed: Observed, rows: dict[RunKey, Run], now: datetime) -> int:
    """Mirror the task instances read this cycle: insert, update, delete; record changes.

    Only the runs in ``observed.task_runs`` were read; the others keep their rows. A mapped
    task first shows as one placeholder (map index -1) that Airflow replaces with the
    mapped instances; rows Airflow no longer lists are deleted (their changes stay).
    """
    run_ids = {rows[key].pk for key in observed.task_runs}
    known = {
        (t.run_id, t.task_id, t.map_index): t
        for t in TaskInstance.objects.filter(run_id__in=run_ids)
    }
    new, changed_rows, changes, seen_keys = [], [], [], set()
    for ti in observed.task_instances:
        run = rows[(ti.dag_id, ti.dag_run_id)]
        values = _ti_values(ti)
        seen_keys.add((run.pk, ti.task_id, ti.map_index))
        row = known.get((run.pk, ti.task_id, ti.map_index))
        if row is None:
            new.append(TaskInstance(run=run, task_id=ti.task_id, map_index=ti.map_index, **values))
            if values["state"]:
                changes.append(_task_change(run, ti, "", now))
            continue
        if all(getattr(row, k) == v for k, v in values.items()):
            continue
        if (row.state, row.try_number) != (values["state"], values["try_number"]):
            same_try = row.try_number == ti.try_number
            changes.append(_task_change(run, ti, row.state if same_try else "", now))
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now  # bulk_update skips auto_now
        changed_rows.append(row)
    gone = [row.pk for key, row in known.items() if key not in seen_keys]
    TaskInstance.objects.filter(pk__in=gone).delete()
    TaskInstance.objects.bulk_create(new)
    TaskInstance.objects.bulk_update(changed_rows, UPDATED_TASK_INSTANCE_FIELDS)
    StateChange.objects.bulk_create(changes)
    return len(new) + len(changed_rows) + len(changes) + len(gone)


def _task_change(run: Run, ti: AirflowTaskInstance, from_state: str, now: datetime) -> StateChange:
    return StateChange(
        run=run,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
        from_state=from_state,
        to_state=ti.state or "",
        observed_at=now,
    )


def _write_missing(not_found: set[RunKey], rows: dict[RunKey, Run]) -> int:
    """Runs we track that Airflow no longer lists: give up on them after a few cycles."""
    written = 0
    for key in not_found:
        row = rows.get(key)
        if row is None:
            continue
        row.missing_polls += 1
        if row.missing_polls >= MISSING_POLLS_BEFORE_GIVING_UP:
            row.is_finished, row.stale_reason = True, GONE_FROM_AIRFLOW
        Run.objects.filter(pk=row.pk).update(
            missing_polls=row.missing_polls,
            is_finished=row.is_finished,
            stale_reason=row.stale_reason,
        )
        written += 1
    return written


def _remember_api_version(profile: AirflowProfile, client: AirflowClient) -> None:
    """A profile set to "detect" keeps what the client found (links to Airflow's UI use it)."""
    known = client.known_api_version
    if profile.api_version == AirflowProfile.ApiVersion.AUTO and known is not None:
        AirflowProfile.objects.filter(pk=profile.pk, api_version=profile.api_version).update(
            api_version=known
        )
        profile.api_version = known


def _record_success(
    status: PollStatus, cycle: PollCycle, observed: Observed, now: datetime
) -> None:
    status.last_success_at = status.last_attempt_at = now
    status.consecutive_failures = 0
    status.backoff_until = None
    status.last_error = ""
    status.last_cycle_seconds = cycle.seconds
    status.last_cycle_requests = cycle.requests
    status.last_cycle_rows_written = cycle.rows_written
    if observed.health is not None:
        status.scheduler_healthy = observed.health.scheduler_healthy
    status.save()


def _record_failure(status: PollStatus, exc: AirflowError, now: datetime) -> None:
    """Back off this profile only: 5 s, 10 s, 20 s ... up to POLL_BACKOFF_MAX_SECONDS."""
    status.consecutive_failures += 1
    delay = min(settings.POLL_BACKOFF_MAX_SECONDS, 5 * 2 ** (status.consecutive_failures - 1))
    status.backoff_until = now + timedelta(seconds=delay)
    status.last_attempt_at = now
    status.last_error = exc.user_message
    status.save()
